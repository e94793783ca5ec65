"""Reduction kernels (docs/internals/mil-format.md §10.4): ``reduce_*`` over ``axes`` (default all) and arg-reductions.

Float sums use numpy's pairwise summation in the compute dtype (float32 for ``precision="ane"``); only the
result is stored as fp16. Integer means are computed exactly and stored truncated toward zero.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_bool, as_int, as_str, norm_axes, norm_axis

__all__: list[str] = []


def _reduce(
    ctx: KernelContext, x: np.ndarray, axes: Any, keep_dims: Any, fn: Callable[..., np.ndarray]
) -> list[np.ndarray]:
    xa = np.asarray(x)
    ax = norm_axes(ctx, None if axes is None else axes, xa.ndim)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return [np.asarray(fn(xa, axis=ax, keepdims=as_bool(keep_dims)))]


@kernel("reduce_sum")
def reduce_sum(ctx: KernelContext, x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> list[np.ndarray]:
    """Σ x."""
    return _reduce(ctx, x, axes, keep_dims, lambda v, **k: np.sum(v, dtype=v.dtype, **k))


@kernel("reduce_mean")
def reduce_mean(ctx: KernelContext, x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> list[np.ndarray]:
    """Arithmetic mean."""
    return _reduce(ctx, x, axes, keep_dims, np.mean)


@kernel("reduce_max")
def reduce_max(ctx: KernelContext, x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> list[np.ndarray]:
    """Maximum (NaN propagates)."""
    return _reduce(ctx, x, axes, keep_dims, np.max)


@kernel("reduce_min")
def reduce_min(ctx: KernelContext, x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> list[np.ndarray]:
    """Minimum (NaN propagates)."""
    return _reduce(ctx, x, axes, keep_dims, np.min)


@kernel("reduce_prod")
def reduce_prod(ctx: KernelContext, x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> list[np.ndarray]:
    """Π x."""
    return _reduce(ctx, x, axes, keep_dims, lambda v, **k: np.prod(v, dtype=v.dtype, **k))


@kernel("reduce_l1_norm")
def reduce_l1_norm(ctx: KernelContext, x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> list[np.ndarray]:
    """Σ |x|."""
    return _reduce(ctx, x, axes, keep_dims, lambda v, **k: np.sum(np.abs(v), dtype=v.dtype, **k))


@kernel("reduce_l2_norm")
def reduce_l2_norm(ctx: KernelContext, x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> list[np.ndarray]:
    """sqrt(Σ x²)."""
    return _reduce(ctx, x, axes, keep_dims, lambda v, **k: np.sqrt(np.sum(np.square(v), dtype=v.dtype, **k)))


@kernel("reduce_log_sum")
def reduce_log_sum(ctx: KernelContext, x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> list[np.ndarray]:
    """log(Σ x)."""
    return _reduce(ctx, x, axes, keep_dims, lambda v, **k: np.log(np.sum(v, dtype=v.dtype, **k)))


def _logsumexp(v: np.ndarray, axis: tuple[int, ...], keepdims: bool) -> np.ndarray:
    m = np.max(v, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, np.zeros_like(m))
    s = np.log(np.sum(np.exp(v - m), axis=axis, keepdims=True)) + m
    return s if keepdims else np.squeeze(s, axis=axis)


@kernel("reduce_log_sum_exp")
def reduce_log_sum_exp(ctx: KernelContext, x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> list[np.ndarray]:
    """log(Σ exp(x)), evaluated stably as ``max + log(Σ exp(x − max))``."""
    return _reduce(ctx, x, axes, keep_dims, _logsumexp)


@kernel("reduce_sum_square")
def reduce_sum_square(ctx: KernelContext, x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> list[np.ndarray]:
    """Σ x²."""
    return _reduce(ctx, x, axes, keep_dims, lambda v, **k: np.sum(np.square(v), dtype=v.dtype, **k))


def _arg(
    ctx: KernelContext, fn: Callable[..., np.ndarray], x: np.ndarray, axis: Any, keep_dims: Any, output_dtype: Any
) -> list[np.ndarray]:
    xa = np.asarray(x)
    ax = norm_axis(ctx, as_int(axis), xa.ndim)
    out = fn(xa, axis=ax, keepdims=as_bool(keep_dims))
    dt = as_str(output_dtype)
    if dt not in ("int32", "uint16"):
        raise ctx.error(f"output_dtype {dt!r} is not int32 or uint16")
    return [np.asarray(out).astype(np.dtype(dt))]


@kernel("reduce_argmax")
def reduce_argmax(
    ctx: KernelContext, x: np.ndarray, axis: Any = -1, keep_dims: Any = False, output_dtype: Any = "int32"
) -> list[np.ndarray]:
    """Index of the first maximum along ``axis``."""
    return _arg(ctx, np.argmax, x, axis, keep_dims, output_dtype)


@kernel("reduce_argmin")
def reduce_argmin(
    ctx: KernelContext, x: np.ndarray, axis: Any = -1, keep_dims: Any = False, output_dtype: Any = "int32"
) -> list[np.ndarray]:
    """Index of the first minimum along ``axis``."""
    return _arg(ctx, np.argmin, x, axis, keep_dims, output_dtype)
