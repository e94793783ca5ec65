"""Fold the shape arithmetic of a pinned program into constants.

Converted programs compute shapes at run time (``shape`` -> ``gather`` / ``slice_by_index`` / ``concat`` ->
``reshape``, as in the corpus's MiniLM). Once the inputs are static those values are fixed, but type inference
cannot see through them, so ``?`` dims would remain. This pass evaluates every op whose result depends only
on inline constants and on input *shapes* with the reference executor, replaces it with a ``const``, and
drops constants nothing uses any more.
"""

from __future__ import annotations

import numpy as np

from ...errors import MILError
from ..ir import Function, Operation, Var
from ..types import TensorType
from ..values import Value

__all__ = ["drop_unused_consts", "fold_static"]

def _inputs(op: Operation) -> list[object]:
    return [x for b in op.inputs.values() for x in (b if isinstance(b, tuple) else (b,))]


def fold_static(f: Function) -> int:
    """Replace the input-independent ops of ``f`` with constants, in place; returns how many were folded.

    Raises:
        MILError: the reference executor cannot evaluate an op that should be foldable (named).
    """
    known: set[int] = set()  # ids of vars whose value is known before any input is given
    foldable: list[Operation] = []
    shapes = 0
    for op in f.operations:
        args = _inputs(op)
        blobs = [v for v in (*op.attrs.values(), *args) if isinstance(v, Value) and v.blob is not None]
        if op.op_type == "const":
            ok = not blobs and all(isinstance(v.type, TensorType) for v in op.outputs)
        elif op.op_type == "shape" and all(isinstance(x, Var) and x.type.is_static for x in args):
            # shape(x) of a static x is a constant: the only op whose result depends on an input's shape alone
            (x,) = args
            _make_const(op, np.asarray(x.type.shape, np.int32))
            shapes += 1
            ok = True
        else:
            ok = bool(args) and not blobs and all(not isinstance(x, Var) or id(x) in known for x in args)
        if ok and all(isinstance(v.type, TensorType) for v in op.outputs):
            known.update(id(v) for v in op.outputs)
            foldable.append(op)
    targets = [op for op in foldable if op.op_type != "const" and len(op.outputs) == 1]
    if targets:
        values = _evaluate(f, foldable)
        for op in targets:
            _make_const(op, np.asarray(values[op.outputs[0].name]))
    drop_unused_consts(f)
    return shapes + len(targets)


def _make_const(op: Operation, data: np.ndarray) -> None:
    (out,) = op.outputs
    assert isinstance(out.type, TensorType)
    out.type = TensorType(out.type.dtype, data.shape)
    op.op_type = "const"
    op.inputs = {}
    op.attrs = {"val": Value(out.type, data.astype(out.type.dtype.np_dtype))}


def _evaluate(f: Function, ops: list[Operation]) -> dict[str, object]:
    from ...reference import Executor  # the reference executor imports the IR; imported only when folding

    # Every folded value depends on constants only, so the sub-function has no inputs.
    sub = Function(f.name, f.opset, {}, ops, [v for op in ops for v in op.outputs])
    try:
        return Executor(sub)({}, trace=True).trace
    except MILError as exc:
        raise MILError(f"function {f.name!r}: folding the static shape computations failed: {exc}") from exc


def drop_unused_consts(f: Function) -> None:
    """Remove the ``const`` ops of ``f`` whose outputs nothing reads any more (after a pass removed the reader)."""
    while True:
        used = {id(x) for op in f.operations for x in _inputs(op) if isinstance(x, Var)}
        used.update(id(v) for v in f.outputs)
        keep = [op for op in f.operations if op.op_type != "const" or any(id(v) in used for v in op.outputs)]
        if len(keep) == len(f.operations):
            return
        f.operations = keep
