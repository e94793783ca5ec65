"""Elementwise unary kernels (docs/internals/mil-format.md §10.3): math functions, epsilon-guarded ops, clip, cast.

Domain errors follow IEEE (``sqrt(-1)`` and ``log(-1)`` are NaN, ``log(0)`` is -inf) without numpy warnings,
because that is what a float unit produces. ANE deviations (libane clamps rsqrt/log inputs, docs/internals/mil-format.md
§10.10) are not modelled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_str, epsilon_value, erf

__all__: list[str] = []


def _ieee(fn: Any, *args: Any) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
        return fn(*args)


@kernel("abs")
def abs_(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``|x|``."""
    return [np.abs(x)]


@kernel("acos")
def acos(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``arccos(x)`` (NaN outside [-1, 1])."""
    return [_ieee(np.arccos, x)]


@kernel("asin")
def asin(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``arcsin(x)`` (NaN outside [-1, 1])."""
    return [_ieee(np.arcsin, x)]


@kernel("atan")
def atan(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``arctan(x)``."""
    return [np.arctan(x)]


@kernel("atanh")
def atanh(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``arctanh(x)`` (±inf at ±1, NaN outside)."""
    return [_ieee(np.arctanh, x)]


@kernel("ceil")
def ceil(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """Round toward +inf."""
    return [np.ceil(x)]


@kernel("cos")
def cos(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``cos(x)``."""
    return [_ieee(np.cos, x)]


@kernel("cosh")
def cosh(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``cosh(x)`` (overflows to inf)."""
    return [_ieee(np.cosh, x)]


@kernel("erf")
def erf_(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """Error function (see :func:`anekit.reference.kernels._util.erf` for its accuracy)."""
    return [erf(x)]


@kernel("exp")
def exp(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``e**x`` (overflows to inf)."""
    return [_ieee(np.exp, x)]


@kernel("exp2")
def exp2(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``2**x``; for int32 x the result is int32, truncated toward zero (``2**-1`` is 0)."""
    xa = np.asarray(x)
    if xa.dtype.kind in "iub":
        return [np.trunc(_ieee(np.exp2, xa.astype(np.float64))).astype(xa.dtype)]
    return [_ieee(np.exp2, xa)]


@kernel("floor")
def floor(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """Round toward -inf."""
    return [np.floor(x)]


@kernel("inverse")
def inverse(ctx: KernelContext, x: np.ndarray, epsilon: Any = None) -> list[np.ndarray]:
    """``1 / (x + epsilon)``, epsilon default 1e-4 (docs/internals/mil-format.md §10.3)."""
    eps = epsilon_value(ctx, epsilon, 1e-4)
    return [_ieee(np.reciprocal, np.asarray(x) + eps)]


@kernel("log")
def log(ctx: KernelContext, x: np.ndarray, epsilon: Any = None) -> list[np.ndarray]:
    """``log(x + epsilon)``, epsilon default 1e-45 (0 in fp16 and in float32 flushes to 0x1p-149)."""
    eps = epsilon_value(ctx, epsilon, 1e-45)
    return [_ieee(np.log, np.asarray(x) + eps)]


@kernel("logical_not")
def logical_not(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """Boolean NOT."""
    return [np.logical_not(x)]


@kernel("round")
def round_(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """Round to the nearest integer, ties to even (``np.round``, coremltools' value_inference)."""
    return [np.round(x)]


@kernel("rsqrt")
def rsqrt(ctx: KernelContext, x: np.ndarray, epsilon: Any = None) -> list[np.ndarray]:
    """``1 / sqrt(x + epsilon)``, epsilon default 1e-12 (0 once stored as fp16, docs/internals/mil-format.md §10.3)."""
    eps = epsilon_value(ctx, epsilon, 1e-12)
    return [_ieee(lambda v: 1.0 / np.sqrt(v), np.asarray(x) + eps)]


@kernel("sign")
def sign(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """-1, 0 or 1 (NaN stays NaN)."""
    return [np.sign(x)]


@kernel("sin")
def sin(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``sin(x)``."""
    return [_ieee(np.sin, x)]


@kernel("sinh")
def sinh(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``sinh(x)`` (overflows to ±inf)."""
    return [_ieee(np.sinh, x)]


@kernel("sqrt")
def sqrt(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``sqrt(x)`` (NaN for negative x)."""
    return [_ieee(np.sqrt, x)]


@kernel("square")
def square(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``x * x``."""
    return [_ieee(np.square, x)]


@kernel("tan")
def tan(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``tan(x)``."""
    return [_ieee(np.tan, x)]


@kernel("tanh")
def tanh(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``tanh(x)``."""
    return [np.tanh(x)]


@kernel("clip")
def clip(ctx: KernelContext, x: np.ndarray, alpha: Any, beta: Any) -> list[np.ndarray]:
    """``min(max(x, alpha), beta)``; real files use ``alpha = -inf`` (docs/internals/mil-format.md §10.3)."""
    xa = np.asarray(x)
    lo = np.asarray(alpha, dtype=xa.dtype)
    hi = np.asarray(beta, dtype=xa.dtype)
    return [np.minimum(np.maximum(xa, lo), hi)]


_INT_RANGES = {
    "int8": (-(2**7), 2**7 - 1),
    "uint8": (0, 2**8 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
}
_CAST_TARGETS = (*_INT_RANGES, "fp16", "fp32", "bool")


def cast_values(ctx: KernelContext, x: np.ndarray, target: str) -> np.ndarray:
    """Convert ``x`` to the MIL dtype ``target`` with anekit's cast semantics (see :func:`cast`)."""
    xa = np.asarray(x)
    if target in ("fp16", "fp32"):
        # Held in the compute dtype; the executor rounds fp16-typed results in precision="ane".
        return xa.astype(ctx.float_dtype)
    if target == "bool":
        return xa != 0
    lo, hi = _INT_RANGES[target]
    np_t = np.dtype(target)
    if xa.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            t = np.trunc(np.nan_to_num(xa.astype(np.float64), nan=0.0, posinf=hi, neginf=lo))
        return np.clip(t, lo, hi).astype(np_t)
    return np.clip(xa.astype(np.int64), lo, hi).astype(np_t)


@kernel("cast")
def cast(ctx: KernelContext, x: np.ndarray, dtype: Any) -> list[np.ndarray]:
    """Convert to ``dtype`` (docs/internals/mil-format.md §10.3).

    * to fp16: IEEE round-to-nearest-even, overflow to ±inf (applied by the executor when storing fp16);
    * to an integer type: truncation toward zero (numpy ``astype``, coremltools' value_inference), and —
      anekit's definition where numpy's is undefined — saturation to the type's range, NaN → 0;
    * to bool: ``x != 0``; from bool: 0 / 1.
    """
    target = as_str(dtype)
    if target not in _CAST_TARGETS:
        raise ctx.error(f"cast dtype {target!r} is not one of {', '.join(_CAST_TARGETS)}")
    return [cast_values(ctx, x, target)]
