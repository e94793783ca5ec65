"""Tensor-creating ops (``shape``, ``range_1d``, ``fill``, ``fill_like``) and shape-preserving utilities
(``identity``, ``band_part``, ``cumsum``).

Reference: docs/internals/mil-format.md §10.5; coremltools ``iOS15/tensor_operation.py`` and
``iOS16/tensor_operation.py`` (``fill_like``). Output shapes that depend on a run-time value get ``None`` dims.
"""

from __future__ import annotations

import math

from ..types import TensorType, Type
from ._base import Op, boolean, f32, i32
from ._infer import NUMERIC, NUMERIC_BOOL, InferError, normalize_axis
from ._spec import InferContext, InputSpec, register_op

__all__ = ["BandPart", "Cumsum", "Fill", "FillLike", "Identity", "Range1d", "Shape"]


@register_op("shape", category="tensor")
class Shape(Op):
    """The shape of ``x`` as ``tensor<int32, [rank(x)]>`` (a run-time value when dims are ``?``)."""

    inputs = (InputSpec("x", NUMERIC_BOOL),)

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        return [TensorType("int32", (cls.tensor(ctx, "x").rank,))]


@register_op("identity", category="tensor")
class Identity(Op):
    """A copy of ``x`` (renaming); any tensor type."""

    inputs = (InputSpec("x"),)

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        return [cls.tensor(ctx, "x")]


@register_op("range_1d", category="tensor")
class Range1d(Op):
    """``arange(start, end, step)``: scalars of one dtype T ∈ {fp16, fp32, int32} (need not be const).

    Returns ``tensor<T, [ceil((end − start) / step)]>`` when all three are known, else ``tensor<T, [?]>``.
    """

    inputs = (
        InputSpec("end", NUMERIC, rank=(0,)),
        InputSpec("start", NUMERIC, rank=(0,), same_dtype_as="end"),
        InputSpec("step", NUMERIC, rank=(0,), same_dtype_as="end"),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        dt = cls.tensor(ctx, "start").dtype
        start, end, step = (cls.float_value(ctx, n) for n in ("start", "end", "step"))
        if step == 0:
            raise InferError("step must not be 0")
        if start is None or end is None or step is None:
            return [TensorType(dt, (None,))]
        return [TensorType(dt, (max(0, math.ceil((end - start) / step)),))]


@register_op("fill", category="tensor")
class Fill(Op):
    """A tensor of shape ``shape`` (``int32[K]``, need not be const) filled with ``value`` (const, default 0.0)."""

    inputs = (
        InputSpec("shape", ("int32",), rank=(1,)),
        InputSpec("value", NUMERIC_BOOL, const=True, optional=True, default=f32(0.0), rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        s = cls.tensor(ctx, "shape")
        v = cls.opt_tensor(ctx, "value")
        dtype = "fp32" if v is None else v.dtype.name
        if s.shape[0] is None:
            raise InferError("the length of 'shape' must be known (the output rank)")
        dims = cls.ints_value(ctx, "shape")
        if dims is None:
            return [TensorType(dtype, (None,) * s.shape[0])]
        if any(d < 0 for d in dims):
            raise InferError(f"shape entries must be >= 0, got {dims}")
        return [TensorType(dtype, tuple(dims))]


@register_op("fill_like", category="tensor")
class FillLike(Op):
    """A tensor shaped like ``ref_tensor`` filled with ``value`` (const, default 0.0); iOS16+."""

    inputs = (
        InputSpec("ref_tensor", NUMERIC_BOOL),
        InputSpec("value", NUMERIC_BOOL, const=True, optional=True, default=f32(0.0), rank=(0,)),
    )
    min_opset = "ios16"

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        ref = cls.tensor(ctx, "ref_tensor")
        v = cls.opt_tensor(ctx, "value")
        return [TensorType("fp32" if v is None else v.dtype.name, ref.shape)]


@register_op("band_part", category="tensor")
class BandPart(Op):
    """Zero everything outside a band of the innermost matrix; ``lower``/``upper`` const int32, default -1."""

    inputs = (
        InputSpec("x", NUMERIC_BOOL),
        InputSpec("lower", ("int32",), const=True, optional=True, default=i32(-1), rank=(0,)),
        InputSpec("upper", ("int32",), const=True, optional=True, default=i32(-1), rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        if x.rank < 2:
            raise InferError("x must have rank >= 2")
        return [x]


@register_op("cumsum", category="tensor")
class Cumsum(Op):
    """Cumulative sum along ``axis`` (default 0); ``exclusive`` and ``reverse`` const bool, default false."""

    inputs = (
        InputSpec("x", NUMERIC),
        InputSpec("axis", ("int32",), const=True, optional=True, default=i32(0), rank=(0,)),
        InputSpec("exclusive", ("bool",), const=True, optional=True, default=boolean(False), rank=(0,)),
        InputSpec("reverse", ("bool",), const=True, optional=True, default=boolean(False), rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        axis = cls.int_value(ctx, "axis")
        normalize_axis(0 if axis is None else axis, max(x.rank, 1))
        return [x]
