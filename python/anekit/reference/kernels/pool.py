"""Pooling kernels: avg_pool, max_pool, l2_pool over 1-D to 3-D windows (coremltools iOS15 pool.py).

Pad types follow conv (docs/internals/mil-format.md §10.1). With ``ceil_mode`` the last window may hang past the padded
input; the overhang holds no values (it is ignored by max, and never counted by the average), while explicit
padding counts as zeros unless ``exclude_padding_from_average`` (PyTorch's ``count_include_pad`` rule).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._registry import KernelContext, kernel
from ._util import as_bool, as_int_tuple, as_str
from .conv import conv_pads

__all__: list[str] = []


def _out_size(d: int, k: int, s: int, total: int, ceil: bool) -> int:
    """Output length (the spec's rule, mil/ops/_infer.pool_output_dim)."""
    if ceil:
        out = (d + total - k + s - 1) // s + 1
        if (out - 1) * s >= d + total / 2 and total > 0:
            out -= 1
        return out
    return (d + total - k) // s + 1


def _windows(
    ctx: KernelContext, x: np.ndarray, kernel_sizes: Any, strides: Any, pad_type: Any, pad: Any, ceil_mode: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """Strided window views ``[N, C, *out, *K]`` of the values (NaN where there is no element), of a
    "real element" mask and of an "inside the padded input" mask, and the window axes (the last ``len(K)``)
    the pools reduce over."""
    xa = np.asarray(x)
    nsp = xa.ndim - 2
    ks = as_int_tuple(kernel_sizes)
    st = as_int_tuple(strides) if strides is not None else (1,) * nsp
    if nsp < 1 or len(ks) != nsp or len(st) != nsp or min(ks + st) < 1:
        raise ctx.error(f"kernel_sizes {list(ks)} / strides {list(st)} do not fit x {xa.shape}")
    pads = conv_pads(ctx, as_str(pad_type), pad, xa.shape[2:], ks, st)
    ceil = as_bool(ceil_mode)
    outs = tuple(_out_size(d, k, s, b + a, ceil) for d, k, s, (b, a) in zip(xa.shape[2:], ks, st, pads, strict=True))
    if min(outs) < 1:
        raise ctx.error(f"empty output for x {xa.shape}, kernel {list(ks)}, pads {pads}")
    # Extend the end so every window fits; the extension is "overhang" (not padding, not data).
    ext = [
        max(0, (o - 1) * s + k - (d + b + a))
        for o, s, k, d, (b, a) in zip(outs, st, ks, xa.shape[2:], pads, strict=True)
    ]
    widths = [(0, 0), (0, 0)] + [(b, a + e) for (b, a), e in zip(pads, ext, strict=True)]
    vals = np.pad(xa, widths, constant_values=np.nan)
    real = np.pad(np.ones(xa.shape[2:], bool), widths[2:], constant_values=False)
    inside = np.pad(
        np.ones([d + b + a for d, (b, a) in zip(xa.shape[2:], pads, strict=True)], bool),
        [(0, e) for e in ext],
        constant_values=False,
    )
    sl = tuple(slice(None, (o - 1) * s + 1, s) for o, s in zip(outs, st, strict=True))
    axes = tuple(range(2, 2 + nsp))
    v = sliding_window_view(vals, ks, axis=axes)[(slice(None), slice(None), *sl)]
    r = sliding_window_view(real, ks)[sl]
    i = sliding_window_view(inside, ks)[sl]
    return v, r, i, tuple(range(-nsp, 0))


@kernel("max_pool")
def max_pool(
    ctx: KernelContext,
    x: np.ndarray,
    kernel_sizes: Any,
    pad_type: Any,
    strides: Any = None,
    pad: Any = None,
    ceil_mode: Any = False,
) -> list[np.ndarray]:
    """Maximum over each window (padding never wins)."""
    v, r, _, axes = _windows(ctx, x, kernel_sizes, strides, pad_type, pad, ceil_mode)
    return [np.max(np.where(r, v, -np.inf), axis=axes).astype(np.asarray(x).dtype)]


@kernel("avg_pool")
def avg_pool(
    ctx: KernelContext,
    x: np.ndarray,
    kernel_sizes: Any,
    pad_type: Any,
    strides: Any = None,
    pad: Any = None,
    ceil_mode: Any = False,
    exclude_padding_from_average: Any = False,
) -> list[np.ndarray]:
    """Mean over each window; the divisor counts padding unless ``exclude_padding_from_average``."""
    v, r, i, axes = _windows(ctx, x, kernel_sizes, strides, pad_type, pad, ceil_mode)
    total = np.sum(np.where(r, v, 0), axis=axes)
    count = np.sum(r if as_bool(exclude_padding_from_average) else i, axis=axes)
    return [(total / np.maximum(count, 1)).astype(np.asarray(x).dtype)]


@kernel("l2_pool")
def l2_pool(
    ctx: KernelContext,
    x: np.ndarray,
    kernel_sizes: Any,
    pad_type: Any,
    strides: Any = None,
    pad: Any = None,
    ceil_mode: Any = False,
) -> list[np.ndarray]:
    """``sqrt(Σ x²)`` over each window."""
    v, r, _, axes = _windows(ctx, x, kernel_sizes, strides, pad_type, pad, ceil_mode)
    return [np.sqrt(np.sum(np.where(r, v * v, 0), axis=axes)).astype(np.asarray(x).dtype)]
