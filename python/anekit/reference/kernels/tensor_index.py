"""Indexing kernels (docs/internals/mil-format.md §10.5-§10.6): slices and gathers.

Bounds rule for every gather (and, in tensor_select.py, every scatter) — anekit's definition, stricter than
the device where the device is undefined: indices must lie in ``[-D, D)`` up to iOS16, where negative values
wrap, and in ``[0, D)`` from iOS17, where negative indices are out of bounds (docs/internals/mil-format.md §10.5). An
out-of-bounds index raises a MILError whatever ``validate_indices`` says — iOS17 leaves that case undefined,
and a reference must not invent a value silently.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_int, as_int_tuple, norm_axis

__all__ = ["check_indices"]


def _bools(v: Any, rank: int) -> list[bool]:
    return [False] * rank if v is None else [bool(b) for b in np.asarray(v).reshape(-1)]


def _slices(
    ctx: KernelContext,
    shape: tuple[int, ...],
    begin: Any,
    end: Any,
    stride: Any,
    begin_mask: Any,
    end_mask: Any,
    squeeze_mask: Any,
) -> tuple[tuple[slice | int, ...], list[int]]:
    """Python slices per axis (masks → open ends, squeeze → one index) and the squeezed axes."""
    rank = len(shape)
    b, e = list(as_int_tuple(begin)), list(as_int_tuple(end))
    s = list(as_int_tuple(stride)) if stride is not None else [1] * rank
    bm, em, sm = _bools(begin_mask, rank), _bools(end_mask, rank), _bools(squeeze_mask, rank)
    if not all(len(v) == rank for v in (b, e, s, bm, em, sm)):
        raise ctx.error(f"begin/end/stride/masks must all have rank(x) = {rank} entries")
    if any(v == 0 for v in s):
        raise ctx.error(f"stride entries must be non-zero, got {s}")
    out: list[slice | int] = []
    squeezed = []
    for i in range(rank):
        if sm[i]:
            start = 0 if bm[i] else b[i]
            if not -shape[i] <= start < shape[i]:
                raise ctx.error(f"squeezed index {start} out of range for axis {i} of size {shape[i]}")
            out.append(start % shape[i])
            squeezed.append(i)
        else:
            out.append(slice(None if bm[i] else b[i], None if em[i] else e[i], s[i]))
    return tuple(out), squeezed


@kernel("slice_by_index", preserves_values=True)
def slice_by_index(
    ctx: KernelContext,
    x: np.ndarray,
    begin: Any,
    end: Any,
    stride: Any = None,
    begin_mask: Any = None,
    end_mask: Any = None,
    squeeze_mask: Any = None,
) -> list[np.ndarray]:
    """numpy slicing ``x[b0:e0:s0, …]`` (negative indices wrap, out-of-range ends clamp); ``begin_mask[i]`` /
    ``end_mask[i]`` open the range at that end; ``squeeze_mask[i]`` takes ``begin[i]`` and drops the axis."""
    xa = np.asarray(x)
    sl, _ = _slices(ctx, xa.shape, begin, end, stride, begin_mask, end_mask, squeeze_mask)
    return [np.array(xa[sl])]


@kernel("slice_update")
def slice_update(
    ctx: KernelContext,
    x: np.ndarray,
    update: np.ndarray,
    begin: Any,
    end: Any,
    stride: Any = None,
    begin_mask: Any = None,
    end_mask: Any = None,
    squeeze_mask: Any = None,
) -> list[np.ndarray]:
    """``x`` with the slice selected as in ``slice_by_index`` replaced by ``update``."""
    xa = np.array(x, copy=True)
    sl, _ = _slices(ctx, xa.shape, begin, end, stride, begin_mask, end_mask, squeeze_mask)
    target = xa[sl]
    u = np.asarray(update, dtype=xa.dtype)
    if u.size != np.size(target):
        raise ctx.error(f"update shape {u.shape} does not fit the slice shape {np.shape(target)}")
    xa[sl] = u.reshape(np.shape(target))
    return [xa]


@kernel("slice_by_size", preserves_values=True)
def slice_by_size(ctx: KernelContext, x: np.ndarray, begin: Any, size: Any) -> list[np.ndarray]:
    """``x[b : b + size]`` per axis; ``size = -1`` takes the rest of the axis."""
    xa = np.asarray(x)
    b, sz = as_int_tuple(begin), as_int_tuple(size)
    if len(b) != xa.ndim or len(sz) != xa.ndim:
        raise ctx.error(f"begin and size must have rank(x) = {xa.ndim} entries")
    sl = []
    for i, (bb, ss) in enumerate(zip(b, sz, strict=True)):
        d = xa.shape[i]
        start = bb + d if bb < 0 else bb
        stop = d if ss == -1 else start + ss
        if not (0 <= start <= stop <= d) or ss < -1:
            raise ctx.error(f"slice [{bb}, size {ss}] out of range for axis {i} of size {d}")
        sl.append(slice(start, stop))
    return [np.array(xa[tuple(sl)])]


def check_indices(ctx: KernelContext, idx: np.ndarray, dim: int, what: str = "indices") -> np.ndarray:
    """Indices as int64 in ``[0, dim)`` after the opset's bounds rule (see the module docstring)."""
    i = np.asarray(idx).astype(np.int64)
    lo = 0 if ctx.opset not in ("ios15", "ios16") else -dim
    if i.size and (i.min() < lo or i.max() >= dim):
        bad = i[(i < lo) | (i >= dim)].reshape(-1)[:5].tolist()
        raise ctx.error(f"{what} out of bounds [{lo}, {dim}) in {ctx.opset}: {bad}")
    return np.where(i < 0, i + dim, i)


