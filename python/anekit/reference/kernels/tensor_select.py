"""Selecting kernels (docs/internals/mil-format.md §10.5): scatters, select, topk, argsort.

Scatter indices follow the bounds rule of :mod:`.tensor_index` (``check_indices``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_bool, as_int, as_str, norm_axis
from .tensor_index import check_indices

__all__: list[str] = []


_SCATTER_MODES = ("update", "add", "sub", "mul", "div", "max", "min")
_SCATTER_UFUNCS = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "max": np.maximum,
    "min": np.minimum,
}


def _apply_scatter(
    ctx: KernelContext, data: np.ndarray, coords: tuple[np.ndarray, ...], updates: np.ndarray, mode: Any
) -> np.ndarray:
    """Combine ``updates`` into a copy of ``data`` at ``coords``, one update at a time in row-major order
    (so repeated indices accumulate, and for ``update`` the last write wins)."""
    m = as_str(mode)
    if m not in _SCATTER_MODES:
        raise ctx.error(f"mode {m!r} is not one of {', '.join(_SCATTER_MODES)}")
    out = np.array(data, copy=True)
    upd = np.asarray(updates, dtype=out.dtype)
    if m == "update":
        flat = np.ravel_multi_index(tuple(c.reshape(-1) for c in coords), out.shape)
        # keep the last occurrence of each target (np.unique on the reversed order finds it)
        rev = flat[::-1]
        _, first_in_rev = np.unique(rev, return_index=True)
        keep = len(flat) - 1 - first_in_rev
        out.reshape(-1)[flat[keep]] = upd.reshape(-1)[keep]
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        _SCATTER_UFUNCS[m].at(out, coords, upd)
    return out


@kernel("scatter")
def scatter(
    ctx: KernelContext,
    data: np.ndarray,
    indices: np.ndarray,
    updates: np.ndarray,
    axis: Any = 0,
    mode: Any = "add",
    validate_indices: Any = False,
) -> list[np.ndarray]:
    """Combine ``updates`` (``data.shape[:axis] + indices.shape + data.shape[axis+1:]``) into ``data`` at
    ``indices`` along ``axis`` with ``mode`` ∈ update/add/sub/mul/div/max/min."""
    d = np.asarray(data)
    ax = norm_axis(ctx, as_int(axis), d.ndim)
    idx = check_indices(ctx, indices, d.shape[ax])
    u = np.asarray(updates)
    expect = d.shape[:ax] + idx.shape + d.shape[ax + 1 :]
    if u.shape != expect:
        raise ctx.error(f"updates shape {u.shape} != expected {expect}")
    grid = np.indices(u.shape, sparse=False)
    coords = (*grid[:ax], idx[tuple(grid[ax : ax + idx.ndim])], *grid[ax + idx.ndim :])
    return [_apply_scatter(ctx, d, tuple(coords), u, mode)]


@kernel("scatter_along_axis")
def scatter_along_axis(
    ctx: KernelContext,
    data: np.ndarray,
    indices: np.ndarray,
    updates: np.ndarray,
    axis: Any = 0,
    mode: Any = "add",
    validate_indices: Any = False,
) -> list[np.ndarray]:
    """Inverse of ``gather_along_axis``: ``updates[p]`` goes to ``data[p with p[axis] = indices[p]]``."""
    d = np.asarray(data)
    ax = norm_axis(ctx, as_int(axis), d.ndim)
    idx = check_indices(ctx, indices, d.shape[ax])
    u = np.asarray(updates)
    if u.shape != idx.shape or idx.ndim != d.ndim:
        raise ctx.error(f"indices {idx.shape} and updates {u.shape} must have one shape of rank {d.ndim}")
    grid = list(np.indices(u.shape))
    grid[ax] = idx
    return [_apply_scatter(ctx, d, tuple(grid), u, mode)]


@kernel("scatter_nd")
def scatter_nd(
    ctx: KernelContext,
    data: np.ndarray,
    indices: np.ndarray,
    updates: np.ndarray,
    mode: Any = "add",
    validate_indices: Any = False,
) -> list[np.ndarray]:
    """Scatter by index tuples: ``indices [*N, K]``, ``updates`` shape ``N + data.shape[K:]``."""
    d = np.asarray(data)
    ia = np.asarray(indices)
    u = np.asarray(updates)
    k = ia.shape[-1]
    nb = ia.ndim - 1
    if k > d.ndim or u.shape != ia.shape[:-1] + d.shape[k:]:
        raise ctx.error(f"indices {ia.shape} / updates {u.shape} do not fit data {d.shape}")
    grid = np.indices(u.shape)
    lead = ia[tuple(grid[:nb])] if nb else np.broadcast_to(ia, (*u.shape, k))
    coords = tuple(check_indices(ctx, lead[..., j], d.shape[j]) for j in range(k)) + tuple(grid[nb:])
    return [_apply_scatter(ctx, d, coords, u, mode)]


@kernel("select", preserves_values=True)
def select(ctx: KernelContext, cond: np.ndarray, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """``np.where(cond, a, b)`` with broadcasting."""
    return [np.where(np.asarray(cond, dtype=bool), a, b)]


def _sort_order(ctx: KernelContext, x: np.ndarray, axis: int, ascending: bool) -> np.ndarray:
    """Stable sort indices along ``axis``: ties keep the lower index first in both directions."""
    key = x if ascending else -(x.astype(np.int64) if x.dtype.kind in "ub" else x)
    return np.argsort(key, axis=axis, kind="stable")


@kernel("topk", preserves_values=True)
def topk(
    ctx: KernelContext,
    x: np.ndarray,
    k: Any = 1,
    axis: Any = -1,
    ascending: Any = False,
    sort: Any = True,
    return_indices: Any = True,
    output_indices_dtype: Any = "int32",
) -> list[np.ndarray]:
    """The ``k`` largest values along ``axis`` (smallest with ``ascending``) and their indices.

    Results are always sorted (a valid choice also for ``sort = false``, whose order is unspecified); ties
    keep the lower index first. ``k = -1`` (iOS17+) selects the whole axis.
    """
    xa = np.asarray(x)
    ax = norm_axis(ctx, as_int(axis), xa.ndim)
    kk = as_int(k)
    if kk == -1 and ctx.opset not in ("ios15", "ios16"):
        kk = xa.shape[ax]
    if not 1 <= kk <= xa.shape[ax]:
        raise ctx.error(f"k {kk} out of range for axis {ax} of size {xa.shape[ax]}")
    order = np.take(_sort_order(ctx, xa, ax, as_bool(ascending)), np.arange(kk), axis=ax)
    values = np.take_along_axis(xa, order, axis=ax)
    if not as_bool(return_indices):
        return [values]
    return [values, order.astype(np.dtype(as_str(output_indices_dtype)))]


@kernel("argsort")
def argsort(ctx: KernelContext, x: np.ndarray, axis: Any = -1, ascending: Any = False) -> list[np.ndarray]:
    """Indices (int32) that sort ``x`` along ``axis``, descending unless ``ascending``; stable."""
    xa = np.asarray(x)
    ax = norm_axis(ctx, as_int(axis), xa.ndim)
    return [_sort_order(ctx, xa, ax, as_bool(ascending)).astype(np.int32)]
