"""Layout kernels: pixel_shuffle/unshuffle, depth_to_space/space_to_depth, flatten2d, reverse,
sliding_windows, one_hot, non_zero (coremltools iOS15/iOS16 tensor_transformation/tensor_operation)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_int, norm_axes, norm_axis

__all__: list[str] = []


def _rank4(ctx: KernelContext, x: np.ndarray) -> np.ndarray:
    xa = np.asarray(x)
    if xa.ndim != 4:
        raise ctx.error(f"x must be [N, C, H, W], got shape {xa.shape}")
    return xa


def _to_space(ctx: KernelContext, x: np.ndarray, f: int, crd: bool) -> np.ndarray:
    """``[N, C·f², H, W] → [N, C, H·f, W·f]``; ``crd`` (PyTorch) reads channel ``c·f² + i·f + j``, DCR
    (TensorFlow ``depth_to_space``) reads ``(i·f + j)·C + c``."""
    n, cf, h, w = x.shape
    if f < 1 or cf % (f * f):
        raise ctx.error(f"channels {cf} not divisible by factor² = {f * f}")
    c = cf // (f * f)
    if crd:
        y = x.reshape(n, c, f, f, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        y = x.reshape(n, f, f, c, h, w).transpose(0, 3, 4, 1, 5, 2)
    return y.reshape(n, c, h * f, w * f)


def _to_depth(ctx: KernelContext, x: np.ndarray, f: int, crd: bool) -> np.ndarray:
    """Inverse of :func:`_to_space`."""
    n, c, hf, wf = x.shape
    if f < 1 or hf % f or wf % f:
        raise ctx.error(f"spatial dims {hf}x{wf} not divisible by factor {f}")
    h, w = hf // f, wf // f
    y = x.reshape(n, c, h, f, w, f)
    y = y.transpose(0, 1, 3, 5, 2, 4) if crd else y.transpose(0, 3, 5, 1, 2, 4)
    return y.reshape(n, c * f * f, h, w)


@kernel("pixel_shuffle", preserves_values=True)
def pixel_shuffle(ctx: KernelContext, x: np.ndarray, upscale_factor: Any) -> list[np.ndarray]:
    """PyTorch ``PixelShuffle``."""
    return [_to_space(ctx, _rank4(ctx, x), as_int(upscale_factor), crd=True)]


@kernel("pixel_unshuffle", preserves_values=True)
def pixel_unshuffle(ctx: KernelContext, x: np.ndarray, downscale_factor: Any) -> list[np.ndarray]:
    """PyTorch ``PixelUnshuffle``."""
    return [_to_depth(ctx, _rank4(ctx, x), as_int(downscale_factor), crd=True)]


@kernel("depth_to_space", preserves_values=True)
def depth_to_space(ctx: KernelContext, x: np.ndarray, block_size: Any) -> list[np.ndarray]:
    """TensorFlow ``depth_to_space`` (DCR order) on NCHW."""
    return [_to_space(ctx, _rank4(ctx, x), as_int(block_size), crd=False)]


@kernel("space_to_depth", preserves_values=True)
def space_to_depth(ctx: KernelContext, x: np.ndarray, block_size: Any) -> list[np.ndarray]:
    """TensorFlow ``space_to_depth`` on NCHW (inverse of depth_to_space)."""
    return [_to_depth(ctx, _rank4(ctx, x), as_int(block_size), crd=False)]


@kernel("flatten2d", preserves_values=True)
def flatten2d(ctx: KernelContext, x: np.ndarray, axis: Any = 1) -> list[np.ndarray]:
    """``[*D] → [prod(D[:axis]), prod(D[axis:])]``."""
    xa = np.asarray(x)
    a = as_int(axis)
    a = a + xa.ndim if a < 0 else a
    if not 0 <= a <= xa.ndim:
        raise ctx.error(f"axis {as_int(axis)} out of range for rank {xa.ndim}")
    return [xa.reshape(math.prod(xa.shape[:a]), math.prod(xa.shape[a:]))]


@kernel("reverse", preserves_values=True)
def reverse(ctx: KernelContext, x: np.ndarray, axes: Any = None) -> list[np.ndarray]:
    """Reverse along ``axes`` (default all)."""
    xa = np.asarray(x)
    return [np.flip(xa, norm_axes(ctx, axes, xa.ndim)).copy()]


@kernel("sliding_windows", preserves_values=True)
def sliding_windows(ctx: KernelContext, x: np.ndarray, axis: Any, size: Any, stride: Any = 1) -> list[np.ndarray]:
    """``[*d0, D, *dn] → [*d0, (D − size)//stride + 1, size, *dn]``: every ``stride``-th window."""
    xa = np.asarray(x)
    ax = norm_axis(ctx, as_int(axis), xa.ndim)
    sz, st = as_int(size), as_int(stride)
    if not 1 <= sz <= xa.shape[ax] or st < 1:
        raise ctx.error(f"size {sz} / stride {st} invalid for axis {ax} of size {xa.shape[ax]}")
    win = np.lib.stride_tricks.sliding_window_view(xa, sz, axis=ax)[(slice(None),) * ax + (slice(None, None, st),)]
    return [np.ascontiguousarray(np.moveaxis(win, -1, ax + 1))]


@kernel("one_hot")
def one_hot(
    ctx: KernelContext,
    indices: np.ndarray,
    one_hot_vector_size: Any,
    axis: Any = -1,
    on_value: Any = 1,
    off_value: Any = 0,
) -> list[np.ndarray]:
    """One-hot vectors of length ``one_hot_vector_size`` at ``axis`` of the output; indices outside
    ``[0, depth)`` give all-``off_value`` vectors (TensorFlow's rule)."""
    idx = np.asarray(indices).astype(np.int64)
    depth = as_int(one_hot_vector_size)
    if depth < 0:
        raise ctx.error(f"one_hot_vector_size must be >= 0, got {depth}")
    ax = norm_axis(ctx, as_int(axis), idx.ndim + 1)
    hot = idx[..., None] == np.arange(depth)
    hot = np.moveaxis(hot, -1, ax)
    on, off = np.asarray(on_value), np.asarray(off_value)
    return [np.where(hot, on, off)]


@kernel("non_zero")
def non_zero(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``[N, rank]`` int32 coordinates of the non-zero elements, row-major."""
    return [np.argwhere(np.asarray(x)).astype(np.int32)]
