"""Elementwise unary math ops, ``clip`` and ``cast``.

Reference: docs/internals/mil-format.md §10.3; coremltools ``iOS15/elementwise_unary.py`` and
``iOS17/elementwise_unary.py`` (iOS17 lets ``epsilon`` have its own float dtype and widens ``cast``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ..types import TensorType, Type
from ._base import Op
from ._infer import FLOATS, NUMERIC, InferError
from ._spec import InferContext, InputSpec, register_op

__all__ = ["ElementwiseUnary", "x_dtype_scalar"]


def x_dtype_scalar(value: float, source: str = "x") -> Callable[[InferContext], Any]:
    """A default that is ``value`` in the dtype of input ``source`` (coremltools ``nptype_from_builtin``)."""

    def default(ctx: InferContext) -> Any:
        t = ctx.type(source)
        if isinstance(t, TensorType) and t.dtype.np_dtype is not None:
            return np.asarray(value, dtype=t.dtype.np_dtype)
        return np.asarray(value, dtype=np.float32)

    default.__doc__ = f"{value!r} in the dtype of '{source}'"
    return default


class ElementwiseUnary(Op):
    """``out = f(x)``, same shape and dtype as ``x``.

    Args:
        x: ``tensor<[*D], T>``.

    Returns:
        ``tensor<[*D], T>``.

    Type domain: T ∈ {fp16, fp32} (``abs``, ``sign``, ``square``, ``exp2`` also int32).
    """

    inputs = (InputSpec("x", FLOATS),)
    category = "unary"

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        return [cls.tensor(ctx, "x")]


class _UnaryWithInt(ElementwiseUnary):
    inputs = (InputSpec("x", NUMERIC),)


@register_op("acos", category="unary")
class Acos(ElementwiseUnary):
    """Elementwise ``arccos(x)`` (fp16/fp32)."""


@register_op("asin", category="unary")
class Asin(ElementwiseUnary):
    """Elementwise ``arcsin(x)`` (fp16/fp32)."""


@register_op("atan", category="unary")
class Atan(ElementwiseUnary):
    """Elementwise ``arctan(x)`` (fp16/fp32)."""


@register_op("atanh", category="unary")
class Atanh(ElementwiseUnary):
    """Elementwise ``arctanh(x)`` (fp16/fp32)."""


@register_op("ceil", category="unary")
class Ceil(ElementwiseUnary):
    """Elementwise ``ceil(x)`` (fp16/fp32)."""


@register_op("cos", category="unary")
class Cos(ElementwiseUnary):
    """Elementwise ``cos(x)`` (fp16/fp32)."""


@register_op("cosh", category="unary")
class Cosh(ElementwiseUnary):
    """Elementwise ``cosh(x)`` (fp16/fp32)."""


@register_op("erf", category="unary")
class Erf(ElementwiseUnary):
    """Elementwise ``erf(x)`` (fp16/fp32)."""


@register_op("exp", category="unary")
class Exp(ElementwiseUnary):
    """Elementwise ``e ** x`` (fp16/fp32)."""


@register_op("floor", category="unary")
class Floor(ElementwiseUnary):
    """Elementwise ``floor(x)`` (fp16/fp32)."""


@register_op("round", category="unary")
class Round(ElementwiseUnary):
    """Elementwise ``round(x)`` to the nearest integer (``np.round``) (fp16/fp32)."""


@register_op("sin", category="unary")
class Sin(ElementwiseUnary):
    """Elementwise ``sin(x)`` (fp16/fp32)."""


@register_op("sinh", category="unary")
class Sinh(ElementwiseUnary):
    """Elementwise ``sinh(x)`` (fp16/fp32)."""


@register_op("sqrt", category="unary")
class Sqrt(ElementwiseUnary):
    """Elementwise ``sqrt(x)`` (fp16/fp32)."""


@register_op("tan", category="unary")
class Tan(ElementwiseUnary):
    """Elementwise ``tan(x)`` (fp16/fp32)."""


@register_op("tanh", category="unary")
class Tanh(ElementwiseUnary):
    """Elementwise ``tanh(x)`` (fp16/fp32)."""


@register_op("abs", category="unary")
class Abs(_UnaryWithInt):
    """Elementwise ``|x|`` (fp16/fp32/int32)."""


@register_op("sign", category="unary")
class Sign(_UnaryWithInt):
    """Elementwise ``sign(x)`` (fp16/fp32/int32)."""


@register_op("square", category="unary")
class Square(_UnaryWithInt):
    """Elementwise ``x * x`` (fp16/fp32/int32)."""


@register_op("exp2", category="unary")
class Exp2(_UnaryWithInt):
    """Elementwise ``2 ** x`` (fp16/fp32/int32)."""


class _WithEpsilon(ElementwiseUnary):
    """Unary op with a const ``epsilon`` (same dtype as x before iOS17, any float from iOS17)."""

    eps: ClassVar[float] = 0.0

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        eps = cls.opt_tensor(ctx, "epsilon")
        if eps is not None:
            if eps.rank != 0:
                raise InferError(f"epsilon must be a scalar, got {eps}")
            if ctx.opset in ("ios15", "ios16") and eps.dtype != x.dtype:
                raise InferError(f"epsilon dtype {eps.dtype} must equal x dtype {x.dtype} before ios17")
        return [x]


def _eps_inputs(value: float) -> tuple[InputSpec, ...]:
    return (
        InputSpec("x", FLOATS),
        InputSpec("epsilon", FLOATS, const=True, optional=True, default=x_dtype_scalar(value), rank=(0,)),
    )


@register_op("rsqrt", category="unary")
class Rsqrt(_WithEpsilon):
    """``1 / sqrt(x + epsilon)``; ``epsilon`` const, optional, default 1e-12 in x's dtype (0 in fp16)."""

    inputs = _eps_inputs(1e-12)


