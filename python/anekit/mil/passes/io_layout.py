"""Inputs and outputs in the ANE's ``[1, C, 1, S]`` layout.

The ANE's IOSurfaces hold ``[1, C, 1, S]`` tensors (channels, then a sequence of positions;
docs/internals/ane-private-api.md §5, the validator's ``ane-io-layout``). A converted program takes its module's shapes
(``[B, T, D]``, ``[N, C, H, W]``, …). This pass declares every tensor input and output in that layout and
converts at the boundary inside the program: the ``channel_axis`` of the original shape becomes C and the
other axes, in order, become S. When every axis before the channel axis has size 1 (``[1, C, H, W]``,
``[1, C, L]``) the conversion is a ``reshape`` alone; otherwise a ``transpose`` moves the channels first.

Where the program already reshapes or transposes at the boundary, the conversion folds into that op, exactly
(composing reshapes, or permutations, changes no element): an input read only by a ``reshape`` (reshape-only
boundary) or a ``transpose`` (transposing boundary), and an output that only a ``reshape`` or a ``transpose``
produces. An output transpose that the conversion undoes disappears with it.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import MILError
from ..ir import Function, Operation, Program, Var
from ..types import TensorType
from ._edit import const_op, fresh, replace_uses, uses
from .fold import drop_unused_consts

__all__ = ["io_layout"]


def io_layout(program: Program, *, channel_axis: int = -1, function: str | None = None) -> Program:
    """Declare ``function``'s tensor inputs and outputs as ``[1, C, 1, S]``, in place.

    Args:
        program: the program (changed in place and returned).
        channel_axis: the axis of the original I/O shapes that holds the channels (default: the last one, the
            PyTorch convention for features; ``1`` for NCHW / NCL tensors).
        function: the function (default ``program.main``).

    Raises:
        MILError: an I/O tensor with unknown dims (pin its shape first) or without ``channel_axis``.
    """
    f = program.functions[function] if function is not None else program.main
    for var in list(f.inputs.values()):
        if isinstance(var.type, TensorType) and not _in_layout(var.type):
            _input(f, var, _axis(var, channel_axis))
    for i, var in enumerate(list(f.outputs)):
        if isinstance(var.type, TensorType) and not _in_layout(var.type):
            f.outputs[i] = _output(f, var, _axis(var, channel_axis))
    drop_unused_consts(f)
    return program


def _in_layout(t: TensorType) -> bool:
    return t.rank == 4 and t.shape[0] == 1 and t.shape[2] == 1


def _axis(var: Var, channel_axis: int) -> int:
    t = var.type
    assert isinstance(t, TensorType)
    if not t.is_static:
        raise MILError(f"{var.name!r} is {t}: pin its shape (mil.load(..., shapes=...)) before changing its layout")
    if not -t.rank <= channel_axis < t.rank:
        raise MILError(f"{var.name!r} is {t}: it has no axis {channel_axis}")
    return channel_axis % t.rank


def _perm(rank: int, axis: int) -> list[int]:
    # The order that puts the channel axis first and keeps the others in order.
    return [axis, *(i for i in range(rank) if i != axis)]


def _ane_shape(t: TensorType, axis: int) -> tuple[int, ...]:
    c = t.shape[axis]
    assert c is not None
    return (1, c, 1, math.prod(d for i, d in enumerate(t.shape) if i != axis and d is not None))


def _op(
    f: Function, op_type: str, name: str, x: Var, key: str, value: np.ndarray, out_t: TensorType
) -> list[Operation]:
    """``op_type(x=x, key=<const value>)`` named ``name`` (not inserted), with its const first."""
    const, arg = const_op(f, f"{name}_{key}", value)
    op = Operation.built(op_type, fresh({o.name for o in f.operations} | {const.name}, name))
    out = Var(fresh(set(f.vars()) | {arg.name}, name), out_t, op)
    op.inputs, op.outputs = {"x": x, key: arg}, [out]
    return [const, op]


def _reshape(f: Function, name: str, x: Var, out_t: TensorType) -> list[Operation]:
    return _op(f, "reshape", name, x, "shape", np.array(out_t.shape, np.int32), out_t)


def _input(f: Function, var: Var, axis: int) -> None:
    t = var.type
    assert isinstance(t, TensorType)
    if var in f.outputs:
        raise MILError(f"input {var.name!r} is also a function output; change its layout by hand")
    readers = uses(f, var)
    var.type = t.with_shape(_ane_shape(t, axis))
    moved = all(d == 1 for d in t.shape[:axis])
    perm = _perm(t.rank, axis)
    channels_first = t.with_shape([t.shape[i] for i in perm])
    sole = readers[0][0] if len(readers) == 1 and readers[0][1] == "x" else None
    if moved and sole is not None and sole.op_type == "reshape" and _static_output(sole):
        # The program reshapes the input first, and ours is a reshape too: reshape(reshape(x, t), s) is
        # reshape(x, s) (both keep the row-major order), so the program's reshape reads the new input directly.
        _set_const(f, sole, "shape", np.array(sole.outputs[0].type.shape, np.int32))
        return
    ops: list[Operation] = []
    if not moved and sole is not None and sole.op_type == "transpose" and _const_perm(sole) is not None:
        # The program transposes the input first: undo ours inside its perm instead of adding a transpose.
        theirs = _const_perm(sole)
        assert theirs is not None
        ops += _reshape(f, f"{var.name}_channels_first", var, channels_first)
        reshaped = ops[-1].outputs[0]
        inverse = np.argsort(perm)
        folded = [int(inverse[p]) for p in theirs]  # x[perm] then theirs == channels_first[composed]
        const, arg = const_op(f, f"{sole.name}_perm", np.array(folded, np.int32))
        ops.append(const)
        sole.inputs["perm"] = arg
        replace_uses(f, var, reshaped)  # before inserting: the new reshape keeps reading the input itself
        f.operations[:0] = ops
        return
    if moved:
        ops += _reshape(f, f"{var.name}_shaped", var, t)
    else:
        ops += _reshape(f, f"{var.name}_channels_first", var, channels_first)
        back = np.argsort(perm).astype(np.int32)
        ops += _op(f, "transpose", f"{var.name}_shaped", ops[-1].outputs[0], "perm", back, t)
    replace_uses(f, var, ops[-1].outputs[0])  # before inserting: the new ops keep reading the input itself
    f.operations[:0] = ops


def _output(f: Function, var: Var, axis: int) -> Var:
    t = var.type
    assert isinstance(t, TensorType)
    perm = _perm(t.rank, axis)
    target = t.with_shape(_ane_shape(t, axis))
    moved = all(d == 1 for d in t.shape[:axis])
    name = var.name
    producer = var.op
    # Only an op whose result is this output alone may change: nothing else reads what it computes.
    own = producer is not None and not uses(f, var) and f.outputs.count(var) == 1
    if own and moved and producer.op_type == "reshape":
        # The program ends in a reshape and ours is a reshape too: one reshape straight to [1, C, 1, S].
        _set_const(f, producer, "shape", np.array(target.shape, np.int32))
        var.type = target
        return var
    if own and not moved and producer.op_type == "transpose" and _const_perm(producer) is not None:
        # The program ends in a transpose: ours (channels first) composes into its perm; when the two cancel,
        # neither is left.
        theirs = _const_perm(producer)
        assert theirs is not None
        composed = [theirs[p] for p in perm]  # out = src[theirs], then out[perm] == src[composed]
        src = producer.inputs["x"]
        assert isinstance(src, Var)
        if composed == list(range(t.rank)):
            f.operations.remove(producer)
            ops = _reshape(f, name, src, target)
        else:
            _set_const(f, producer, "perm", np.array(composed, np.int32))
            var.type = t.with_shape([t.shape[i] for i in perm])
            var.name = fresh(set(f.vars()), f"{name}_unshaped")
            ops = _reshape(f, name, var, target)
        f.operations.extend(ops)
        return ops[-1].outputs[0]
    var.name = fresh(set(f.vars()), f"{name}_unshaped")
    ops: list[Operation] = []
    src = var
    if not moved:
        channels_first = t.with_shape([t.shape[i] for i in perm])
        ops += _op(f, "transpose", f"{name}_channels_first", src, "perm", np.array(perm, np.int32), channels_first)
        src = ops[-1].outputs[0]
    ops += _reshape(f, name, src, target)
    f.operations.extend(ops)
    return ops[-1].outputs[0]


def _static_output(op: Operation) -> bool:
    return len(op.outputs) == 1 and isinstance(op.outputs[0].type, TensorType) and op.outputs[0].type.is_static


def _set_const(f: Function, op: Operation, key: str, value: np.ndarray) -> None:
    """Bind ``op``'s input ``key`` to a new const holding ``value`` (the old one may be shared with other ops)."""
    const, arg = const_op(f, f"{op.name}_{key}", value)
    f.operations.insert(f.operations.index(op), const)
    op.inputs[key] = arg


def _const_perm(op: Operation) -> list[int] | None:
    b = op.inputs.get("perm")
    if isinstance(b, Var) and b.op is not None and b.op.op_type == "const":
        return [int(p) for p in np.asarray(b.op.attrs["val"].data)]
    return None
