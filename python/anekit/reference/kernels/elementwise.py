"""Elementwise binary kernels: arithmetic, comparisons and logical ops (docs/internals/mil-format.md §10.2).

All of them broadcast like numpy. Float results are computed in the context's float dtype; the executor then
rounds fp16-typed outputs to fp16 (``precision="ane"``).
"""

from __future__ import annotations

import numpy as np

from ._registry import KernelContext, kernel

__all__: list[str] = []


def _int_or_float(x: np.ndarray, y: np.ndarray) -> bool:
    """True when both operands are integer (or bool) arrays, i.e. integer semantics apply."""
    return np.asarray(x).dtype.kind in "iub" and np.asarray(y).dtype.kind in "iub"


@kernel("add")
def add(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``x + y``."""
    return [np.add(x, y)]


@kernel("sub")
def sub(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``x - y``."""
    return [np.subtract(x, y)]


@kernel("mul")
def mul(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``x * y``."""
    return [np.multiply(x, y)]


@kernel("real_div")
def real_div(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``x / y``. Float division by zero gives ±inf/NaN (IEEE), as on the device.

    For int32 operands the quotient is truncated toward zero (C semantics; coremltools' value_inference would
    return a float here, contradicting the op's int32 output type, docs/internals/mil-format.md §10.2). Integer division
    by zero is an error.
    """
    if _int_or_float(x, y):
        xi, yi = np.asarray(x), np.asarray(y)
        if np.any(yi == 0):
            raise ctx.error("integer division by zero")
        q = np.trunc(xi.astype(np.float64) / yi.astype(np.float64))
        return [q.astype(np.result_type(xi, yi))]
    with np.errstate(divide="ignore", invalid="ignore"):
        return [np.true_divide(x, y)]


@kernel("maximum")
def maximum(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Elementwise maximum (NaN propagates)."""
    return [np.maximum(x, y)]


@kernel("minimum")
def minimum(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Elementwise minimum (NaN propagates)."""
    return [np.minimum(x, y)]


@kernel("pow")
def pow_(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``x ** y``. Negative base with non-integer exponent gives NaN (IEEE ``pow``).

    Integer operands with a negative exponent have no integer result and raise a MILError.
    """
    if _int_or_float(x, y):
        if np.any(np.asarray(y) < 0):
            raise ctx.error("integer pow with a negative exponent")
        return [np.power(x, y)]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return [np.power(x, y)]


@kernel("floor_div")
def floor_div(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``floor(x / y)`` (Python ``//``, coremltools' value_inference)."""
    if _int_or_float(x, y):
        if np.any(np.asarray(y) == 0):
            raise ctx.error("integer division by zero")
        return [np.floor_divide(x, y)]
    with np.errstate(divide="ignore", invalid="ignore"):
        return [np.floor(np.true_divide(x, y))]


@kernel("mod")
def mod(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``x mod y`` with the sign of ``y`` (Python ``%``, coremltools' value_inference)."""
    if _int_or_float(x, y) and np.any(np.asarray(y) == 0):
        raise ctx.error("integer modulo by zero")
    with np.errstate(divide="ignore", invalid="ignore"):
        return [np.mod(x, y)]


@kernel("equal")
def equal(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``x == y`` (bool)."""
    return [np.equal(x, y)]


@kernel("not_equal")
def not_equal(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``x != y`` (bool)."""
    return [np.not_equal(x, y)]


@kernel("less")
def less(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``x < y`` (bool)."""
    return [np.less(x, y)]


@kernel("less_equal")
def less_equal(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``x <= y`` (bool)."""
    return [np.less_equal(x, y)]


@kernel("greater")
def greater(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``x > y`` (bool)."""
    return [np.greater(x, y)]


@kernel("greater_equal")
def greater_equal(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``x >= y`` (bool)."""
    return [np.greater_equal(x, y)]


@kernel("logical_and")
def logical_and(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Boolean AND."""
    return [np.logical_and(x, y)]


@kernel("logical_or")
def logical_or(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Boolean OR."""
    return [np.logical_or(x, y)]


@kernel("logical_xor")
def logical_xor(ctx: KernelContext, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Boolean XOR."""
    return [np.logical_xor(x, y)]
