"""A compiled function's I/O signature: names and static tensor types, in MIL order (docs/internals/ane-private-api.md
§13)."""

from __future__ import annotations

import numpy as np

from ..errors import MILError
from ..mil.ir import Program
from ..mil.types import TensorType
from .backend import IOSpec
from .host_arrays import fit_shape, host_array

__all__ = ["conform", "function_io"]


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
                "compiles one shape per program): pin it with anekit.mil.load(path, shapes={...}), "
                "anekit.mil.passes.pin_shapes, or --shapes on the command line"
            )
        return IOSpec(name, t)

    inputs = [spec(name, var.type, "input") for name, var in fn.inputs.items()]
    outputs = [spec(var.name, var.type, "output") for var in fn.outputs]
    return inputs, outputs


def conform(spec: IOSpec, value: object) -> np.ndarray:
    """``value`` as an array of ``spec``'s shape, under the rules ``Surface.write`` applies to kernel inputs.

    Accepted (:func:`~anekit.runtime.host_arrays.fit_shape`): the exact shape, ``(C, S)`` for a ``[1, C, 1, S]``
    tensor, or any shape that broadcasts to either (e.g. ``(C, 1)``);
    PyTorch tensors as :func:`~anekit.runtime.host_arrays.host_array` converts them.

    Raises:
        ValueError: the shape fits none of these, naming the input and the shapes.
    """
    arr = np.asarray(host_array(spec.name, value))
    shape = tuple(int(d) for d in spec.type.shape if d is not None)
    fitted, cs = fit_shape(arr, shape)  # the one definition of the accepted forms, shared with Kernel and shm
    if fitted is None:
        raise ValueError(
            f"input {spec.name!r} has shape {arr.shape}; expected {shape}"
            + (f", {cs}" if cs is not None else "")
            + " or a shape that broadcasts to it"
        )
    return fitted
