"""Helpers shared by the kernel modules: value coercion, axis handling and special functions.

Nothing here is registered as a kernel; category modules import what they need.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._registry import KernelContext

__all__ = [
    "as_bool",
    "as_float",
    "as_int",
    "as_int_tuple",
    "as_str",
    "bit_view",
    "epsilon_value",
    "erf",
    "erfc",
    "named_activation",
    "norm_axes",
    "norm_axis",
    "to_float",
]


#: Unsigned integer types of each element size, for comparing values by their bits.
_UINT_OF_SIZE = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def bit_view(a: np.ndarray) -> np.ndarray | None:
    """``a`` viewed as unsigned integers of its element size (to compare values by their bits: ``-0`` and ``+0``
    differ, a NaN matches only the same NaN bits), or None for element sizes other than 2, 4 and 8 bytes."""
    uint = _UINT_OF_SIZE.get(a.dtype.itemsize)
    return None if uint is None else a.view(uint)


def as_str(v: Any) -> str:
    """A string input (Python str, numpy str scalar or 0-d array) as ``str``."""
    if isinstance(v, str):
        return v
    return str(np.asarray(v).reshape(()).item())


def as_bool(v: Any) -> bool:
    """A bool input (Python bool or 0-d/1-element array) as ``bool``."""
    return bool(np.asarray(v).reshape(()).item())


def as_int(v: Any) -> int:
    """An integer scalar input as ``int``."""
    return int(np.asarray(v).reshape(()).item())


def as_float(v: Any) -> float:
    """A float scalar input as Python ``float``."""
    return float(np.asarray(v).reshape(()).item())


def as_int_tuple(v: Any) -> tuple[int, ...]:
    """An integer vector input (or scalar) as a tuple of ``int``."""
    arr = np.asarray(v).reshape(-1)
    if arr.dtype.kind in "iu":
        return tuple(arr.tolist())  # Python ints in one C call (this runs for every shape-like literal per op)
    return tuple(int(i) for i in arr)


def to_float(ctx: KernelContext, v: Any) -> np.ndarray:
    """``v`` as an array of the context's float compute dtype (bool and int inputs are converted)."""
    return np.asarray(v, dtype=ctx.float_dtype)


def epsilon_value(ctx: KernelContext, epsilon: Any, default: float) -> np.ndarray:
    """An op's ``epsilon`` input in the float compute dtype, or its MIL ``default`` when the program omits it
    (as stored next to the output: see :meth:`KernelContext.default_scalar`)."""
    return ctx.default_scalar(default) if epsilon is None else np.asarray(epsilon, dtype=ctx.float_dtype)


def norm_axis(ctx: KernelContext, axis: int, rank: int, *, what: str = "axis") -> int:
    """Map a possibly negative axis into ``[0, rank)``, raising a MILError when out of range."""
    a = int(axis)
    if not -rank <= a < max(rank, 1):
        raise ctx.error(f"{what} {a} out of range for rank {rank}")
    return a + rank if a < 0 else a


def norm_axes(ctx: KernelContext, axes: Iterable[int] | None, rank: int) -> tuple[int, ...]:
    """Normalise an axes list (``None`` = every axis) to sorted, unique, non-negative axes."""
    if axes is None:
        return tuple(range(rank))
    out = sorted({norm_axis(ctx, a, rank, what="axes entry") for a in as_int_tuple(axes)})
    return tuple(out)


# erf for float32 arguments, two published approximations (both checked against math.erf / math.erfc in
# tests/reference/test_kernels_unary.py):
# * |x| < 0.5: the odd rational function used by Eigen's and XLA's float32 erf (relative error ~1e-7 here);
# * |x| >= 0.5: erf = 1 - erfc(|x|) with the Chebyshev-fitted erfc of Numerical Recipes ("erfcc"),
#   fractional error < 1.2e-7 for every x >= 0 — which also keeps gelu accurate in its far negative tail.
_ERF_P = (
    -2.72614225801306e-10,
    2.77068142495902e-08,
    -2.10102402082508e-06,
    -5.69250639462346e-05,
    -7.34990630326855e-04,
    -2.95459980854025e-03,
    -1.60960333262415e-02,
)
_ERF_Q = (
    -1.45660718464996e-05,
    -2.13374055278905e-04,
    -1.68282697438203e-03,
    -7.37332916720468e-03,
    -1.42647390514189e-02,
)
_ERFC_C = (
    0.17087277,
    -0.82215223,
    1.48851587,
    -1.13520398,
    0.27886807,
    -0.18628806,
    0.09678418,
    0.37409196,
    1.00002368,
    -1.26551223,
)
_erf_exact = np.frompyfunc(math.erf, 1, 1)
_erfc_exact = np.frompyfunc(math.erfc, 1, 1)


