"""Indexing ops: slices, gathers, scatters, ``select``, ``topk`` and ``argsort``.

Reference: docs/internals/mil-format.md §10.5-§10.6; coremltools ``iOS15/scatter_gather.py``,
``iOS15/tensor_transformation.py`` (slices), ``iOS15/tensor_operation.py`` (topk, argsort), and the iOS16
(``batch_dims``, int16/uint16 indices), iOS17 (``validate_indices``, small-int data, ``output_indices_dtype``)
and iOS18 (``slice_update``) overrides.
"""

from __future__ import annotations

from typing import ClassVar

from ..types import TensorType, Type
from ._base import Op, boolean, i32
from ._infer import (
    IOS17_NUMERIC_BOOL,
    NUMERIC,
    NUMERIC_BOOL,
    InferError,
    dims_equal,
    fmt_shape,
    normalize_axis,
    slice_by_index_shape,
)
from ._spec import InferContext, InputSpec, register_op

__all__ = [
    "IDX_HISTORY",
    "IDX_TYPES",
    "INDICES",
    "INDICES_HISTORY",
    "X_HISTORY",
    "Gather",
    "GatherAlongAxis",
    "GatherNd",
    "SliceByIndex",
    "SliceBySize",
    "SliceUpdate",
    "validate_indices_input",
]

X_HISTORY = (("ios15", NUMERIC_BOOL), ("ios17", IOS17_NUMERIC_BOOL))
IDX_TYPES = ("int8", "int16", "int32")
IDX_HISTORY = (("ios15", ("int32",)), ("ios17", IDX_TYPES))
_DATA17 = ("fp16", "fp32", "int32", "int16", "uint16", "int8", "uint8")
_DATA_HISTORY = (("ios15", NUMERIC), ("ios17", _DATA17))
INDICES = ("int32", "int16", "uint16", "int8", "uint8")
INDICES_HISTORY = (
    ("ios15", ("int32",)),
    ("ios16", ("int32", "int16", "uint16")),
    ("ios17", INDICES),
)


def _vector_len(cls: type[Op], ctx: InferContext, name: str, rank: int) -> None:
    t = cls.opt_tensor(ctx, name)
    if t is not None and (t.rank != 1 or not dims_equal(t.shape[0], rank)):
        raise InferError(f"'{name}' must be a vector of rank(x) = {rank} entries, got {fmt_shape(t.shape)}")


class _SliceMasks(Op):
    """Shared mask handling of ``slice_by_index`` and ``slice_update``."""

    category = "tensor"

    @classmethod
    def _slice_shape(cls, ctx: InferContext, x: TensorType) -> tuple[int | None, ...]:
        r = x.rank
        for name in ("begin", "end", "stride", "begin_mask", "end_mask", "squeeze_mask"):
            _vector_len(cls, ctx, name, r)
        stride = cls.ints_value(ctx, "stride") or [1] * r
        if ctx.has("stride") and ctx.value("stride") is None:
            raise InferError("stride must be const")
        masks = []
        for name in ("begin_mask", "end_mask", "squeeze_mask"):
            m = cls.bools_value(ctx, name)
            masks.append([False] * r if m is None else m)
        return slice_by_index_shape(x.shape, cls.ints_value(ctx, "begin"), cls.ints_value(ctx, "end"), stride, *masks)


def _slice_inputs() -> tuple[InputSpec, ...]:
    return (
        InputSpec("begin", IDX_TYPES, rank=(1,)),
        InputSpec("end", IDX_TYPES, rank=(1,)),
        InputSpec("stride", IDX_TYPES, const=True, optional=True, rank=(1,)),
        InputSpec("begin_mask", ("bool",), const=True, optional=True, rank=(1,)),
        InputSpec("end_mask", ("bool",), const=True, optional=True, rank=(1,)),
        InputSpec("squeeze_mask", ("bool",), const=True, optional=True, rank=(1,)),
    )


@register_op("slice_by_index", category="tensor")
class SliceByIndex(_SliceMasks):
    """NumPy slicing ``x[b0:e0:s0, ...]`` with masks.

    Args:
        x: ``tensor<[*D], T>``.
        begin, end: ``int32[rank]`` (iOS17: int8/int16/int32); need not be const.
        stride: const ``int32[rank]``, optional, default ones (not materialised).
        begin_mask, end_mask, squeeze_mask: const ``bool[rank]``, optional, default all false (not
            materialised); ``squeeze_mask[i]`` takes ``begin[i]`` and drops the axis.

    Returns:
        ``tensor<[*D'], T>``; dims that depend on unknown begin/end are ``?``.
    """

    inputs = (InputSpec("x", IOS17_NUMERIC_BOOL), *_slice_inputs())
    dtype_history: ClassVar = {
        "x": X_HISTORY,
        "begin": IDX_HISTORY,
        "end": IDX_HISTORY,
        "stride": IDX_HISTORY,
    }

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        return [TensorType(x.dtype, cls._slice_shape(ctx, x))]


