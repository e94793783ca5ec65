"""fp16 range of derived backward programs: no intermediate overflows where the gradient itself fits in fp16.

A norm's ``pow(v, -0.5)`` has the derivative ``-0.5 v^-1.5``, which alone overflows fp16 (65504) for
``v < 6e-4`` — the mean square of a freshly initialised model's residual stream — and ``1 / y`` overflows for
``|y| < 1.5e-5``; a cotangent times infinity is infinity, and a zero cotangent (padding) times it is NaN. The rules
multiply the cotangent in first and divide last, so each of these gradients comes out finite at
``precision="ane"``.
"""

from __future__ import annotations

import numpy as np
import pytest
from _vjp_check import run_backward

from anekit import autodiff, mil, nn

V = np.array([1e-4, 2e-4, 6e-4, 1e-3, 1e-2, 0.5, 2.0, 100.0]).reshape(1, 8, 1, 1) * np.ones((1, 1, 1, 32))
T = mil.tensor((1, 8, 1, 32), "fp16")


def _grad(build, feeds: dict[str, np.ndarray], wrt: str, g: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    program = mil.program(inputs={k: T for k in feeds})(build)
    grad = autodiff.vjp(program, [wrt])
    return run_backward(grad, feeds, {program.main.outputs[0].name: g}, precision="ane")[f"grad_{wrt}"]


def _fp16(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float16).astype(np.float64)


@pytest.mark.parametrize(
    ("name", "build", "deriv"),
    [
        ("pow_-0.5", lambda mb, v: mb.pow(x=v, y=np.float16(-0.5)), lambda v: -0.5 * v**-1.5),
        ("rsqrt", lambda mb, v: mb.rsqrt(x=v, epsilon=np.float16(0.0)), lambda v: -0.5 * v**-1.5),
        ("pow_-1", lambda mb, v: mb.pow(x=v, y=np.float16(-1.0)), lambda v: -(v**-2.0)),
        ("inverse", lambda mb, v: mb.inverse(x=v, epsilon=np.float16(0.0)), lambda v: -(v**-2.0)),
    ],
)
def test_small_denominators_give_finite_gradients(name: str, build, deriv) -> None:  # type: ignore[no-untyped-def]
    v = _fp16(V)
    g = np.full(v.shape, 2.0**-12)  # a small cotangent: the largest gradient (pow_-1 at 1e-4) is ~2.4e4
    want = deriv(v) * g
    assert np.all(np.abs(want) < 65504)
    got = _grad(build, {"v": v}, "v", g).astype(np.float64)
    assert np.all(np.isfinite(got)), f"{name}: non-finite gradient {got[~np.isfinite(got)][:4]}"
    np.testing.assert_allclose(got, want, rtol=1e-2, atol=2.0**-22)  # atol: fp16 subnormal spacing
    zero = _grad(build, {"v": v}, "v", np.zeros(v.shape))
    assert np.all(zero == 0), f"{name}: a zero cotangent gives {zero[zero != 0][:4]}"


def test_real_div_by_a_tiny_denominator() -> None:
    x = _fp16(np.full((1, 8, 1, 32), 1e-3))
    y = _fp16(np.full((1, 8, 1, 32), 1e-5))
    g = np.full(x.shape, 1e-4)
    got = _grad(lambda mb, x, y: mb.real_div(x=x, y=y), {"x": x, "y": y}, "x", g)
    np.testing.assert_allclose(got.astype(np.float64), g / y, rtol=1e-2)


@pytest.mark.parametrize("std", [0.02, 1.0, 30.0])
def test_rms_norm_backward_in_fp16_for_small_normal_and_large_activations(std: float) -> None:
    """nn.rms_norm's ops (the max|x| rescaling and pow(v, -0.5)) with a gain input; zero (padding) positions too.

    A residual stream of standard deviation 0.02 (a fresh model) has mean squares ~4e-4, where ``v^-1.5`` alone is
    infinite in fp16; 30 is a trained model's large activations (the rescaling keeps the squares in range).
    """
    import torch

    program = mil.program(inputs={"x": mil.tensor((1, 256, 1, 32), "fp16"), "g": mil.tensor((1, 256, 1, 1), "fp16")})(
        lambda mb, x, g: {"y": nn.rms_norm(mb, x, g, 1e-5)}
    )
    rng = np.random.default_rng(0)
    x = _fp16(rng.standard_normal((1, 256, 1, 32)) * std)
    x[..., -4:] = 0
    gain = _fp16(1 + 0.1 * rng.standard_normal((1, 256, 1, 1)))
    dy = _fp16(rng.standard_normal(x.shape) * 1e-2)
    got = run_backward(autodiff.vjp(program, ["x", "g"]), {"x": x, "g": gain}, {"y": dy}, precision="ane")
    t, tg = torch.tensor(x, requires_grad=True), torch.tensor(gain, requires_grad=True)
    y = t / torch.sqrt((t * t).mean(1, keepdim=True) + 1e-5) * tg
    for name, want in zip(("grad_x", "grad_g"), torch.autograd.grad(y, [t, tg], torch.tensor(dy)), strict=True):
        w, g = want.numpy(), got[name].astype(np.float64)
        assert np.all(np.isfinite(g)), name
        assert np.max(np.abs(g - w)) <= 1e-2 * np.max(np.abs(w)), name
