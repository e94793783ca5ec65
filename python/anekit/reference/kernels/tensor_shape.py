"""Shape kernels (docs/internals/mil-format.md §10.5): reshape, transpose, expand/squeeze, concat/stack/split, tile,
pad."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_bool, as_int, as_int_tuple, as_str, norm_axes, norm_axis

__all__ = ["reshape_target"]


def reshape_target(ctx: KernelContext, in_shape: tuple[int, ...], shape: Any) -> tuple[int, ...]:
    """Resolve a MIL reshape ``shape`` against ``in_shape``: ``-1`` infers one dim; ``0`` copies a dim —
    iOS15/16 only when ``len(shape) == rank`` (same index), iOS17+ right-aligned against ``in_shape`` with
    out-of-range zeros becoming 1 (docs/internals/mil-format.md §10.5)."""
    target = list(as_int_tuple(shape))
    if 0 in target:
        if ctx.opset in ("ios15", "ios16"):
            if len(target) != len(in_shape):
                raise ctx.error(f"shape {target} has a 0 but its length differs from rank {len(in_shape)}")
            target = [in_shape[i] if d == 0 else d for i, d in enumerate(target)]
        else:
            off = len(in_shape) - len(target)
            target = [(in_shape[i + off] if i + off >= 0 else 1) if d == 0 else d for i, d in enumerate(target)]
    total = math.prod(in_shape)
    if target.count(-1) > 1 or any(d < -1 for d in target):
        raise ctx.error(f"invalid reshape target {target}")
    if -1 in target:
        rest = math.prod(d for d in target if d != -1)
        if rest == 0 or total % rest:
            raise ctx.error(f"cannot reshape {list(in_shape)} to {target}")
        target[target.index(-1)] = total // rest
    if math.prod(target) != total:
        raise ctx.error(f"cannot reshape {list(in_shape)} ({total} elements) to {target}")
    return tuple(target)


@kernel("reshape", preserves_values=True)
def reshape(ctx: KernelContext, x: np.ndarray, shape: Any) -> list[np.ndarray]:
    """Same values (row-major order), new shape."""
    xa = np.asarray(x)
    return [xa.reshape(reshape_target(ctx, xa.shape, shape))]


@kernel("transpose", preserves_values=True)
def transpose(ctx: KernelContext, x: np.ndarray, perm: Any) -> list[np.ndarray]:
    """``np.transpose(x, perm)``."""
    xa = np.asarray(x)
    p = as_int_tuple(perm)
    if sorted(norm_axis(ctx, a, xa.ndim) for a in p) != list(range(xa.ndim)):
        raise ctx.error(f"perm {list(p)} is not a permutation of the {xa.ndim} axes")
    return [np.transpose(xa, p)]


@kernel("expand_dims", preserves_values=True)
def expand_dims(ctx: KernelContext, x: np.ndarray, axes: Any) -> list[np.ndarray]:
    """Insert size-1 dims at ``axes`` (positions in the output; negative ones count from its end)."""
    xa = np.asarray(x)
    ax = as_int_tuple(axes)
    out_rank = xa.ndim + len(ax)
    norm = [norm_axis(ctx, a, out_rank, what="axes entry") for a in ax]
    if len(set(norm)) != len(norm):
        raise ctx.error(f"axes {list(ax)} repeat a position")
    return [np.expand_dims(xa, tuple(norm))]


@kernel("squeeze", preserves_values=True)
def squeeze(ctx: KernelContext, x: np.ndarray, axes: Any = None) -> list[np.ndarray]:
    """Remove the size-1 dims ``axes`` (default: every size-1 dim)."""
    xa = np.asarray(x)
    if axes is None:
        return [xa.reshape(tuple(d for d in xa.shape if d != 1))]
    ax = norm_axes(ctx, axes, xa.ndim)
    if any(xa.shape[a] != 1 for a in ax):
        raise ctx.error(f"cannot squeeze axes {list(ax)} of shape {list(xa.shape)}")
    return [xa.reshape(tuple(d for i, d in enumerate(xa.shape) if i not in ax))]


@kernel("concat", preserves_values=True)
def concat(ctx: KernelContext, values: tuple[np.ndarray, ...], axis: Any, interleave: Any = False) -> list[np.ndarray]:
    """Concatenate along ``axis``; with ``interleave`` all inputs have one shape and their slices alternate
    (``out[0::n] = values[0]``, ``out[1::n] = values[1]`` ... along the axis)."""
    arrays = [np.asarray(v) for v in values]
    if arrays[0].ndim == 0:
        # Scalars concatenate into a vector (coremltools' value_inference stacks them).
        arrays = [a.reshape(1) for a in arrays]
    ax = norm_axis(ctx, as_int(axis), arrays[0].ndim)
    if not as_bool(interleave):
        return [np.concatenate(arrays, axis=ax)]
    if any(a.shape != arrays[0].shape for a in arrays):
        raise ctx.error(f"interleave needs equal shapes, got {[a.shape for a in arrays]}")
    stacked = np.stack(arrays, axis=ax + 1)
    shape = list(arrays[0].shape)
    shape[ax] *= len(arrays)
    return [stacked.reshape(shape)]


@kernel("stack", preserves_values=True)
def stack(ctx: KernelContext, values: tuple[np.ndarray, ...], axis: Any) -> list[np.ndarray]:
    """Stack equal-shaped tensors along a new ``axis``."""
    arrays = [np.asarray(v) for v in values]
    return [np.stack(arrays, axis=norm_axis(ctx, as_int(axis), arrays[0].ndim + 1))]


@kernel("split", preserves_values=True)
def split(
    ctx: KernelContext, x: np.ndarray, axis: Any, num_splits: Any = None, split_sizes: Any = None
) -> list[np.ndarray]:
    """Split along ``axis`` into ``num_splits`` equal parts or parts of ``split_sizes``."""
    xa = np.asarray(x)
    ax = norm_axis(ctx, as_int(axis), xa.ndim)
    d = xa.shape[ax]
    if split_sizes is not None:
        sizes = list(as_int_tuple(split_sizes))
    elif num_splits is not None:
        n = as_int(num_splits)
        if n < 1 or d % n:
            raise ctx.error(f"num_splits {n} does not divide dim {d}")
        sizes = [d // n] * n
    else:
        raise ctx.error("one of num_splits or split_sizes is required")
    if sum(sizes) != d or any(s < 0 for s in sizes):
        raise ctx.error(f"split_sizes {sizes} do not sum to dim {d}")
    return list(np.split(xa, np.cumsum(sizes)[:-1], axis=ax))


@kernel("tile", preserves_values=True)
def tile(ctx: KernelContext, x: np.ndarray, reps: Any) -> list[np.ndarray]:
    """``np.tile(x, reps)`` with ``len(reps) == rank(x)``."""
    xa = np.asarray(x)
    r = as_int_tuple(reps)
    if len(r) != xa.ndim or any(v < 1 for v in r):
        raise ctx.error(f"reps {list(r)} must have rank(x) = {xa.ndim} entries >= 1")
    return [np.tile(xa, r)]


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}


@kernel("pad")
def pad(
    ctx: KernelContext, x: np.ndarray, pad: Any, mode: Any = "constant", constant_val: Any = 0.0
) -> list[np.ndarray]:
    """Pad the last N dims: ``pad = [d0_before, d0_after, …]`` for those dims in order; ``constant``
    fills ``constant_val``, ``reflect`` mirrors without repeating the edge, ``replicate`` repeats the edge."""
    xa = np.asarray(x)
    p = as_int_tuple(pad)
    m = as_str(mode)
    if m not in _PAD_MODES:
        raise ctx.error(f"mode {m!r} is not one of constant, reflect, replicate")
    if len(p) % 2 or len(p) // 2 > xa.ndim or any(v < 0 for v in p):
        raise ctx.error(f"pad {list(p)} must be non-negative before/after pairs for at most {xa.ndim} dims")
    n = len(p) // 2
    widths = [(0, 0)] * (xa.ndim - n) + [(p[2 * i], p[2 * i + 1]) for i in range(n)]
    for (b, a), d in zip(widths, xa.shape, strict=True):
        limit = d - 1 if m == "reflect" else d if m == "replicate" else None
        if limit is not None and max(b, a) > limit:
            raise ctx.error(f"{m} pad ({b}, {a}) exceeds {limit} for a dim of size {d}")
    if m == "constant":
        return [np.pad(xa, widths, mode="constant", constant_values=np.asarray(constant_val, xa.dtype))]
    return [np.pad(xa, widths, mode=_PAD_MODES[m])]
