"""A compiled function's I/O signature: names and static tensor types, in MIL order (ane-private-api.md §13)."""

from __future__ import annotations

from ..errors import MILError
from ..mil.ir import Program
from ..mil.types import TensorType
from .backend import IOSpec

__all__ = ["function_io"]


def function_io(program: Program, function: str) -> tuple[list[IOSpec], list[IOSpec]]:
    """``(inputs, outputs)`` of ``program``'s ``function`` as :class:`IOSpec` lists.

    Raises:
        TypeError: ``program`` is not an anekit.mil.Program.
        ValueError: no such function.
        MILError: an input or output that is not a statically shaped tensor (surfaces need a fixed size).
    """
    if not isinstance(program, Program):
        raise TypeError(f"expected an anekit.mil.Program, got {type(program).__name__}")
    fn = program.functions.get(function)
    if fn is None:
        raise ValueError(f"program has no function {function!r}; it has {list(program.functions)}")

    def spec(name: str, t: object, role: str) -> IOSpec:
        if not isinstance(t, TensorType):
            raise MILError(f"{role} {name!r} of {function} has type {t}; kernels take tensor inputs and outputs")
        if not t.is_static:
            raise MILError(
                f"{role} {name!r} of {function} has dynamic shape {t}; compile a static shape (the ANE "
                "compiles one shape per program)"
            )
        return IOSpec(name, t)

    inputs = [spec(name, var.type, "input") for name, var in fn.inputs.items()]
    outputs = [spec(var.name, var.type, "output") for var in fn.outputs]
    return inputs, outputs
