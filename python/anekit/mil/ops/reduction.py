"""Reductions: ``reduce_*`` over axes and ``reduce_argmax``/``reduce_argmin`` over one axis.

Reference: docs/internals/mil-format.md §10.4; coremltools ``iOS15/reduction.py`` and ``iOS17/reduction.py``
(iOS17 adds ``output_dtype`` ∈ {int32, uint16} to the arg reductions).
"""

from __future__ import annotations

from typing import ClassVar

from ..types import TensorType, Type
from ._base import Op, boolean, i32
from ._infer import NUMERIC, InferError, normalize_axes, normalize_axis
from ._spec import InferContext, InputSpec, register_op

__all__ = ["Reduction", "ReductionArg"]


class Reduction(Op):
    """Reduce ``x`` over ``axes``.

    Args:
        x: ``tensor<[*D], T>`` (rank ≥ 1).
        axes: const ``int32[K]``, optional, default None = all axes (not materialised).
        keep_dims: const bool, optional, default false.

    Returns:
        ``tensor<[*D'], T>``: reduced axes removed, or kept with size 1 when ``keep_dims``.

    Type domain: T ∈ {fp16, fp32, int32}. ANE: ``reduce_mean`` reportedly rejected in raw MIL text; upstream
    uses ``reduce_sum`` × 1/N (docs/internals/mil-format.md §11 rule 12, PROBE).
    """

    inputs = (
        InputSpec("x", NUMERIC),
        InputSpec("axes", ("int32",), const=True, optional=True, rank=(1,)),
        InputSpec("keep_dims", ("bool",), const=True, optional=True, default=boolean(False), rank=(0,)),
    )
    category = "reduction"
    #: The reduction has no identity element, so an empty reduced axis has no result (max, min).
    needs_elements: ClassVar[bool] = False

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        keep = bool(cls.bool_value(ctx, "keep_dims"))
        if ctx.has("axes") and ctx.value("axes") is None:
            raise InferError("axes must be const")
        axes = cls.ints_value(ctx, "axes")
        reduced = set(range(x.rank)) if axes is None else set(normalize_axes(axes, x.rank))
        if cls.needs_elements:
            _check_not_empty(x, reduced)
        shape = tuple((1 if keep else -1) if i in reduced else d for i, d in enumerate(x.shape))
        return [TensorType(x.dtype, tuple(d for d in shape if d != -1))]


@register_op("reduce_sum", category="reduction")
class ReduceSum(Reduction):
    """The sum of ``x`` over ``axes`` (see :class:`Reduction`)."""


@register_op("reduce_mean", category="reduction")
class ReduceMean(Reduction):
    """The mean of ``x`` over ``axes`` (see :class:`Reduction`)."""


@register_op("reduce_max", category="reduction")
class ReduceMax(Reduction):
    """The maximum of ``x`` over ``axes`` (see :class:`Reduction`)."""

    needs_elements = True


@register_op("reduce_min", category="reduction")
class ReduceMin(Reduction):
    """The minimum of ``x`` over ``axes`` (see :class:`Reduction`)."""

    needs_elements = True


@register_op("reduce_prod", category="reduction")
class ReduceProd(Reduction):
    """The product of ``x`` over ``axes`` (see :class:`Reduction`)."""


@register_op("reduce_l1_norm", category="reduction")
class ReduceL1Norm(Reduction):
    """The sum of absolute values of ``x`` over ``axes`` (see :class:`Reduction`)."""


@register_op("reduce_l2_norm", category="reduction")
class ReduceL2Norm(Reduction):
    """The square root of the sum of squares of ``x`` over ``axes`` (see :class:`Reduction`)."""


@register_op("reduce_log_sum", category="reduction")
class ReduceLogSum(Reduction):
    """The log of the sum of ``x`` over ``axes`` (see :class:`Reduction`)."""


@register_op("reduce_log_sum_exp", category="reduction")
class ReduceLogSumExp(Reduction):
    """The ``log(sum(exp(x)))`` (computed stably) of ``x`` over ``axes`` (see :class:`Reduction`)."""


@register_op("reduce_sum_square", category="reduction")
class ReduceSumSquare(Reduction):
    """The sum of squares of ``x`` over ``axes`` (see :class:`Reduction`)."""


def _check_not_empty(x: TensorType, axes: set[int]) -> None:
    """An extreme value (max, min, argmax, argmin) over an axis of length 0 does not exist (found by the MIL
    fuzz: such a program validated and compiled, then failed at run time inside numpy)."""
    empty = sorted(a for a in axes if x.shape[a] == 0)
    if empty:
        raise InferError(f"cannot take an extreme value over axis {empty[0]} of {x}: it has no elements")


class ReductionArg(Op):
    """Index of the extreme value of ``x`` along one axis.

    Args:
        x: ``tensor<[*D], T>`` (rank ≥ 1).
        axis: const int32, optional, default -1.
        keep_dims: const bool, optional, default false.
        output_dtype: const string ``"int32"`` | ``"uint16"``, optional, default ``"int32"`` (iOS17+).

    Returns:
        ``tensor<[*D'], output_dtype>``.
    """

    inputs = (
        InputSpec("x", NUMERIC),
        InputSpec("axis", ("int32",), const=True, optional=True, default=i32(-1), rank=(0,)),
        InputSpec("keep_dims", ("bool",), const=True, optional=True, default=boolean(False), rank=(0,)),
        InputSpec(
            "output_dtype",
            ("string",),
            const=True,
            optional=True,
            default="int32",
            rank=(0,),
            min_opset="ios17",
        ),
    )
    category = "reduction"

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        if x.rank < 1:
            raise InferError("x must have rank >= 1")
        axis = cls.int_value(ctx, "axis")
        axis = normalize_axis(-1 if axis is None else axis, x.rank)
        _check_not_empty(x, {axis})
        keep = bool(cls.bool_value(ctx, "keep_dims"))
        out_dtype = "int32"
        if ctx.has("output_dtype"):
            out_dtype = cls.choice(ctx, "output_dtype", ("int32", "uint16")) or "int32"
        shape = list(x.shape)
        if keep:
            shape[axis] = 1
        else:
            shape.pop(axis)
        return [TensorType(out_dtype, tuple(shape))]


@register_op("reduce_argmax", category="reduction")
class ReduceArgmax(ReductionArg):
    """Index of the maximum along ``axis`` (see :class:`ReductionArg`)."""


@register_op("reduce_argmin", category="reduction")
class ReduceArgmin(ReductionArg):
    """Index of the minimum along ``axis`` (see :class:`ReductionArg`)."""
