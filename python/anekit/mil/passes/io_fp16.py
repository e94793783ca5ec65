"""fp32 (and, optionally, integer) I/O -> fp16 I/O, with the casts at the boundary removed.

Converters keep a module's fp32 I/O and cast to fp16 right after each input (and back before each output).
The ANE computes in fp16 and its IOSurfaces carry fp16 (docs/internals/ane-private-api.md §5), so those casts
only cost a conversion on each side: this pass declares the I/O fp16 and deletes them. Where an input is used
without such a cast, a cast from fp16 is inserted instead so the rest of the program is unchanged; likewise a
cast to fp16 is appended to an fp32 output that has no cast to remove.

Integer inputs (token ids) cannot cross an IOSurface at all (the runtime refuses them); with
``integers=True`` they become fp16 inputs followed by a cast to their integer type, which is exact for
integers of magnitude up to 2048 (fp16's 11-bit significand) and is checked by nothing at run time: a caller
passing larger ids must keep integer I/O.
"""

from __future__ import annotations

from ...errors import MILError
from ..ir import Function, Operation, Program, Var
from ..types import TensorType, dtype
from ..values import Value
from ._edit import const_op, fresh, replace_uses, uses
from .fold import drop_unused_consts

__all__ = ["io_fp16"]

_FP16 = dtype("fp16")


def io_fp16(program: Program, *, function: str | None = None, integers: bool = False) -> Program:
    """Make ``function``'s fp32 inputs and outputs fp16, in place, removing the boundary casts.

    Args:
        program: the program (changed in place and returned).
        function: the function (default ``program.main``).
        integers: also turn int32/int16 inputs into fp16 inputs cast to their type inside the program.

    Returns:
        ``program``.
    """
    f = program.functions[function] if function is not None else program.main
    for var in list(f.inputs.values()):
        t = var.type
        wanted = ("fp32", "int32", "int16") if integers else ("fp32",)
        if isinstance(t, TensorType) and t.dtype.name in wanted:
            _input(f, var, t)
    for i, var in enumerate(list(f.outputs)):
        t = var.type
        if isinstance(t, TensorType) and t.dtype.name == "fp32":
            f.outputs[i] = _output(f, var, t)
    drop_unused_consts(f)  # the removed casts' dtype constants
    return program


def _cast_target(op: Operation, f: Function) -> str | None:
    # The dtype operand of cast is a string const: inline, or a const op's output (coremltools writes both).
    b = op.inputs.get("dtype")
    if isinstance(b, Var) and b.op is not None and b.op.op_type == "const":
        b = b.op.attrs.get("val")
    return b.data if isinstance(b, Value) and isinstance(b.data, str) else None


def _cast_op(f: Function, x: Var, to: str, out_name: str) -> tuple[list[Operation], Var]:
    # Before ios18 an argument must be a variable (inline literals are iOS18 syntax), so the dtype is a const.
    const, dt = const_op(f, f"{out_name}_dtype", to)
    op = Operation.built("cast", fresh({o.name for o in f.operations} | {const.name}, f"{out_name}_cast"))
    out = Var(fresh(set(f.vars()) | {dt.name}, out_name), x.type.with_dtype(to), op)
    op.inputs = {"x": x, "dtype": dt}
    op.outputs = [out]
    return [const, op], out


def _input(f: Function, var: Var, t: TensorType) -> None:
    readers = uses(f, var)
    if var in f.outputs:
        raise MILError(f"input {var.name!r} is also a function output; change its dtype by hand")
    casts = [op for op, key in readers if op.op_type == "cast" and key == "x" and _cast_target(op, f) == "fp16"]
    var.type = t.with_dtype(_FP16)
    for op in casts:  # cast(x, fp16) of what is now fp16: the cast goes, its users read the input
        replace_uses(f, op.outputs[0], var)
        f.operations.remove(op)
    if len(casts) < len(readers):  # other users keep the old dtype through one cast from fp16
        ops, out = _cast_op(f, var, t.dtype.name, f"{var.name}_{t.dtype.name}")
        replace_uses(f, var, out)
        ops[-1].inputs["x"] = var
        f.operations[:0] = ops


def _output(f: Function, var: Var, t: TensorType) -> Var:
    op = var.op
    if (
        op is not None
        and op.op_type == "cast"
        and isinstance(op.inputs.get("x"), Var)
        and op.inputs["x"].type.dtype == _FP16
        and len(uses(f, var)) == 0
        and f.outputs.count(var) == 1
    ):
        # y = cast(x_fp16, fp32) returned: return x_fp16 under y's name instead (the output keeps its name)
        src = op.inputs["x"]
        f.operations.remove(op)
        if src.name not in f.inputs and src not in f.outputs:
            src.name = var.name
        return src
    name = var.name
    var.name = fresh(set(f.vars()), f"{name}_fp32")  # the fp16 output keeps the name callers know
    ops, out = _cast_op(f, var, "fp16", name)
    f.operations.extend(ops)
    return out
