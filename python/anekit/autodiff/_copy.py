"""Copy forward operations into another builder (the backward's recomputation, the forward with saved outputs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import MILError
from ..mil import Builder, Operation, Var
from ..mil.values import Value

__all__ = ["copy_op"]


def copy_op(
    mb: Builder,
    op: Operation,
    lookup: Callable[[Var], Var],
    *,
    name: str | None = None,
    out_names: Sequence[str] | None = None,
) -> list[Var]:
    """Insert a copy of ``op`` into ``mb``, reading each input variable through ``lookup``; returns its outputs.

    Literal data (inline values and ``BLOBFILE`` references) is shared, not copied. ``name``/``out_names`` default
    to the builder's generated names.
    """
    if op.op_type == "const":
        value = op.attrs.get("val")
        if value is None:
            raise MILError(f"[const '{op.name}'] has no val attribute")
        return [mb.const(value, name=name)]
    inputs: dict[str, Any] = {}
    for key, b in op.inputs.items():
        inputs[key] = _map(b, lookup)
    # Pre-iOS18 constexpr ops carry their operands as attributes; the builder takes them as inputs again.
    inputs.update({k: v for k, v in op.attrs.items() if k not in inputs})
    out = mb.add_op(op.op_type, inputs, name=name, out_names=out_names)
    if out is None:
        return []
    return list(out) if isinstance(out, tuple) else [out]


def _map(b: Any, lookup: Callable[[Var], Var]) -> Any:
    if isinstance(b, Var):
        return lookup(b)
    if isinstance(b, Value):
        return b
    if isinstance(b, tuple):
        return tuple(_map(x, lookup) for x in b)
    raise MILError(f"cannot copy an op input bound to {type(b).__name__}")
