"""Elementwise binary ops: arithmetic, comparisons and logical connectives (numpy broadcasting).

Reference: docs/internals/mil-format.md §10.2; coremltools ``iOS15/elementwise_binary.py`` (unchanged in later
opsets). ``x`` and ``y`` share one type domain, so their dtypes must be equal (the builder casts Python scalars
to the tensor's dtype before creating the op).
"""

from __future__ import annotations

from typing import ClassVar

from ..types import TensorType, Type
from ._base import Op
from ._infer import NUMERIC, broadcast_shapes
from ._spec import InferContext, InputSpec, register_op

__all__ = ["ElementwiseBinary"]


class ElementwiseBinary(Op):
    """``out = f(x, y)`` with numpy broadcasting.

    Args:
        x: ``tensor<[*Dx], T>``.
        y: ``tensor<[*Dy], T>``; must broadcast with ``x``.

    Returns:
        ``tensor<broadcast(Dx, Dy), T>`` (``bool`` for comparisons and logical ops).

    Type domain: T ∈ {fp16, fp32, int32} (``bool`` for logical ops).
    """

    domain: ClassVar[tuple[str, ...]] = NUMERIC
    inputs = (InputSpec("x", NUMERIC), InputSpec("y", NUMERIC, same_dtype_as="x"))
    category = "elementwise"

    @classmethod
    def out_dtype(cls, dtype: str) -> str:
        """Output element type given the (common) input dtype; comparisons return ``bool``."""
        return dtype

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, y = cls.tensor(ctx, "x"), cls.tensor(ctx, "y")
        shape = broadcast_shapes(x.shape, y.shape)
        return [TensorType(cls.out_dtype(x.dtype.name), shape)]


class _Comparison(ElementwiseBinary):
    @classmethod
    def out_dtype(cls, dtype: str) -> str:
        return "bool"


class _Logical(ElementwiseBinary):
    inputs = (InputSpec("x", ("bool",)), InputSpec("y", ("bool",), same_dtype_as="x"))


@register_op("add", category="elementwise")
class Add(ElementwiseBinary):
    """Elementwise ``x + y``, with broadcasting."""


@register_op("sub", category="elementwise")
class Sub(ElementwiseBinary):
    """Elementwise ``x - y``, with broadcasting."""


@register_op("mul", category="elementwise")
class Mul(ElementwiseBinary):
    """Elementwise ``x * y``, with broadcasting."""


@register_op("real_div", category="elementwise")
class RealDiv(ElementwiseBinary):
    """Elementwise ``x / y`` (true division; an int32 result keeps the int32 type), with broadcasting."""


@register_op("pow", category="elementwise")
class Pow(ElementwiseBinary):
    """Elementwise ``x ** y``, with broadcasting."""


@register_op("maximum", category="elementwise")
class Maximum(ElementwiseBinary):
    """Elementwise ``max(x, y)``, with broadcasting."""


@register_op("minimum", category="elementwise")
class Minimum(ElementwiseBinary):
    """Elementwise ``min(x, y)``, with broadcasting."""


@register_op("floor_div", category="elementwise")
class FloorDiv(ElementwiseBinary):
    """Elementwise ``floor(x / y)``, with broadcasting."""


@register_op("mod", category="elementwise")
class Mod(ElementwiseBinary):
    """Elementwise ``x mod y`` (Python semantics: the result has y's sign), with broadcasting."""


@register_op("equal", category="elementwise")
class Equal(_Comparison):
    """Elementwise ``x == y`` → bool, with broadcasting."""


@register_op("not_equal", category="elementwise")
class NotEqual(_Comparison):
    """Elementwise ``x != y`` → bool, with broadcasting."""


@register_op("less", category="elementwise")
class Less(_Comparison):
    """Elementwise ``x < y`` → bool, with broadcasting."""


@register_op("less_equal", category="elementwise")
class LessEqual(_Comparison):
    """Elementwise ``x <= y`` → bool, with broadcasting."""


@register_op("greater", category="elementwise")
class Greater(_Comparison):
    """Elementwise ``x > y`` → bool, with broadcasting."""


@register_op("greater_equal", category="elementwise")
class GreaterEqual(_Comparison):
    """Elementwise ``x >= y`` → bool, with broadcasting."""


@register_op("logical_and", category="elementwise")
class LogicalAnd(_Logical):
    """Elementwise ``x AND y`` on bool tensors, with broadcasting."""


@register_op("logical_or", category="elementwise")
class LogicalOr(_Logical):
    """Elementwise ``x OR y`` on bool tensors, with broadcasting."""


@register_op("logical_xor", category="elementwise")
class LogicalXor(_Logical):
    """Elementwise ``x XOR y`` on bool tensors, with broadcasting."""
