"""The one concrete :class:`InferContext`: plain dictionaries of input types, known values and attributes.

The builder, the parser and the validator all fill one of these per operation and hand it to the op spec's
``infer``; tests of op specs use it directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ...errors import MILError
from ..types import Type

#: Marks "no entry" in value lookups (a stored value may itself be None).
_MISSING: Any = object()


class StaticContext:
    """An InferContext over explicit mappings.

    Args:
        op_type: MIL op name.
        op_name: the op's ``name`` attribute (for error messages).
        opset: the function's opset.
        types: input name -> type (a tuple of types for tuple inputs).
        values: input name -> compile-time value (numpy array, Python scalar/str, or tuple) where known.
        attrs: attribute name -> value (pre-iOS18 constexpr operands live here).
    """

    __slots__ = ("_attrs", "_types", "_values", "op_name", "op_type", "opset")

    def __init__(
        self,
        op_type: str,
        op_name: str,
        opset: str,
        types: Mapping[str, Type | tuple[Type, ...]],
        values: Mapping[str, Any] | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self.op_type = op_type
        self.op_name = op_name
        self.opset = opset
        self._types = dict(types)
        self._values = dict(values or {})
        self._attrs = dict(attrs or {})

    @classmethod
    def wrapping(
        cls,
        op_type: str,
        op_name: str,
        opset: str,
        types: dict[str, Type | tuple[Type, ...]],
        values: dict[str, Any],
        attrs: dict[str, Any],
    ) -> StaticContext:
        """Internal fast constructor: use the given dicts as they are, without copying.

        For the builder, which fills fresh dicts per operation: the caller must not change them while it
        still uses the context (each ``infer`` or default call finishes before the next input is bound).
        """
        ctx = cls.__new__(cls)
        ctx.op_type = op_type
        ctx.op_name = op_name
        ctx.opset = opset
        ctx._types = types
        ctx._values = values
        ctx._attrs = attrs
        return ctx

    def has(self, name: str) -> bool:
        return name in self._types or name in self._values

    def type(self, name: str) -> Type | tuple[Type, ...] | None:
        return self._types.get(name)

    def value(self, name: str) -> Any:
        v = self._values.get(name, _MISSING)
        if v is _MISSING:
            v = self._attrs.get(name, _MISSING)
            if v is _MISSING:
                return None
        if type(v) is np.ndarray:  # the usual case, returned as is
            return v
        if isinstance(v, (bool, int, float, np.generic)):
            return np.asarray(v)
        return v

    def attr(self, name: str) -> Any:
        return self._attrs.get(name)

    def error(self, message: str) -> MILError:
        described = ", ".join(f"{k}: {_describe(t)}" for k, t in self._types.items())
        suffix = f" (inputs: {described})" if described else ""
        return MILError(f"[{self.op_type} '{self.op_name}'] {message}{suffix}")


def _describe(t: Type | tuple[Type, ...] | None) -> str:
    if isinstance(t, tuple):
        return "(" + ", ".join(str(x) for x in t) + ")"
    return str(t)
