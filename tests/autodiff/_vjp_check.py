"""Checks shared by the autodiff tests: finite differences in fp64 on the reference executor, and PyTorch autograd.

Both compare the backward program's gradients for random output cotangents ``c``: finite differences check
``<grad_x, d> = d/dt <f(x + t d), c>`` (central differences, random directions ``d``); PyTorch checks every
element of ``grad_x`` against ``torch.autograd.grad(f(x), x, c)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from anekit import autodiff, mil, reference


def output_shapes(program: mil.Program, outputs: Sequence[str] | None = None) -> dict[str, tuple[int, ...]]:
    outs = program.main.outputs
    return {v.name: tuple(v.type.shape) for v in outs if outputs is None or v.name in outputs}


def random_cotangents(program: mil.Program, seed: int, outputs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape) for name, shape in output_shapes(program, outputs).items()}


def run_backward(
    g: autodiff.Gradient,
    feeds: Mapping[str, np.ndarray],
    cots: Mapping[str, np.ndarray],
    precision: str = "fp64",
) -> dict[str, np.ndarray]:
    """Run the forward (for saved tensors) and the backward on the reference executor; returns ``grad_<wrt>``."""
    fwd = reference.run(g.forward, dict(feeds), precision=precision) if g.saved else {}
    bfeeds: dict[str, Any] = {}
    for name in g.backward.main.inputs:
        if name in g.saved:
            bfeeds[name] = fwd[name]
        elif name.startswith("grad_") and name[5:] in cots:
            bfeeds[name] = cots[name[5:]]
        else:
            bfeeds[name] = feeds[name]
    return reference.run(g.backward, bfeeds, precision=precision)


def check_finite_differences(
    program: mil.Program,
    feeds: Mapping[str, np.ndarray],
    wrt: Sequence[str],
    *,
    save: str = "recompute",
    outputs: Sequence[str] | None = None,
    seed: int = 0,
    directions: int = 2,
    eps: float = 1e-6,
    rtol: float = 1e-6,
) -> dict[str, np.ndarray]:
    """Assert the backward matches central differences of the forward in fp64; returns the gradients."""
    g = autodiff.vjp(program, wrt, save=save, outputs=outputs)
    cots = random_cotangents(program, seed, outputs)
    grads = run_backward(g, feeds, cots)
    assert list(grads) == [f"grad_{n}" for n in wrt]

    def loss(f: Mapping[str, np.ndarray]) -> float:
        out = reference.run(program, dict(f), precision="fp64")
        return float(sum(np.sum(out[k] * c) for k, c in cots.items()))

    rng = np.random.default_rng(seed + 1)
    for name in wrt:
        gx = grads[f"grad_{name}"]
        assert gx.shape == feeds[name].shape, (name, gx.shape)
        for _ in range(directions):
            d = rng.standard_normal(gx.shape)
            plus, minus = dict(feeds), dict(feeds)
            plus[name] = feeds[name] + eps * d
            minus[name] = feeds[name] - eps * d
            fd = (loss(plus) - loss(minus)) / (2 * eps)
            an = float(np.sum(gx * d))
            scale = max(1.0, abs(fd), float(np.sum(np.abs(gx * d))))
            assert abs(fd - an) <= rtol * scale, f"grad_{name}: finite differences {fd!r} != backward {an!r}"
    return grads


def check_torch(
    program: mil.Program,
    feeds: Mapping[str, np.ndarray],
    wrt: Sequence[str],
    torch_fn: Callable[..., Any],
    *,
    save: str = "recompute",
    outputs: Sequence[str] | None = None,
    seed: int = 0,
    precision: str = "fp64",
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> dict[str, np.ndarray]:
    """Assert the backward matches PyTorch autograd of ``torch_fn(**feeds)`` (float64 tensors) elementwise.

    ``torch_fn`` returns one tensor (for a one-output program) or a dict output name -> tensor.
    """
    import torch

    g = autodiff.vjp(program, wrt, save=save, outputs=outputs)
    cots = random_cotangents(program, seed, outputs)
    grads = run_backward(g, feeds, cots, precision=precision)
    tensors = {k: torch.tensor(v.astype(np.float64) if v.dtype.kind == "f" else v) for k, v in feeds.items()}
    for name in wrt:
        tensors[name].requires_grad_(True)
    result = torch_fn(**tensors)
    if not isinstance(result, dict):
        (only,) = output_shapes(program, outputs)
        result = {only: result}
    outs = [result[k] for k in cots]
    expected = torch.autograd.grad(
        outs, [tensors[n] for n in wrt], [torch.tensor(cots[k]) for k in cots], allow_unused=True
    )
    for name, e in zip(wrt, expected, strict=True):
        want = np.zeros(feeds[name].shape) if e is None else e.detach().numpy()
        got = grads[f"grad_{name}"].astype(np.float64)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"grad_{name} vs torch")
    return grads
