"""Small graph-editing helpers shared by the passes: fresh names, uses of a variable, const ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import Function, Operation, Var
from ..types import TensorType, dtype
from ..values import Value

__all__ = ["const_op", "fresh", "replace_uses", "uses"]


def uses(f: Function, var: Var) -> list[tuple[Operation, str]]:
    return [
        (op, key)
        for op in f.operations
        for key, b in op.inputs.items()
        if b is var or (isinstance(b, tuple) and any(x is var for x in b))
    ]


def replace_uses(f: Function, old: Var, new: Var) -> None:
    for op in f.operations:
        for key, b in op.inputs.items():
            if b is old:
                op.inputs[key] = new
            elif isinstance(b, tuple) and any(x is old for x in b):
                op.inputs[key] = tuple(new if x is old else x for x in b)
    f.outputs = [new if v is old else v for v in f.outputs]


def fresh(taken: set[str], base: str) -> str:
    # Variable names and op names are separate namespaces (an op's name attribute vs its output's SSA name).
    name, i = base, 0
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    return name


def const_op(f: Function, name: str, data: Any, t: TensorType | None = None) -> tuple[Operation, Var]:
    """A new ``const`` op of ``f`` (not inserted) holding ``data``; big tensors are stored as weight blobs."""
    if t is None:
        if isinstance(data, str):
            t = TensorType(dtype("string"), ())
        else:
            arr = np.asarray(data)
            t = TensorType(dtype(arr.dtype), arr.shape)
    op = Operation.built("const", fresh({o.name for o in f.operations}, name))
    out = Var(fresh(set(f.vars()), name), t, op)
    storage = "blob" if isinstance(data, np.ndarray) and data.size * data.itemsize >= 64 else None
    op.attrs, op.outputs = {"val": Value(t, data, storage=storage)}, [out]
    return op, out
