"""Structural comparison of programs (used by round-trip tests and ``Program.structurally_equal``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..values import Value

if TYPE_CHECKING:
    from ..ir import Binding, Function, Operation, Program

__all__ = ["program_diff"]


def _values_diff(a: dict[str, Value], b: dict[str, Value], where: str) -> str | None:
    if sorted(a) != sorted(b):
        return f"{where}: attribute names {sorted(a)} != {sorted(b)}"
    for k, v in a.items():
        if not v.equals(b[k]):
            return f"{where}: attribute {k!r}: {v!r} != {b[k]!r}"
    return None


def _binding_diff(a: Binding, b: Binding) -> str | None:
    from ..ir import Var

    if isinstance(a, tuple) or isinstance(b, tuple):
        if not (isinstance(a, tuple) and isinstance(b, tuple)) or len(a) != len(b):
            return f"{a!r} != {b!r}"
        for x, y in zip(a, b, strict=True):
            d = _binding_diff(x, y)
            if d:
                return d
        return None
    if isinstance(a, Var) and isinstance(b, Var):
        return None if a.name == b.name and a.type == b.type else f"{a!r} != {b!r}"
    if isinstance(a, Value) and isinstance(b, Value):
        return None if a.equals(b) else f"{a!r} != {b!r}"
    return f"{a!r} != {b!r}"


def _op_diff(a: Operation, b: Operation, where: str) -> str | None:
    where = f"{where} op {a.name!r}"
    if (a.op_type, a.name) != (b.op_type, b.name):
        return f"{where}: {a.op_type} '{a.name}' != {b.op_type} '{b.name}'"
    if sorted(a.inputs) != sorted(b.inputs):
        return f"{where}: input names {sorted(a.inputs)} != {sorted(b.inputs)}"
    for k in a.inputs:
        d = _binding_diff(a.inputs[k], b.inputs[k])
        if d:
            return f"{where}: input {k!r}: {d}"
    d = _values_diff(a.attrs, b.attrs, where)
    if d:
        return d
    outs_a = [(v.name, v.type) for v in a.outputs]
    outs_b = [(v.name, v.type) for v in b.outputs]
    if outs_a != outs_b:
        return f"{where}: outputs {outs_a} != {outs_b}"
    return None


def _function_diff(a: Function, b: Function) -> str | None:
    where = f"func {a.name}"
    if (a.name, a.opset) != (b.name, b.opset):
        return f"{where}: {a.name}<{a.opset}> != {b.name}<{b.opset}>"
    ins_a = [(k, v.type) for k, v in a.inputs.items()]
    ins_b = [(k, v.type) for k, v in b.inputs.items()]
    if ins_a != ins_b:
        return f"{where}: inputs {ins_a} != {ins_b}"
    d = _values_diff(a.attributes, b.attributes, where)
    if d:
        return d
    if len(a.operations) != len(b.operations):
        return f"{where}: {len(a.operations)} ops != {len(b.operations)} ops"
    for x, y in zip(a.operations, b.operations, strict=True):
        d = _op_diff(x, y, where)
        if d:
            return d
    if [v.name for v in a.outputs] != [v.name for v in b.outputs]:
        return f"{where}: outputs {[v.name for v in a.outputs]} != {[v.name for v in b.outputs]}"
    return None


def program_diff(a: Program, b: Program) -> str | None:
    """First difference between two programs, or None. ``version`` is compared only when both are set."""
    if a.version is not None and b.version is not None and a.version != b.version:
        return f"program version {a.version} != {b.version}"
    d = _values_diff(a.attributes, b.attributes, "program")
    if d:
        return d
    if list(a.functions) != list(b.functions):
        return f"functions {list(a.functions)} != {list(b.functions)}"
    for name in a.functions:
        d = _function_diff(a.functions[name], b.functions[name])
        if d:
            return d
    return None