@register_op("slice_update", category="tensor")
class SliceUpdate(_SliceMasks):
    """Write ``update`` into the slice of ``x`` selected as in ``slice_by_index`` (iOS18; KV-cache writes).

    Returns ``x``'s type; ``update`` must have the slice's shape.
    """

    inputs = (
        InputSpec("x", IOS17_NUMERIC_BOOL),
        InputSpec("update", IOS17_NUMERIC_BOOL, same_dtype_as="x"),
        *_slice_inputs(),
    )
    min_opset = "ios18"

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, u = cls.tensor(ctx, "x"), cls.tensor(ctx, "update")
        shape = cls._slice_shape(ctx, x)
        if u.rank != len(shape) or not all(dims_equal(a, b) for a, b in zip(u.shape, shape, strict=True)):
            raise InferError(f"update shape {fmt_shape(u.shape)} != slice shape {fmt_shape(shape)}")
        return [x]


@register_op("slice_by_size", category="tensor")
class SliceBySize(Op):
    """``x[b:b+size]`` per axis; ``size`` −1 means "to the end". ``begin``, ``size`` ``int32[rank]``.

    ANE: the basis of dynamic weights (docs/internals/mil-format.md §8.5).
    """

    inputs = (
        InputSpec("x", IOS17_NUMERIC_BOOL),
        InputSpec("begin", IDX_TYPES, rank=(1,)),
        InputSpec("size", IDX_TYPES, rank=(1,)),
    )
    dtype_history: ClassVar = {"x": X_HISTORY, "begin": IDX_HISTORY, "size": IDX_HISTORY}

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        _vector_len(cls, ctx, "begin", x.rank)
        _vector_len(cls, ctx, "size", x.rank)
        begin, size = cls.ints_value(ctx, "begin"), cls.ints_value(ctx, "size")
        if size is None:
            return [TensorType(x.dtype, (None,) * x.rank)]
        for name, vec in (("begin", begin), ("size", size)):
            if vec is not None and len(vec) != x.rank:
                raise InferError(f"'{name}' must have rank(x) = {x.rank} entries, got {vec}")
        out: list[int | None] = []
        for i, (d, s) in enumerate(zip(x.shape, size, strict=True)):
            b = None if begin is None else begin[i]
            if b is not None and d is not None:
                if not -d <= b < max(d, 1):
                    raise InferError(f"begin[{i}] = {b} out of range for dim {d}")
                b = b + d if b < 0 else b
            if s == -1:
                out.append(None if b is None or d is None else d - b)
            elif s < 0:
                raise InferError(f"size[{i}] = {s}; expected >= 0 or -1")
            else:
                if b is not None and d is not None and b + s > d:
                    raise InferError(f"slice [{b}, {b + s}) exceeds dim {i} of size {d}")
                out.append(s)
        return [TensorType(x.dtype, tuple(out))]


class _GatherBase(Op):
    category = "tensor"

    @classmethod
    def _validate_indices_value(cls, ctx: InferContext, upper: int | None) -> None:
        """iOS17 ``validate_indices``: const indices must be in ``[0, upper)`` (negative ones are invalid)."""
        if not cls.bool_value(ctx, "validate_indices") or upper is None:
            return
        idx = cls.value_array(ctx, "indices")
        if idx is not None and idx.size and (idx.min() < 0 or idx.max() >= upper):
            raise InferError(f"indices out of bounds [0, {upper}) with validate_indices")

    @staticmethod
    def _check_batch_dims(x: TensorType, idx: TensorType, bd: int) -> None:
        """The first ``bd`` (batch) dims of ``x`` and ``indices`` must match (gather, gather_nd)."""
        for i in range(bd):
            if not dims_equal(x.shape[i], idx.shape[i]):
                raise InferError(f"batch dim {i}: x {x.shape[i]} != indices {idx.shape[i]}")


def _batch_dims_input() -> InputSpec:
    """iOS16 ``batch_dims`` of gather and gather_nd: const int32 scalar, default 0."""
    return InputSpec(
        "batch_dims",
        ("int32",),
        const=True,
        optional=True,
        default=i32(0),
        rank=(0,),
        min_opset="ios16",
    )


def validate_indices_input() -> InputSpec:
    return InputSpec(
        "validate_indices",
        ("bool",),
        const=True,
        optional=True,
        default=boolean(False),
        rank=(0,),
        min_opset="ios17",
    )


