"""Program-structure ops: ``const`` and the iOS18 state ops ``read_state`` / ``write_state``.

Reference: docs/internals/mil-format.md §7.2 (const), §7.7 and §10.6 (state).
"""

from __future__ import annotations

import numpy as np

from ..types import STRING, TensorType, Type, dtype
from ._base import Op
from ._infer import InferError, dims_equal, fmt_shape
from ._spec import InferContext, InputSpec, register_op

__all__ = ["Const", "ReadState", "WriteState"]


@register_op("const", category="state")
class Const(Op):
    """A compile-time value: ``const()[name = …, val = …]``.

    Args:
        val: the value (an attribute in text; any element type). Its type is taken from ``ctx.type("val")``
            when the caller knows it (needed for sub-byte types), else derived from the numpy value
            (Python/numpy strings give ``string``).

    Returns:
        the value's type.
    """

    inputs = (InputSpec("val", const=True),)
    attrs_as_inputs = True

    @classmethod
    def check_inputs(cls, ctx: InferContext) -> None:
        if not ctx.has("val") and ctx.attr("val") is None:
            raise InferError("missing 'val'")

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        t = ctx.type("val")
        if isinstance(t, TensorType):
            return [t]
        v = ctx.value("val")
        if v is None:
            v = ctx.attr("val")
        if isinstance(v, (str, bytes)):
            return [TensorType(STRING, ())]
        arr = np.asarray(v)
        if arr.dtype.kind in "USO":
            return [TensorType(STRING, arr.shape)]
        if arr.dtype == np.float64:
            raise InferError("val is float64; give a typed value (np.float16/np.float32) or its type")
        if arr.dtype == np.int64:
            raise InferError("val is int64; give a typed value (e.g. np.int32) or its type")
        return [TensorType(dtype(arr.dtype), arr.shape)]


@register_op("read_state", category="state")
class ReadState(Op):
    """The tensor currently held by a ``state<tensor<…>>`` function input (iOS18)."""

    inputs = (InputSpec("input"),)
    state_inputs = frozenset({"input"})
    min_opset = "ios18"

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        return [cls.tensor(ctx, "input")]  # the wrapped tensor (check_inputs verified it is a state)


@register_op("write_state", category="state")
class WriteState(Op):
    """Store ``data`` (the wrapped tensor's type) into state ``input``; no outputs (iOS18)."""

    inputs = (InputSpec("input"), InputSpec("data"))
    state_inputs = frozenset({"input"})
    min_opset = "ios18"

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        w = cls.tensor(ctx, "input")  # the wrapped tensor (check_inputs verified it is a state)
        data = cls.tensor(ctx, "data")
        if (
            data.dtype != w.dtype
            or data.rank != w.rank
            or not all(dims_equal(a, b) for a, b in zip(data.shape, w.shape, strict=True))
        ):
            raise InferError(f"data {data} must match the state's tensor {w} ({fmt_shape(w.shape)})")
        return []
