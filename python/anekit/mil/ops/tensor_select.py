"""Scatters, ``select``, ``topk`` and ``argsort``.

Reference: docs/internals/mil-format.md §10.5; coremltools ``iOS15/scatter_gather.py`` (scatters),
``iOS15/control_flow.py`` (select), ``iOS15``/``iOS16``/``iOS17`` ``tensor_operation.py`` (topk: ``sort`` and
``return_indices`` from iOS16, ``output_indices_dtype`` and k = -1 from iOS17).
"""

from __future__ import annotations

from typing import ClassVar

from ..types import TensorType, Type
from ._base import Op, boolean, i32
from ._infer import (
    NUMERIC,
    NUMERIC_BOOL,
    InferError,
    broadcast_shapes,
    dims_equal,
    fmt_shape,
    normalize_axis,
)
from ._spec import InferContext, InputSpec, register_op
from .tensor_index import (
    IDX_HISTORY,
    IDX_TYPES,
    INDICES,
    INDICES_HISTORY,
    validate_indices_input,
)

__all__ = ["Argsort", "Scatter", "ScatterAlongAxis", "ScatterNd", "Select", "Topk"]


_SCATTER_MODES = ("add", "div", "max", "min", "mul", "sub", "update")


class _ScatterBase(Op):
    category = "tensor"
    dtype_history: ClassVar = {"indices": INDICES_HISTORY}

    @classmethod
    def _common(cls, ctx: InferContext) -> tuple[TensorType, TensorType, TensorType]:
        cls.choice(ctx, "mode", _SCATTER_MODES)
        return cls.tensor(ctx, "data"), cls.tensor(ctx, "indices"), cls.tensor(ctx, "updates")

    @staticmethod
    def _expect(updates: TensorType, shape: tuple[int | None, ...]) -> None:
        if updates.rank != len(shape) or not all(dims_equal(a, b) for a, b in zip(updates.shape, shape, strict=True)):
            raise InferError(f"updates shape {fmt_shape(updates.shape)} != expected {fmt_shape(shape)}")


def _scatter_inputs(with_axis: bool) -> tuple[InputSpec, ...]:
    specs = [
        InputSpec("data", NUMERIC),
        InputSpec("indices", INDICES),
        InputSpec("updates", NUMERIC, same_dtype_as="data"),
    ]
    if with_axis:
        specs.append(InputSpec("axis", ("int32",), const=True, optional=True, default=i32(0), rank=(0,)))
    specs.append(InputSpec("mode", ("string",), const=True, optional=True, default="add", rank=(0,)))
    specs.append(validate_indices_input())
    return tuple(specs)


@register_op("scatter", category="tensor")
class Scatter(_ScatterBase):
    """Combine ``updates`` into ``data`` at ``indices`` along ``axis`` with ``mode`` (default ``add``).

    ``updates`` shape: ``data.shape[:axis] + indices.shape + data.shape[axis+1:]``; output: data's type.
    """

    inputs = _scatter_inputs(True)

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        data, idx, upd = cls._common(ctx)
        axis = normalize_axis(cls.int_value(ctx, "axis") or 0, data.rank)
        cls._expect(upd, (*data.shape[:axis], *idx.shape, *data.shape[axis + 1 :]))
        return [data]


@register_op("scatter_along_axis", category="tensor")
class ScatterAlongAxis(_ScatterBase):
    """Scatter with ``indices``/``updates`` of rank(data) along ``axis`` (inverse of gather_along_axis)."""

    inputs = _scatter_inputs(True)

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        data, idx, upd = cls._common(ctx)
        axis = normalize_axis(cls.int_value(ctx, "axis") or 0, data.rank)
        if idx.rank != data.rank:
            raise InferError(f"indices rank {idx.rank} != data rank {data.rank}")
        for i in range(data.rank):
            if i != axis and not dims_equal(data.shape[i], idx.shape[i]):
                raise InferError(f"dim {i}: indices {idx.shape[i]} != data {data.shape[i]}")
        cls._expect(upd, idx.shape)
        return [data]


@register_op("scatter_nd", category="tensor")
class ScatterNd(_ScatterBase):
    """Scatter by index tuples: ``updates`` shape ``indices.shape[:-1] + data.shape[K:]``."""

    inputs = _scatter_inputs(False)

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        data, idx, upd = cls._common(ctx)
        k = idx.shape[-1] if idx.rank else None
        if k is None or k > data.rank:
            raise InferError(f"indices last dim {k} must be known and <= rank(data) {data.rank}")
        cls._expect(upd, (*idx.shape[:-1], *data.shape[k:]))
        return [data]


