"""The training loop: PyTorch agreement, no compiles after the first step, loss scaling, checkpoints, the fake
framework."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import anekit
from anekit import config
from anekit.budget import UnexpectedCompileError
from anekit.errors import TrainingError
from anekit.train import ModelConfig, TrainConfig, Trainer, pydoc_topics_bytes

SMALL = ModelConfig(dim=64, layers=2, heads=4, kv_heads=2, hidden=128, seq=32)
TOKENS = pydoc_topics_bytes()


def _losses(trainer: Trainer, steps: int) -> list[float]:
    return [trainer.step().loss for _ in range(steps)]


def test_steps_follow_pytorch_and_accumulate_micro_batches() -> None:
    pytest.importorskip("torch")
    from _torch_run import run_beside_torch

    trainer, _, diffs = run_beside_torch(SMALL, TrainConfig(accum=2, seed=1), TOKENS, 8)
    # fp16 kernels against fp32 autograd: the first steps agree to the fp16 forward's rounding.
    assert max(diffs) < 0.01, diffs
    assert trainer.history[-1].dispatches == 2 * 2 * (SMALL.layers + 1)  # 2 micro-batches x (fwd + bwd) x 3 programs


def test_no_compile_after_the_first_step() -> None:
    from anekit.runtime.cache import default_cache

    default_cache().clear()  # other tests compiled the same programs: start from nothing
    trainer = Trainer(SMALL, TrainConfig(seed=2), TOKENS, backend="reference")
    first = trainer.step()
    assert first.compiles == 4  # layer forward/backward, head forward/backward; other layers share them
    with config.override(assert_no_compile=True):
        later = [trainer.step() for _ in range(3)]
    assert [s.compiles for s in later] == [0, 0, 0]
    # The switch is live: a model not compiled yet fails its first step under it.
    other = Trainer(ModelConfig(dim=64, layers=1, heads=4, kv_heads=2, hidden=96, seq=32), TrainConfig(), TOKENS)
    with config.override(assert_no_compile=True), pytest.raises(UnexpectedCompileError):
        other.step()


def test_overflowing_gradients_skip_the_step_and_halve_the_scale() -> None:
    trainer = Trainer(SMALL, TrainConfig(seed=3, loss_scale=2.0**24), TOKENS, backend="reference")
    before = {k: v.copy() for k, v in trainer.params.items()}
    stats = trainer.step()
    assert stats.skipped and np.isnan(stats.grad_norm)
    assert trainer.scaler.scale == 2.0**23 and trainer.scaler.skipped == 1
    assert all(np.array_equal(before[k], v) for k, v in trainer.params.items())
    assert trainer.optimizer.t == 0  # AdamW did not count the skipped step
    while trainer.history[-1].skipped:
        trainer.step()
    assert not all(np.array_equal(before[k], v) for k, v in trainer.params.items())


def test_checkpoint_resume_gives_the_same_losses(tmp_path: Path) -> None:
    cfg = TrainConfig(seed=4, scale_growth_interval=2)  # the loss scale changes during the run
    full = Trainer(SMALL, cfg, TOKENS, backend="reference")
    want = _losses(full, 6)
    first = Trainer(SMALL, cfg, TOKENS, backend="reference")
    _losses(first, 3)
    first.save(tmp_path / "ck.npz")
    resumed = Trainer(SMALL, cfg, TOKENS, backend="reference")
    resumed.load(tmp_path / "ck.npz")
    assert resumed.step_count == 3 and resumed.scaler.state() == first.scaler.state()
    assert _losses(resumed, 3) == want[3:]
    with pytest.raises(TrainingError, match="model"):
        Trainer(ModelConfig(dim=64, layers=1, heads=4, kv_heads=2, hidden=128, seq=32), cfg, TOKENS).load(
            tmp_path / "ck.npz"
        )


def test_a_residual_stream_beyond_fp16_rmsnorm_is_reported() -> None:
    trainer = Trainer(SMALL, TrainConfig(seed=5), TOKENS, backend="reference")
    trainer.params["tok_embeddings"][...] = 300.0
    with pytest.raises(TrainingError, match="root mean square"):
        trainer.step()


def test_input_checks() -> None:
    with pytest.raises(ValueError, match="vocabulary"):
        Trainer(SMALL, TrainConfig(), np.arange(1000) % 300)
    with pytest.raises(TypeError, match="TrainConfig"):
        Trainer(SMALL, {"lr": 1e-3}, TOKENS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="accum"):
        TrainConfig(accum=0)
    with pytest.raises(ValueError, match="save"):
        TrainConfig(save="everything")


@pytest.mark.objc
def test_the_fake_framework_runs_the_same_steps() -> None:
    if not anekit._core.ane.built():
        pytest.skip("the Objective-C++ backend is not built")
    from anekit import testing

    cfg = TrainConfig(seed=6)
    want = _losses(Trainer(SMALL, cfg, TOKENS, backend="reference"), 3)
    with testing.fake_ane(mode="reference", binding="alphabetical", surfaces="uniform", min_surface_bytes=49152):
        trainer = Trainer(SMALL, cfg, TOKENS, backend="ane")
        got = _losses(trainer, 3)
        assert trainer.kernels is not None and trainer.kernels.backend == "ane"
        trainer.close()
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_saving_activations_trains_like_recomputing() -> None:
    runs = {}
    for save in ("recompute", "activations"):
        trainer = Trainer(SMALL, TrainConfig(seed=7, save=save), TOKENS, backend="reference")
        runs[save] = _losses(trainer, 3)
        kernels = trainer.kernels
        assert kernels is not None
        assert bool(kernels.layer.saved) == (save == "activations")  # the forward's saved tensors feed the backward
    np.testing.assert_allclose(runs["activations"], runs["recompute"], atol=2e-3)