def _erfc_nonneg32(z: np.ndarray) -> np.ndarray:
    """erfc(z) for z >= 0 in float32 (Numerical Recipes erfcc, see above)."""
    t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.5) * z)
    acc = np.full_like(z, np.float32(_ERFC_C[0]))
    for c in _ERFC_C[1:]:
        acc *= t
        acc += np.float32(c)
    acc -= z * z
    with np.errstate(under="ignore"):
        return t * np.exp(acc)


def _erf_small32(x: np.ndarray) -> np.ndarray:
    x2 = x * x
    p = np.full_like(x2, np.float32(_ERF_P[0]))
    for c in _ERF_P[1:]:
        p *= x2
        p += np.float32(c)
    p *= x
    q = np.full_like(x2, np.float32(_ERF_Q[0]))
    for c in _ERF_Q[1:]:
        q *= x2
        q += np.float32(c)
    return p / q


def erf(x: np.ndarray) -> np.ndarray:
    """Elementwise error function in ``x``'s float dtype.

    float64 inputs use the C library's ``erf`` one element at a time (the semantic oracle of
    ``precision="fp64"``); float32 inputs use the vectorised approximations above (relative error ~1e-7).
    """
    x = np.asarray(x)
    if x.dtype == np.float64:
        return np.asarray(_erf_exact(x), dtype=np.float64).reshape(x.shape)
    xf = x.astype(np.float32, copy=False)
    big = np.float32(1.0) - _erfc_nonneg32(np.abs(xf))
    return np.where(np.abs(xf) < np.float32(0.5), _erf_small32(xf), np.copysign(big, xf))


def erfc(x: np.ndarray) -> np.ndarray:
    """Elementwise complementary error function ``1 − erf(x)``, accurate in relative terms also where it is
    tiny (x ≫ 0); dtype handling as :func:`erf`."""
    x = np.asarray(x)
    if x.dtype == np.float64:
        return np.asarray(_erfc_exact(x), dtype=np.float64).reshape(x.shape)
    xf = x.astype(np.float32, copy=False)
    r = _erfc_nonneg32(np.abs(xf))
    return np.where(xf >= 0, r, np.float32(2.0) - r)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function ``1 / (1 + exp(-x))`` in ``x``'s dtype (no overflow warnings)."""
    # exp(-|x|) never overflows; mirror the result for negative inputs.
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(x))
    pos = 1.0 / (1.0 + e)
    return np.where(x >= 0, pos, e * pos).astype(x.dtype, copy=False)


def named_activation(ctx: KernelContext, name: str, x: np.ndarray) -> np.ndarray:
    """Apply an RNN activation by MIL name (coremltools recurrent.py: tanh, scaled_tanh, sigmoid,
    hard_sigmoid, relu, linear), with the parameters of the MIL ops of the same meaning: ``sigmoid_hard``
    alpha 0.2 / beta 0.5 and ``scaled_tanh`` alpha 1 / beta 1 (their iOS15 defaults)."""
    n = name.lower()
    if n == "tanh":
        return np.tanh(x)
    if n == "sigmoid":
        return sigmoid(x)
    if n == "hard_sigmoid":
        return np.clip(0.2 * x + 0.5, 0.0, 1.0).astype(x.dtype, copy=False)
    if n == "scaled_tanh":
        return np.tanh(x)
    if n == "relu":
        return np.maximum(x, 0).astype(x.dtype, copy=False)
    if n == "linear":
        return x
    raise ctx.error(f"unknown activation {name!r}; expected tanh, scaled_tanh, sigmoid, hard_sigmoid, relu or linear")
