"""Activation ``quantize`` / ``dequantize`` (iOS17, docs/internals/mil-format.md §10.7)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_int, as_str, norm_axis
from .constexpr import along_axis

__all__: list[str] = []


_Q_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


@kernel("quantize")
def quantize(
    ctx: KernelContext, input: np.ndarray, scale: Any, output_dtype: Any, zero_point: Any = None, axis: Any = None
) -> list[np.ndarray]:
    """``clip(round_half_even(input / scale) + zero_point)`` to the int8/uint8 range (docs/internals/mil-format.md
    §10.7); NaN quantises to the zero point."""
    x = np.asarray(input)
    dt = as_str(output_dtype)
    if dt not in _Q_RANGES:
        raise ctx.error(f"output_dtype {dt!r} is not int8 or uint8")
    ax = None if axis is None else norm_axis(ctx, as_int(axis), x.ndim)
    sc = along_axis(ctx, np.asarray(scale, dtype=x.dtype), x.ndim, ax, "scale")
    zp = np.zeros(()) if zero_point is None else np.asarray(zero_point, np.float64)
    zp = along_axis(ctx, zp, x.ndim, ax, "zero_point")
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.round(x / sc).astype(np.float64) + zp
    q = np.where(np.isnan(q), np.broadcast_to(zp, q.shape), q)
    lo, hi = _Q_RANGES[dt]
    return [np.clip(q, lo, hi).astype(np.dtype(dt))]


@kernel("dequantize")
def dequantize(
    ctx: KernelContext, input: np.ndarray, scale: Any, zero_point: Any = None, axis: Any = None
) -> list[np.ndarray]:
    """``scale · (input − zero_point)``, vectors along ``axis``."""
    q = np.asarray(input)
    ax = None if axis is None else norm_axis(ctx, as_int(axis), q.ndim)
    fd = ctx.float_dtype
    sc = along_axis(ctx, np.asarray(scale, dtype=fd), q.ndim, ax, "scale")
    d = q.astype(fd)
    if zero_point is not None:
        d = d - along_axis(ctx, np.asarray(zero_point, dtype=fd), q.ndim, ax, "zero_point")
    return [sc * d]
