"""The trainable model's programs: forward kernels (weights as inputs) against the PyTorch oracle's fp32 model."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import anekit
from anekit import mil
from anekit.train import ModelConfig, TrainConfig, head_program, layer_program
from anekit.train.data import BatchSampler, pydoc_topics_bytes
from anekit.train.kernels import head_feeds
from anekit.train.loss import cross_entropy
from anekit.train.model import LAYER_WEIGHTS, from_input, init_params, rope_inputs, to_input

SMALL = ModelConfig(dim=64, layers=2, heads=4, kv_heads=2, hidden=128, seq=32)


def test_programs_validate_without_errors_and_take_weights_as_inputs() -> None:
    for prog in (layer_program(SMALL), head_program(SMALL)):
        assert not [d for d in mil.validate(prog, "ane") if d.severity == "error"]
    names = list(layer_program(SMALL).functions["main"].inputs)
    assert names == ["x", "cos", "sin", *LAYER_WEIGHTS]


def test_input_layouts_round_trip() -> None:
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert to_input(w).shape == (1, 4, 1, 3)
    np.testing.assert_array_equal(from_input(to_input(w), w.shape), w)
    g = np.arange(64, dtype=np.float32)
    assert to_input(g).shape == (1, 1, 1, 64)
    np.testing.assert_array_equal(from_input(to_input(g), g.shape), g)


def test_forward_kernels_give_the_torch_loss() -> None:
    pytest.importorskip("torch")
    from anekit.train.torch_oracle import TorchTrainer

    tokens = pydoc_topics_bytes()
    config = TrainConfig(seed=4)
    oracle = TorchTrainer(SMALL, config, tokens)
    inputs, targets = BatchSampler(tokens, SMALL.seq, config.seed + 1).next()
    want = float(oracle.loss(inputs, targets).detach())

    params = init_params(SMALL, config.seed)
    layer = anekit.compile(layer_program(SMALL), backend="reference")
    head = anekit.compile(head_program(SMALL), backend="reference")
    x = params["tok_embeddings"][inputs].T.reshape(1, SMALL.dim, 1, SMALL.seq)
    for i in range(SMALL.layers):
        feeds = {n: to_input(params[f"layers.{i}.{n}"]) for n in LAYER_WEIGHTS}
        x = layer(x=x, **rope_inputs(SMALL), **feeds)["y"]
    logits = head(x=x, **head_feeds(SMALL, params))["logits_0"]
    got, _ = cross_entropy(logits.reshape(SMALL.vocab_size, SMALL.seq).T, targets)
    assert got == pytest.approx(want, abs=5e-3), (got, want)


def test_config_checks() -> None:
    with pytest.raises(ValueError, match="multiple of 32"):
        ModelConfig(seq=100)
    with pytest.raises(ValueError, match="kv_heads"):
        ModelConfig(heads=8, kv_heads=3)
    with pytest.raises(TypeError, match="ModelConfig"):
        init_params("small", 0)  # type: ignore[arg-type]


def _norm_program(norm: Callable[..., mil.Var], c: int = 256, s: int = 32) -> mil.Program:
    mb = mil.Builder("ios18")
    x = mb.input("x", mil.tensor((1, c, 1, s), "fp16"))
    return mb.build({"y": norm(mb, x, np.ones(c, np.float32), 1e-5)})


def test_rms_norm_trainable_matches_rms_norm_where_its_sum_of_squares_would_overflow() -> None:
    from anekit import nn

    rng = np.random.default_rng(0)
    for scale in (0.02, 1.0, 60.0):  # 60: sum over 256 channels of x^2 is ~9e5, far beyond fp16
        x = (rng.standard_normal((1, 256, 1, 32)) * scale).astype(np.float32)
        want = x / np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=1, keepdims=True) + 1e-5)
        got = anekit.reference.run(_norm_program(nn.rms_norm_trainable), {"x": x})["y"]
        np.testing.assert_allclose(got, want, atol=1e-2 * np.max(np.abs(want)))


def test_rms_norm_trainable_backward_stays_finite_for_small_activations() -> None:
    torch = pytest.importorskip("torch")
    from anekit import autodiff, nn

    rng = np.random.default_rng(1)
    x = (rng.standard_normal((1, 256, 1, 32)) * 0.02).astype(np.float16).astype(np.float32)  # a fresh embedding
    g = rng.standard_normal((1, 256, 1, 32)).astype(np.float32)
    backward = autodiff.vjp(_norm_program(nn.rms_norm_trainable), wrt=["x"]).backward
    got = anekit.reference.run(backward, {"x": x, "grad_y": g})["grad_x"]
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (t * torch.rsqrt(t.pow(2).mean(1, keepdim=True) + 1e-5)).backward(torch.tensor(g, dtype=torch.float64))
    want = t.grad.numpy()
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, atol=2e-2 * np.max(np.abs(want)))
