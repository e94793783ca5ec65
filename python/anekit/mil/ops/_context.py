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

    def has(self, name: str) -> bool:
        return name in self._types or name in self._values

    def type(self, name: str) -> Type | tuple[Type, ...] | None:
        return self._types.get(name)

    def value(self, name: str) -> Any:
        if name in self._values:
            v = self._values[name]
        elif name in self._attrs:
            v = self._attrs[name]
        else:
            return None
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
