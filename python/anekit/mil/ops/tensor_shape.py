"""Shape-changing tensor ops: reshape, transpose, expand_dims, squeeze, concat, stack, split, tile, pad ...

Reference: docs/internals/mil-format.md §10.5; coremltools ``iOS15/tensor_transformation.py``,
``iOS15/tensor_operation.py`` and their iOS16/iOS17 overrides (iOS17 widens ``x`` to int8/uint8/int16/uint16
and changes reshape's ``0``). Output shapes that depend on a value that is not known at compile time get
``None`` (``?``) dimensions.
"""

from __future__ import annotations

from typing import ClassVar

from ..types import TensorType, Type
from ._base import Op, boolean
from ._infer import (
    FLOATS,
    IOS17_NUMERIC_BOOL,
    NUMERIC_BOOL,
    InferError,
    dims_equal,
    fmt_shape,
    merge_dim,
    normalize_axes,
    normalize_axis,
    prod,
)
from ._spec import InferContext, InputSpec, register_op
from .unary import x_dtype_scalar

__all__ = [
    "Concat",
    "ExpandDims",
    "Pad",
    "Reshape",
    "Split",
    "Squeeze",
    "Stack",
    "Tile",
    "Transpose",
]

X_HISTORY = (("ios15", NUMERIC_BOOL), ("ios17", IOS17_NUMERIC_BOOL))


class _ShapeOp(Op):
    category = "tensor"
    dtype_history: ClassVar = {"x": X_HISTORY}


@register_op("reshape", category="tensor")
class Reshape(_ShapeOp):
    """Same values, new shape.

    Args:
        x: ``tensor<[*D], T>``.
        shape: ``int32[K]`` (iOS17: int8/int16/int32), need not be const. ``-1`` infers one dim; ``0`` copies
            a dim: iOS15/16 only when ``K == rank(x)`` (same index), iOS17+ right-aligned against ``x.shape``
            with out-of-range zeros becoming 1 (docs/internals/mil-format.md §10.5).

    Returns:
        ``tensor<[K dims], T>``; all dims ``?`` when ``shape`` is not known at compile time.
    """

    inputs = (
        InputSpec("x", IOS17_NUMERIC_BOOL),
        InputSpec("shape", ("int8", "int16", "int32"), rank=(1,)),
    )
    dtype_history: ClassVar = {
        "x": X_HISTORY,
        "shape": (("ios15", ("int32",)), ("ios17", ("int8", "int16", "int32"))),
    }

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, s = cls.tensor(ctx, "x"), cls.tensor(ctx, "shape")
        k = s.shape[0]
        if k is None:
            raise InferError("the length of 'shape' must be known (the output rank)")
        target = cls.ints_value(ctx, "shape")
        if target is None:
            return [TensorType(x.dtype, (None,) * k)]
        out: list[int | None] = list(target)
        if out.count(-1) > 1:
            raise InferError(f"shape {target} has more than one -1")
        if any(d < -1 for d in out):
            raise InferError(f"shape {target} has a negative entry other than -1")
        if 0 in out:
            if ctx.opset in ("ios15", "ios16"):
                if len(out) != x.rank:
                    raise InferError(
                        f"shape {target} contains 0, so its length must equal rank(x) {x.rank} before ios17"
                    )
                out = [x.shape[i] if d == 0 else d for i, d in enumerate(out)]
            else:
                offset = x.rank - len(out)
                out = [(x.shape[i + offset] if i + offset >= 0 else 1) if d == 0 else d for i, d in enumerate(out)]
        total = x.numel
        if -1 in out:
            i = out.index(-1)
            rest = prod([d for j, d in enumerate(out) if j != i])
            if total is None or rest is None:
                out[i] = None
            elif rest == 0 or total % rest:
                raise InferError(f"cannot reshape {fmt_shape(x.shape)} ({total} elements) to {target}")
            else:
                out[i] = total // rest
        new_total = prod(out)
        if total is not None and new_total is not None and total != new_total:
            raise InferError(f"cannot reshape {fmt_shape(x.shape)} ({total} elements) to {target} ({new_total})")
        return [TensorType(x.dtype, tuple(out))]


