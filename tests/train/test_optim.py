"""AdamW, clipping and loss scaling against PyTorch's (fp32, CPU)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anekit.train import AdamW, LossScaler, clip_grad_norm

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(3)


def _params() -> dict[str, np.ndarray]:
    return {"w": RNG.standard_normal((6, 5)).astype(np.float32), "g": np.ones(5, np.float32)}


def test_adamw_matches_torch_over_several_steps_with_decay_groups() -> None:
    params = _params()
    tp = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in params.items()}
    opt = AdamW(params, lr=0.01, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, no_decay=["g"])
    topt = torch.optim.AdamW(
        [{"params": [tp["w"]], "weight_decay": 0.1}, {"params": [tp["g"]], "weight_decay": 0.0}],
        lr=0.01,
        betas=(0.9, 0.95),
        eps=1e-8,
    )
    for step in range(5):
        grads = {k: RNG.standard_normal(v.shape).astype(np.float32) for k, v in params.items()}
        lr = 0.01 * (step + 1) / 5
        opt.step(grads, lr=lr)
        for k, p in tp.items():
            p.grad = torch.from_numpy(grads[k].copy())
        for group in topt.param_groups:
            group["lr"] = lr
        topt.step()
        for k in params:
            np.testing.assert_allclose(params[k], tp[k].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_adamw_state_round_trips_and_checks_input() -> None:
    params = _params()
    opt = AdamW(params)
    opt.step({k: np.ones_like(v) for k, v in params.items()})
    other = AdamW(_params())
    other.load_state(opt.state())
    assert other.t == 1
    np.testing.assert_array_equal(other.m["w"], opt.m["w"])
    with pytest.raises(ValueError, match="missing"):
        opt.step({"w": np.ones((6, 5), np.float32)})
    with pytest.raises(TypeError, match="float32"):
        AdamW({"w": np.ones(3)})
    with pytest.raises(ValueError, match="no_decay"):
        AdamW(_params(), no_decay=["nope"])


def test_clip_grad_norm_matches_torch() -> None:
    grads = {"a": RNG.standard_normal((4, 4)).astype(np.float32) * 3, "b": RNG.standard_normal(7).astype(np.float32)}
    tensors = [torch.nn.Parameter(torch.zeros(v.shape)) for v in grads.values()]
    for t, g in zip(tensors, grads.values(), strict=True):
        t.grad = torch.from_numpy(g.copy())
    want = float(torch.nn.utils.clip_grad_norm_(tensors, 1.0))
    got = clip_grad_norm(grads, 1.0)
    assert got == pytest.approx(want, rel=1e-6)
    for t, g in zip(tensors, grads.values(), strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-6)
    small = {"a": np.full(3, 0.1, np.float32)}
    clip_grad_norm(small, 1.0)
    np.testing.assert_array_equal(small["a"], np.full(3, 0.1, np.float32))  # below the threshold: untouched


def test_loss_scaler_skips_halves_and_grows() -> None:
    s = LossScaler(scale=1024.0, growth_interval=3)
    assert s.update(True) and s.scale == 1024.0
    assert not s.update(False)
    assert s.scale == 512.0 and s.skipped == 1 and s.good_steps == 0
    for _ in range(3):
        assert s.update(True)
    assert s.scale == 1024.0 and s.good_steps == 0
    restored = LossScaler()
    restored.load_state(s.state())
    assert restored.state() == s.state()
    with pytest.raises(ValueError, match="growth_interval"):
        LossScaler(growth_interval=0)
    with pytest.raises(ValueError, match="scale"):
        LossScaler(scale=math.inf)
