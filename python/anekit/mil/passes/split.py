"""Split linear layers whose output is wider than the ANE takes (a vocabulary-sized LM head) into chunks.

The ANE's largest dimension is 65536 and libane's graph API limits channels to 16384
(docs/internals/ane-private-api.md §15.1, §15.3 item 4; the validator's ``ane-dim-limit``). A ``linear`` with
a constant ``[N, K]`` weight and ``N`` above the limit becomes ``ceil(N / limit)`` linears over row blocks of
the weight. If its result is a function output and nothing else reads it, the chunks become separate outputs
(``<name>_0``, ``<name>_1``, … in order), so no run-time tensor exceeds the limit; otherwise they are joined by
a ``concat`` on the last axis that produces the original variable.
"""

from __future__ import annotations

import numpy as np

from ...errors import MILError
from ..ir import Function, Operation, Program, Var
from ..types import TensorType
from ..validate.ane_io import CHANNEL_SOFT_LIMIT
from ..values import Value
from ._edit import const_op, fresh, uses

__all__ = ["split_wide_linear"]


def split_wide_linear(program: Program, *, limit: int = CHANNEL_SOFT_LIMIT, function: str | None = None) -> int:
    """Split every ``linear`` of ``function`` whose output dim exceeds ``limit``, in place.

    Returns:
        How many linears were split.

    Raises:
        MILError: ``limit`` is not a positive int, or a wide linear's weight is not a constant (named).
    """
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise MILError(f"limit must be a positive int, got {limit!r}")
    f = program.functions[function] if function is not None else program.main
    split = 0
    for op in list(f.operations):
        out = op.outputs[0] if op.op_type == "linear" and op.outputs else None
        if out is None or not isinstance(out.type, TensorType) or not out.type.shape:
            continue
        n = out.type.shape[-1]
        if n is None or n <= limit:
            continue
        weight, bias = _const(op, "weight"), _const(op, "bias")
        if weight is None:
            raise MILError(f"[linear '{op.name}'] is {n} wide but its weight is not a constant; cannot split it")
        chunks = _chunks(f, op, weight, bias, limit)
        at = f.operations.index(op)
        f.operations.remove(op)
        new_ops = [o for ops, _ in chunks for o in ops]
        parts = [v for _, v in chunks]
        if out in f.outputs and not uses(f, out) and f.outputs.count(out) == 1:
            i = f.outputs.index(out)
            for k, v in enumerate(parts):
                v.name = fresh(set(f.vars()) - {v.name}, f"{out.name}_{k}")
            f.outputs[i : i + 1] = parts
        else:
            new_ops += _concat(f, parts, out, op.name)
        f.operations[at:at] = new_ops
        split += 1
    return split


def _const(op: Operation, key: str) -> np.ndarray | None:
    b = op.inputs.get(key)
    if isinstance(b, Var) and b.op is not None and b.op.op_type == "const":
        b = b.op.attrs.get("val")
    return np.asarray(b.data) if isinstance(b, Value) else None


def _chunks(
    f: Function, op: Operation, weight: np.ndarray, bias: np.ndarray | None, limit: int
) -> list[tuple[list[Operation], Var]]:
    # One linear per block of weight rows (output channels); every chunk reads the same x.
    out = op.outputs[0]
    assert isinstance(out.type, TensorType)
    result = []
    for k, start in enumerate(range(0, weight.shape[0], limit)):
        stop = min(start + limit, weight.shape[0])
        w_op, w = const_op(f, f"{op.name}_weight_{k}", np.ascontiguousarray(weight[start:stop]))
        ops = [w_op]
        lin = Operation.built("linear", fresh({o.name for o in f.operations} | {w_op.name}, f"{op.name}_{k}"))
        shape = (*out.type.shape[:-1], stop - start)
        lin.inputs = {"x": op.inputs["x"], "weight": w}
        if bias is not None:
            b_op, b = const_op(f, f"{op.name}_bias_{k}", np.ascontiguousarray(bias[start:stop]))
            ops.append(b_op)
            lin.inputs["bias"] = b
        v = Var(fresh(set(f.vars()) | {w.name}, f"{out.name}_{k}"), out.type.with_shape(shape), lin)
        lin.outputs = [v]
        ops.append(lin)
        result.append((ops, v))
    return result


def _concat(f: Function, parts: list[Var], out: Var, name: str) -> list[Operation]:
    assert isinstance(out.type, TensorType)
    axis_op, axis = const_op(f, f"{name}_axis", np.int32(out.type.rank - 1))
    inter_op, inter = const_op(f, f"{name}_interleave", np.bool_(False))
    cat = Operation.built("concat", name)
    cat.inputs = {"values": tuple(parts), "axis": axis, "interleave": inter}
    cat.outputs = [out]
    out.op = cat
    return [axis_op, inter_op, cat]