@register_op("transpose", category="tensor")
class Transpose(_ShapeOp):
    """Permute dims: ``out.shape[i] = x.shape[perm[i]]``; ``perm`` const ``int32[rank(x)]``."""

    inputs = (
        InputSpec("x", IOS17_NUMERIC_BOOL),
        InputSpec("perm", ("int32",), const=True, rank=(1,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        perm = cls.ints_value(ctx, "perm")
        if perm is None:
            raise InferError("perm must be const")
        if len(perm) != x.rank:
            raise InferError(f"perm {perm} must have rank(x) = {x.rank} entries")
        axes = normalize_axes(perm, x.rank, "perm")
        return [TensorType(x.dtype, tuple(x.shape[a] for a in axes))]


@register_op("expand_dims", category="tensor")
class ExpandDims(_ShapeOp):
    """Insert size-1 dims at ``axes`` (const ``int32[K]``, each in ``[-rank-K, rank+K)`` of the output)."""

    inputs = (
        InputSpec("x", IOS17_NUMERIC_BOOL),
        InputSpec("axes", ("int32",), const=True, rank=(1,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        axes = cls.ints_value(ctx, "axes")
        if axes is None:
            raise InferError("axes must be const")
        if not axes:
            raise InferError("axes must not be empty")
        out_rank = x.rank + len(axes)
        shape: list[int | None] = list(x.shape)
        for a in sorted(normalize_axes(axes, out_rank)):
            shape.insert(a, 1)
        return [TensorType(x.dtype, tuple(shape))]


@register_op("squeeze", category="tensor")
class Squeeze(_ShapeOp):
    """Remove size-1 dims: ``axes`` (const ``int32[K]``, optional; default all size-1 dims, not materialised).

    With the default, unknown dims are assumed not to be 1 (coremltools). A named axis whose size is known
    must be 1.
    """

    inputs = (
        InputSpec("x", IOS17_NUMERIC_BOOL),
        InputSpec("axes", ("int32",), const=True, optional=True, rank=(1,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        if x.rank == 0:
            raise InferError("x must have rank >= 1")
        axes = cls.ints_value(ctx, "axes")
        if axes is None:
            if ctx.has("axes"):
                raise InferError("axes must be const")
            return [TensorType(x.dtype, tuple(d for d in x.shape if d != 1))]
        drop = set(normalize_axes(axes, x.rank))
        for a in drop:
            if x.shape[a] not in (1, None):
                raise InferError(f"cannot squeeze axis {a} of size {x.shape[a]}")
        return [TensorType(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in drop))]


def _values(cls: type[Op], ctx: InferContext) -> tuple[TensorType, ...]:
    values = cls.tuple_types(ctx, "values")
    allowed = cls.allowed_dtypes("values", ctx.opset)
    for v in values:
        if v.dtype != values[0].dtype:
            raise InferError(f"values must share one dtype, got {', '.join(str(v.dtype) for v in values)}")
        if allowed and v.dtype.name not in allowed:
            raise InferError(f"values dtype {v.dtype} not allowed; expected one of {', '.join(allowed)}")
    return values


@register_op("concat", category="tensor")
class Concat(_ShapeOp):
    """Concatenate ``values`` along ``axis``.

    Args:
        values: tuple of ``tensor<[d0, ..., d_axis_i, ..., dn], T>`` with equal rank and non-axis dims.
        axis: const int32 scalar (the ANE rejects ``tensor<int32, [1]>``, docs/internals/mil-format.md §11 rule 4).
        interleave: const bool, optional, default false (the ANE wants it given explicitly); when true all
            inputs must have identical shapes.

    Returns:
        ``tensor<[..., Σ d_axis_i, ...], T>``; scalars concatenate into a vector.
    """

    inputs = (
        InputSpec("values", IOS17_NUMERIC_BOOL, is_tuple=True),
        InputSpec("axis", ("int32",), const=True, rank=(0,)),
        InputSpec("interleave", ("bool",), const=True, optional=True, default=boolean(False), rank=(0,)),
    )
    dtype_history: ClassVar = {"values": X_HISTORY}

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        values = _values(cls, ctx)
        rank = values[0].rank
        if any(v.rank != rank for v in values):
            raise InferError(f"values must share one rank, got {[v.rank for v in values]}")
        axis = cls.int_value(ctx, "axis")
        if axis is None:
            raise InferError("axis must be const")
        if rank == 0:
            if axis not in (0, -1):
                raise InferError(f"axis {axis} out of range for scalar values")
            return [TensorType(values[0].dtype, (len(values),))]
        axis = normalize_axis(axis, rank)
        interleave = bool(cls.bool_value(ctx, "interleave"))
        shape: list[int | None] = list(values[0].shape)
        total: int | None = 0
        for v in values:
            for i in range(rank):
                if (i != axis or interleave) and not dims_equal(shape[i], v.shape[i]):
                    why = " (interleave needs identical shapes)" if i == axis else ""
                    raise InferError(f"dim {i} mismatch: {fmt_shape(values[0].shape)} vs {fmt_shape(v.shape)}{why}")
                if i != axis:
                    shape[i] = merge_dim(shape[i], v.shape[i])
            total = None if total is None or v.shape[axis] is None else total + v.shape[axis]
        shape[axis] = total
        return [TensorType(values[0].dtype, tuple(shape))]


@register_op("stack", category="tensor")
class Stack(_ShapeOp):
    """Stack equally shaped ``values`` along a new ``axis`` (const int32 in ``[-rank-1, rank]``)."""

    inputs = (
        InputSpec("values", IOS17_NUMERIC_BOOL, is_tuple=True),
        InputSpec("axis", ("int32",), const=True, rank=(0,)),
    )
    dtype_history: ClassVar = {"values": X_HISTORY}

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        values = _values(cls, ctx)
        shape: list[int | None] = list(values[0].shape)
        for v in values:
            if v.rank != len(shape) or not all(dims_equal(a, b) for a, b in zip(shape, v.shape, strict=True)):
                raise InferError(
                    f"values must have identical shapes: {fmt_shape(values[0].shape)} vs {fmt_shape(v.shape)}"
                )
            shape = [merge_dim(a, b) for a, b in zip(shape, v.shape, strict=True)]
        axis = cls.int_value(ctx, "axis")
        if axis is None:
            raise InferError("axis must be const")
        shape.insert(normalize_axis(axis, len(shape) + 1), len(values))
        return [TensorType(values[0].dtype, tuple(shape))]


@register_op("split", category="tensor")
class Split(_ShapeOp):
    """Split ``x`` along ``axis`` into several outputs (one line in text).

    Args:
        x: ``tensor<[*D], T>``.
        num_splits: const int32, optional: equal parts (``D[axis]`` must divide).
        split_sizes: const ``int32[S]``, optional: explicit sizes summing to ``D[axis]``.
        axis: const int32.

    Returns:
        One ``tensor<[*D'], T>`` per part. At least one of num_splits/split_sizes is required.
    """

    inputs = (
        InputSpec("x", NUMERIC_BOOL),
        InputSpec("num_splits", ("int32",), const=True, optional=True, rank=(0,)),
        InputSpec("split_sizes", ("int32",), const=True, optional=True, rank=(1,)),
        InputSpec("axis", ("int32",), const=True, rank=(0,)),
    )

    # No iOS17 override of split in coremltools: the iOS15 domain holds in every opset.
    dtype_history: ClassVar = {}

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        axis_v = cls.int_value(ctx, "axis")
        if axis_v is None:
            raise InferError("axis must be const")
        axis = normalize_axis(axis_v, x.rank)
        n = cls.int_value(ctx, "num_splits")
        sizes = cls.ints_value(ctx, "split_sizes")
        dim = x.shape[axis]
        if sizes is None and ctx.has("split_sizes"):
            raise InferError("split_sizes must be const")
        if sizes is not None:
            if n is not None and n != len(sizes):
                raise InferError(f"num_splits {n} != len(split_sizes) {len(sizes)}")
            if any(s < 0 for s in sizes) or (dim is not None and sum(sizes) != dim):
                raise InferError(f"split_sizes {sizes} must be >= 0 and sum to dim {axis} size {dim}")
            parts: list[int | None] = list(sizes)
        elif n is not None:
            if n < 1:
                raise InferError(f"num_splits must be >= 1, got {n}")
            if dim is not None and dim % n:
                raise InferError(f"num_splits {n} does not divide dim {axis} size {dim}")
            parts = [None if dim is None else dim // n] * n
        else:
            raise InferError("one of num_splits or split_sizes is required")
        out = []
        for p in parts:
            shape = list(x.shape)
            shape[axis] = p
            out.append(TensorType(x.dtype, tuple(shape)))
        return out


@register_op("tile", category="tensor")
class Tile(_ShapeOp):
    """``np.tile(x, reps)``; ``reps`` ``int32[rank(x)]`` with entries ≥ 1 (need not be const)."""

    inputs = (InputSpec("x", NUMERIC_BOOL), InputSpec("reps", ("int32",), rank=(1,)))
    # No iOS17 override of tile in coremltools: the iOS15 domain holds in every opset.
    dtype_history: ClassVar = {}

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, r = cls.tensor(ctx, "x"), cls.tensor(ctx, "reps")
        if not dims_equal(r.shape[0], x.rank):
            raise InferError(f"reps must have rank(x) = {x.rank} entries, got {r.shape[0]}")
        reps = cls.ints_value(ctx, "reps")
        if reps is None:
            return [TensorType(x.dtype, (None,) * x.rank)]
        if len(reps) != x.rank:
            raise InferError(f"reps must have rank(x) = {x.rank} entries, got {reps}")
        if any(v < 1 for v in reps):
            raise InferError(f"reps entries must be >= 1, got {reps}")
        return [
            TensorType(
                x.dtype,
                tuple(None if d is None else d * k for d, k in zip(x.shape, reps, strict=True)),
            )
        ]


_PAD_MODES = ("constant", "reflect", "replicate")


@register_op("pad", category="tensor")
class Pad(Op):
    """Pad the last N dims of ``x``.

    Args:
        x: ``tensor<[*D], T>``, T ∈ {fp16, fp32}.
        pad: ``int32[2N]`` before/after pairs for the last N dims in dim order; a non-const pad must cover
            all dims (N = rank).
        mode: const string ``constant`` | ``reflect`` | ``replicate``, default ``constant``. reflect pads
            are at most ``D − 1``, replicate pads at most ``D``.
        constant_val: const T scalar, default 0 (ignored unless ``constant``).

    Returns:
        ``tensor<[*D'], T>``.
    """

    inputs = (
        InputSpec("x", FLOATS),
        InputSpec("pad", ("int32",), rank=(1,)),
        InputSpec("mode", ("string",), const=True, optional=True, default="constant", rank=(0,)),
        InputSpec(
            "constant_val",
            FLOATS,
            const=True,
            optional=True,
            same_dtype_as="x",
            rank=(0,),
            default=x_dtype_scalar(0.0),
        ),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, p = cls.tensor(ctx, "x"), cls.tensor(ctx, "pad")
        mode = cls.choice(ctx, "mode", _PAD_MODES) or "constant"
        pads = cls.ints_value(ctx, "pad")
        shape: list[int | None] = list(x.shape)
        if pads is None:
            if not dims_equal(p.shape[0], 2 * x.rank):
                raise InferError(f"a non-const pad must have 2*rank(x) = {2 * x.rank} entries, got {p.shape[0]}")
            return [TensorType(x.dtype, (None,) * x.rank)]
        if len(pads) % 2 or len(pads) // 2 > x.rank:
            raise InferError(f"pad must have an even number of entries <= 2*rank(x) = {2 * x.rank}, got {pads}")
        if any(v < 0 for v in pads):
            raise InferError(f"pad entries must be >= 0, got {pads}")
        n = len(pads) // 2
        for i in range(n):
            axis = x.rank - n + i
            before, after = pads[2 * i], pads[2 * i + 1]
            d = shape[axis]
            limit = None if d is None else (d - 1 if mode == "reflect" else d if mode == "replicate" else None)
            if limit is not None and max(before, after) > limit:
                raise InferError(f"{mode} pad {before},{after} on dim {axis} of size {d} exceeds {limit}")
            shape[axis] = None if d is None else d + before + after
        return [TensorType(x.dtype, tuple(shape))]