@register_op("gather", category="tensor")
class Gather(_GatherBase):
    """Gather slices of ``x`` along ``axis``.

    Args:
        x: ``tensor<[*D], T>``.
        indices: ``tensor<[*N], I>`` (I: int32; iOS16 + int16/uint16; iOS17 + int8/uint8).
        axis: const int32, default 0.
        batch_dims: const int32, default 0 (iOS16+).
        validate_indices: const bool, default false (iOS17+; negative indices are then out of bounds).

    Returns:
        ``tensor<D[:axis] + N[batch_dims:] + D[axis+1:], T>``.
    """

    inputs = (
        InputSpec("x", _DATA17),
        InputSpec("indices", INDICES),
        InputSpec("axis", ("int32",), const=True, optional=True, default=i32(0), rank=(0,)),
        _batch_dims_input(),
        validate_indices_input(),
    )
    dtype_history: ClassVar = {"x": _DATA_HISTORY, "indices": INDICES_HISTORY}

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, idx = cls.tensor(ctx, "x"), cls.tensor(ctx, "indices")
        if x.rank < 1:
            raise InferError("x must have rank >= 1")
        axis = normalize_axis(cls.int_value(ctx, "axis") or 0, x.rank)
        bd = cls.int_value(ctx, "batch_dims") or 0
        if bd < 0:
            bd += idx.rank
        if not 0 <= bd <= min(axis, idx.rank):
            raise InferError(f"batch_dims {bd} must be in [0, min(axis {axis}, rank(indices) {idx.rank})]")
        cls._check_batch_dims(x, idx, bd)
        cls._validate_indices_value(ctx, x.shape[axis])
        return [TensorType(x.dtype, (*x.shape[:axis], *idx.shape[bd:], *x.shape[axis + 1 :]))]


@register_op("gather_along_axis", category="tensor")
class GatherAlongAxis(_GatherBase):
    """``np.take_along_axis(x, indices, axis)``: ``indices`` has rank(x); output has indices' shape.

    Args:
        x: ``tensor<[*D], T>``; indices: ``tensor<[*K], I>`` with ``K[i] == D[i]`` for ``i != axis``.
        axis: const int32, default 0. validate_indices: const bool, default false (iOS17+).
    """

    inputs = (
        InputSpec("x", _DATA17),
        InputSpec("indices", INDICES),
        InputSpec("axis", ("int32",), const=True, optional=True, default=i32(0), rank=(0,)),
        validate_indices_input(),
    )
    dtype_history: ClassVar = {"x": _DATA_HISTORY, "indices": INDICES_HISTORY}

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, idx = cls.tensor(ctx, "x"), cls.tensor(ctx, "indices")
        if idx.rank != x.rank or x.rank < 1:
            raise InferError(f"indices rank {idx.rank} must equal x rank {x.rank} (>= 1)")
        axis = normalize_axis(cls.int_value(ctx, "axis") or 0, x.rank)
        for i in range(x.rank):
            if i != axis and not dims_equal(x.shape[i], idx.shape[i]):
                raise InferError(f"dim {i}: indices {idx.shape[i]} != x {x.shape[i]} (only axis {axis} may differ)")
        cls._validate_indices_value(ctx, x.shape[axis])
        return [TensorType(x.dtype, idx.shape)]


@register_op("gather_nd", category="tensor")
class GatherNd(_GatherBase):
    """Gather by index tuples: output ``indices.shape[:-1] + x.shape[batch_dims + K:]`` (K = indices' last dim).

    ``batch_dims`` (const int32, default 0) exists from iOS16; ``validate_indices`` from iOS17.
    """

    inputs = (
        InputSpec("x", _DATA17),
        InputSpec("indices", INDICES),
        _batch_dims_input(),
        validate_indices_input(),
    )
    dtype_history: ClassVar = {"x": _DATA_HISTORY, "indices": INDICES_HISTORY}

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, idx = cls.tensor(ctx, "x"), cls.tensor(ctx, "indices")
        if idx.rank < 1:
            raise InferError("indices must have rank >= 1")
        k = idx.shape[-1]
        bd = cls.int_value(ctx, "batch_dims") or 0
        if k is None:
            raise InferError("the last dim of indices (index tuple length) must be known")
        if not 0 <= bd < idx.rank:
            raise InferError(f"batch_dims {bd} must be in [0, rank(indices) - 1 = {idx.rank - 1}]")
        if bd + k > x.rank:
            raise InferError(f"batch_dims {bd} + index length {k} exceeds rank(x) {x.rank}")
        cls._check_batch_dims(x, idx, bd)
        return [TensorType(x.dtype, (*idx.shape[:-1], *x.shape[bd + k :]))]