@kernel("gather", preserves_values=True)
def gather(
    ctx: KernelContext,
    x: np.ndarray,
    indices: np.ndarray,
    axis: Any = 0,
    batch_dims: Any = 0,
    validate_indices: Any = False,
) -> list[np.ndarray]:
    """``x.shape[:axis] + indices.shape[batch_dims:] + x.shape[axis+1:]``: slices of ``x`` along ``axis``;
    the first ``batch_dims`` dims of ``x`` and ``indices`` are matched pairwise."""
    xa = np.asarray(x)
    ax = norm_axis(ctx, as_int(axis), xa.ndim)
    bd = as_int(batch_dims)
    idx = check_indices(ctx, indices, xa.shape[ax])
    if bd == 0:
        return [np.take(xa, idx, axis=ax)]
    if not 0 < bd <= ax or xa.shape[:bd] != idx.shape[:bd]:
        raise ctx.error(f"batch_dims {bd} must be <= axis {ax} with equal leading dims of x and indices")
    batch = xa.shape[:bd]
    xb = xa.reshape(-1, *xa.shape[bd:])
    ib = idx.reshape(-1, *idx.shape[bd:])
    parts = [np.take(xb[i], ib[i], axis=ax - bd) for i in range(xb.shape[0])]
    return [np.stack(parts).reshape(*batch, *parts[0].shape)]


@kernel("gather_along_axis", preserves_values=True)
def gather_along_axis(
    ctx: KernelContext, x: np.ndarray, indices: np.ndarray, axis: Any = 0, validate_indices: Any = False
) -> list[np.ndarray]:
    """``np.take_along_axis(x, indices, axis)``."""
    xa = np.asarray(x)
    ax = norm_axis(ctx, as_int(axis), xa.ndim)
    return [np.take_along_axis(xa, check_indices(ctx, indices, xa.shape[ax]), axis=ax)]


@kernel("gather_nd", preserves_values=True)
def gather_nd(
    ctx: KernelContext, x: np.ndarray, indices: np.ndarray, batch_dims: Any = 0, validate_indices: Any = False
) -> list[np.ndarray]:
    """Gather by index tuples: ``indices [*N, K]`` address the first K (non-batch) dims of ``x``; the
    output is ``indices.shape[:-1] + x.shape[batch_dims + K:]``."""
    xa = np.asarray(x)
    ia = np.asarray(indices)
    bd = as_int(batch_dims)
    k = ia.shape[-1]
    if bd + k > xa.ndim or xa.shape[:bd] != ia.shape[:bd]:
        raise ctx.error(f"indices {ia.shape} with batch_dims {bd} do not fit x {xa.shape}")
    xb = xa.reshape(-1, *xa.shape[bd:])
    ib = ia.reshape(-1, *ia.shape[bd:])
    parts = []
    for b in range(xb.shape[0]):
        cols = tuple(check_indices(ctx, ib[b][..., j], xb.shape[1 + j]) for j in range(k))
        parts.append(xb[b][cols])
    return [np.stack(parts).reshape(*ia.shape[:-1], *xa.shape[bd + k :])]
