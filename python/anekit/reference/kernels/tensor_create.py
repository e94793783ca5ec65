"""Tensor-creating kernels (docs/internals/mil-format.md §10.5): shape, identity, range_1d, fill, fill_like, band_part,
cumsum."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_bool, as_int, as_int_tuple, norm_axis

__all__: list[str] = []


@kernel("shape")
def shape(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """The shape of ``x`` as int32."""
    return [np.asarray(np.shape(x), dtype=np.int32)]


@kernel("identity", preserves_values=True)
def identity(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """A copy of ``x``."""
    return [np.array(x, copy=True)]


@kernel("range_1d")
def range_1d(ctx: KernelContext, end: Any, start: Any, step: Any) -> list[np.ndarray]:
    """``arange(start, end, step)`` in the inputs' dtype."""
    e, s, st = np.asarray(end), np.asarray(start), np.asarray(step)
    if float(st) == 0:
        raise ctx.error("step must not be 0")
    return [np.arange(s.reshape(()), e.reshape(()), st.reshape(()), dtype=np.result_type(e, s, st))]


@kernel("fill")
def fill(ctx: KernelContext, shape: Any, value: Any = 0.0) -> list[np.ndarray]:
    """A tensor of ``shape`` filled with ``value``."""
    dims = as_int_tuple(shape)
    if any(d < 0 for d in dims):
        raise ctx.error(f"shape {list(dims)} has negative dims")
    v = np.asarray(value)
    return [np.full(dims, v, dtype=ctx.out_dtype() or v.dtype)]


@kernel("fill_like")
def fill_like(ctx: KernelContext, ref_tensor: np.ndarray, value: Any = 0.0) -> list[np.ndarray]:
    """A tensor shaped like ``ref_tensor`` filled with ``value``."""
    v = np.asarray(value)
    return [np.full(np.shape(ref_tensor), v, dtype=ctx.out_dtype() or v.dtype)]


@kernel("band_part")
def band_part(ctx: KernelContext, x: np.ndarray, lower: Any = -1, upper: Any = -1) -> list[np.ndarray]:
    """Keep the band of the last two dims: element (i, j) survives when ``lower < 0 or i − j ≤ lower`` and
    ``upper < 0 or j − i ≤ upper``; others become 0."""
    xa = np.asarray(x)
    if xa.ndim < 2:
        raise ctx.error(f"x must have rank >= 2, got shape {xa.shape}")
    lo, up = as_int(lower), as_int(upper)
    i = np.arange(xa.shape[-2])[:, None]
    j = np.arange(xa.shape[-1])[None, :]
    keep = ((lo < 0) | (i - j <= lo)) & ((up < 0) | (j - i <= up))
    return [np.where(keep, xa, np.zeros((), xa.dtype))]


@kernel("cumsum")
def cumsum(
    ctx: KernelContext, x: np.ndarray, axis: Any = 0, exclusive: Any = False, reverse: Any = False
) -> list[np.ndarray]:
    """Cumulative sum along ``axis``; ``exclusive`` shifts by one (starting at 0), ``reverse`` sums from the
    end."""
    xa = np.asarray(x)
    ax = norm_axis(ctx, as_int(axis), xa.ndim)
    v = np.flip(xa, ax) if as_bool(reverse) else xa
    c = np.cumsum(v, axis=ax, dtype=v.dtype)
    if as_bool(exclusive):
        c = np.concatenate([np.zeros_like(np.take(c, [0], axis=ax)), np.delete(c, -1, axis=ax)], axis=ax)
    return [np.flip(c, ax) if as_bool(reverse) else c]