@register_op("select", category="tensor")
class Select(Op):
    """``np.where(cond, a, b)`` with three-way broadcasting; ``cond`` bool, ``a``/``b`` one dtype."""

    inputs = (
        InputSpec("cond", ("bool",)),
        InputSpec("a", NUMERIC_BOOL),
        InputSpec("b", NUMERIC_BOOL, same_dtype_as="a"),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        c, a, b = cls.tensor(ctx, "cond"), cls.tensor(ctx, "a"), cls.tensor(ctx, "b")
        return [TensorType(a.dtype, broadcast_shapes(broadcast_shapes(c.shape, a.shape), b.shape))]


_TOPK17 = ("fp16", "fp32", "int8", "int16", "int32", "uint8", "uint16")


@register_op("topk", category="tensor")
class Topk(Op):
    """The ``k`` largest (or smallest) values along ``axis`` and their indices.

    Args:
        x: ``tensor<[*D], T>`` (T: fp16/fp32/int32; iOS17 + int8/int16/uint8/uint16).
        k: const int32 (iOS17: int8/int16/int32), default 1; iOS17: -1 selects all.
        axis: const int32, default -1. ascending: const bool, default false.
        sort, return_indices: const bool, default true (iOS16+).
        output_indices_dtype: const string ``"int32"`` | ``"uint16"``, default ``"int32"`` (iOS17+; only
            with return_indices).

    Returns:
        values ``tensor<[..., k, ...], T>`` and, when ``return_indices``, indices of the same shape.
    """

    inputs = (
        InputSpec("x", _TOPK17),
        InputSpec("k", IDX_TYPES, const=True, optional=True, default=i32(1), rank=(0,)),
        InputSpec("axis", ("int32",), const=True, optional=True, default=i32(-1), rank=(0,)),
        InputSpec("ascending", ("bool",), const=True, optional=True, default=boolean(False), rank=(0,)),
        InputSpec(
            "sort",
            ("bool",),
            const=True,
            optional=True,
            default=boolean(True),
            rank=(0,),
            min_opset="ios16",
        ),
        InputSpec(
            "return_indices",
            ("bool",),
            const=True,
            optional=True,
            default=boolean(True),
            rank=(0,),
            min_opset="ios16",
        ),
        InputSpec(
            "output_indices_dtype",
            ("string",),
            const=True,
            optional=True,
            rank=(0,),
            min_opset="ios17",
            default=lambda ctx: None if Topk.bool_value(ctx, "return_indices") is False else "int32",
        ),
    )
    dtype_history: ClassVar = {"x": (("ios15", NUMERIC), ("ios17", _TOPK17)), "k": IDX_HISTORY}

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        if x.rank < 1:
            raise InferError("x must have rank >= 1")
        axis_v = cls.int_value(ctx, "axis")
        axis = normalize_axis(-1 if axis_v is None else axis_v, x.rank)
        k = cls.int_value(ctx, "k")
        k = 1 if k is None else k
        dim = x.shape[axis]
        if k == -1 and ctx.opset not in ("ios15", "ios16"):
            k_dim: int | None = dim
        elif k < 1:
            raise InferError(f"k must be >= 1 (or -1 from ios17), got {k}")
        else:
            if dim is not None and k > dim:
                raise InferError(f"k {k} > size {dim} of axis {axis}")
            k_dim = k
        shape = list(x.shape)
        shape[axis] = k_dim
        values = TensorType(x.dtype, tuple(shape))
        return_indices = cls.bool_value(ctx, "return_indices")
        if return_indices is False:
            if ctx.has("output_indices_dtype"):
                raise InferError("output_indices_dtype can only be set when return_indices is true")
            return [values]
        idx_dtype = "int32"
        if ctx.has("output_indices_dtype"):
            idx_dtype = cls.choice(ctx, "output_indices_dtype", ("int32", "uint16")) or "int32"
        return [values, TensorType(idx_dtype, tuple(shape))]


@register_op("argsort", category="tensor")
class Argsort(Op):
    """Indices (int32) that sort ``x`` along ``axis`` (default -1), descending unless ``ascending``."""

    inputs = (
        InputSpec("x", NUMERIC),
        InputSpec("axis", ("int32",), const=True, optional=True, default=i32(-1), rank=(0,)),
        InputSpec("ascending", ("bool",), const=True, optional=True, default=boolean(False), rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        axis = cls.int_value(ctx, "axis")
        normalize_axis(-1 if axis is None else axis, max(x.rank, 1))
        return [TensorType("int32", x.shape)]
