"""The LM head split along the vocabulary (``ModelConfig.head_chunk``): its derived backward against torch autograd,
and a small model with a chunked head, tied or untied, trained step for step like PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import anekit
from anekit import autodiff, mil
from anekit.train import ModelConfig, TrainConfig, Trainer, head_program, pydoc_topics_bytes
from anekit.train.kernels import head_feeds
from anekit.train.model import head_inputs, head_outputs, init_params

#: 256 byte tokens in chunks of at most 96 rows: 3 chunks of 86, 85 and 85 (unequal sizes on purpose).
CHUNKED = ModelConfig(dim=64, layers=2, heads=4, kv_heads=2, hidden=128, seq=32, head_chunk=96)
TOKENS = pydoc_topics_bytes()


def test_the_head_is_split_into_chunks_of_at_most_head_chunk_rows() -> None:
    assert CHUNKED.head_chunks == [(0, 86), (86, 85), (171, 85)]
    prog = head_program(CHUNKED)
    fn = prog.functions["main"]
    assert list(fn.inputs) == ["x", *head_inputs(CHUNKED)] == ["x", "norm", "output_0", "output_1", "output_2"]
    assert [v.name for v in fn.outputs] == list(head_outputs(CHUNKED))
    assert not [d for d in mil.validate(prog, "ane") if d.severity == "error"]
    # Stories110M's 32000-token head: two chunks within the ANE's channel limit.
    assert ModelConfig(vocab_size=32000, dim=768, heads=12, kv_heads=12, hidden=2048, seq=256).head_chunks == [
        (0, 16000),
        (16000, 16000),
    ]


@pytest.mark.parametrize("tied", [False, True])
def test_chunked_head_backward_matches_torch_autograd(tied: bool) -> None:
    torch = pytest.importorskip("torch")
    model = ModelConfig(**{**CHUNKED.as_dict(), "tie_embeddings": tied})
    params = init_params(model, 3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, model.dim, 1, model.seq)).astype(np.float16).astype(np.float32)
    cot = rng.standard_normal((model.vocab_size, model.seq)).astype(np.float16).astype(np.float32)
    grad = autodiff.vjp(head_program(model), wrt=["x", *head_inputs(model)])
    feeds = {"x": x, **head_feeds(model, params)}
    for i, (start, n) in enumerate(model.head_chunks):
        feeds[f"grad_logits_{i}"] = cot[start : start + n].reshape(1, n, 1, model.seq)
    got = anekit.reference.run(grad.backward, feeds)

    f64 = torch.float64
    tx = torch.tensor(x.reshape(model.dim, model.seq).T, dtype=f64, requires_grad=True)  # [S, dim]
    tg = torch.tensor(params["norm"], dtype=f64, requires_grad=True)
    tw = torch.tensor(params[model.head_weight], dtype=f64, requires_grad=True)  # [V, dim]
    h = tx * torch.rsqrt(tx.pow(2).mean(-1, keepdim=True) + model.eps) * tg
    (h @ tw.T).backward(torch.tensor(cot.T, dtype=f64))

    def close(a: np.ndarray, want: np.ndarray) -> None:
        np.testing.assert_allclose(a, want, atol=2e-2 * np.max(np.abs(want)))

    close(got["grad_x"].reshape(model.dim, model.seq), tx.grad.numpy().T)
    close(got["grad_norm"].reshape(-1), tg.grad.numpy())
    for i, (start, n) in enumerate(model.head_chunks):  # each chunk's weight gradient from its own cotangent
        close(got[f"grad_output_{i}"].reshape(model.dim, n), tw.grad.numpy()[start : start + n].T)


@pytest.mark.parametrize("tied", [False, True])
def test_a_chunked_head_trains_step_for_step_like_pytorch(tied: bool) -> None:
    pytest.importorskip("torch")
    from _torch_run import run_beside_torch

    model = ModelConfig(**{**CHUNKED.as_dict(), "tie_embeddings": tied})
    assert ("output" in model.param_shapes()) is not tied
    trainer, oracle, diffs = run_beside_torch(model, TrainConfig(accum=2, seed=5), TOKENS, 8)
    assert max(diffs) < 0.01, diffs
    assert trainer.history[-1].loss < trainer.history[0].loss - 0.3  # it learns
    # The weights themselves track PyTorch's (a wrong chunk offset would train the wrong rows).
    want = oracle.params[model.head_weight].detach().numpy()
    np.testing.assert_allclose(trainer.params[model.head_weight], want, atol=2e-3)


def test_initial_loss_predicts_a_fresh_wide_model() -> None:
    # The train bench suite checks Stories110M's first loss against ModelConfig.initial_loss; ln(vocab) alone is
    # off by INIT_STD^2 * dim / 2 (0.15 at dim 768), more than the suite's tolerance of 0.1.
    model = ModelConfig(vocab_size=4096, dim=1024, layers=1, heads=8, kv_heads=8, hidden=256, seq=128, head_chunk=2048)
    first = Trainer(model, TrainConfig(accum=2, seed=0), np.arange(20000) % 4096, backend="reference").step().loss
    assert abs(first - model.initial_loss()) < 0.06, (first, model.initial_loss())
    assert abs(first - np.log(4096)) > 0.15