@register_op("log", category="unary")
class Log(_WithEpsilon):
    """``log(x + epsilon)``; ``epsilon`` const, optional, default 1e-45 in x's dtype (``0x1p-149`` in fp32)."""

    inputs = _eps_inputs(1e-45)


@register_op("inverse", category="unary")
class Inverse(_WithEpsilon):
    """``1 / (x + epsilon)``; ``epsilon`` const, optional, default 1e-4 in x's dtype."""

    inputs = _eps_inputs(1e-4)


@register_op("logical_not", category="unary")
class LogicalNot(ElementwiseUnary):
    """``NOT x`` on a bool tensor."""

    inputs = (InputSpec("x", ("bool",)),)


@register_op("clip", category="unary")
class Clip(ElementwiseUnary):
    """``min(max(x, alpha), beta)``.

    Args:
        x: ``tensor<[*D], T>``.
        alpha: const T scalar, the lower bound (real files use ``-inf``).
        beta: const T scalar, the upper bound; iOS17 requires ``alpha < beta``.

    Type domain: T ∈ {fp16, fp32}.
    """

    inputs = (
        InputSpec("x", FLOATS),
        InputSpec("alpha", FLOATS, const=True, rank=(0,), same_dtype_as="x"),
        InputSpec("beta", FLOATS, const=True, rank=(0,), same_dtype_as="x"),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        lo, hi = cls.float_value(ctx, "alpha"), cls.float_value(ctx, "beta")
        if ctx.opset not in ("ios15", "ios16") and lo is not None and hi is not None and not lo < hi:
            raise InferError(f"alpha ({lo}) must be smaller than beta ({hi}) from ios17 on")
        return [cls.tensor(ctx, "x")]


_CAST15 = ("fp16", "fp32", "int32", "bool")
_CAST17 = ("fp16", "fp32", "int8", "uint8", "int16", "uint16", "int32", "bool")


@register_op("cast", category="unary")
class Cast(Op):
    """Convert ``x`` to element type ``dtype`` (float → int truncates toward zero).

    Args:
        x: ``tensor<[*D], T>``.
        dtype: const string naming the target type (``"fp16"``, ``"fp32"``, ``"int32"``, ``"bool"``; iOS17
            adds ``"int8"``, ``"uint8"``, ``"int16"``, ``"uint16"``).

    Returns:
        ``tensor<[*D], dtype>``.

    ANE: not supported on M1/M2 (docs/internals/mil-format.md §11 rule 6).
    """

    inputs = (InputSpec("x", _CAST17), InputSpec("dtype", ("string",), const=True, rank=(0,)))
    dtype_history: ClassVar = {"x": (("ios15", _CAST15), ("ios17", _CAST17))}

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        allowed = cls.allowed_dtypes("x", ctx.opset)
        target = cls.str_value(ctx, "dtype")
        if target is None:
            raise InferError("dtype must be a const string")
        if target not in allowed:
            raise InferError(f"dtype {target!r} not supported in {ctx.opset}; expected one of {', '.join(allowed)}")
        return [x.with_dtype(target)]
