"""The reference backend: the CPU reference executor behind the backend protocol.

Evaluation goes through the same Surfaces as on the ANE (inputs are read from their surfaces, outputs written
to theirs), so code written against :class:`~anekit.runtime.kernel.Kernel` behaves the same on both backends,
including the fp16 rounding at the I/O boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _core
from ..mil.ir import Program
from ..reference.executor import Executor
from .backend import IOSpec
from .signature import function_io

__all__ = ["ReferenceBackend", "ReferenceExecutable"]


class ReferenceExecutable:
    """A function prepared for repeated reference execution (``precision="ane"``)."""

    def __init__(self, program: Program, function: str) -> None:
        self.inputs, self.outputs = function_io(program, function)
        self._executor: Executor | None = Executor(program, function=function, precision="ane")

    def _exec(self) -> Executor:
        if self._executor is None:
            raise RuntimeError("this reference kernel has been closed")
        return self._executor

    def evaluate(self, inputs: Sequence[Any], outputs: Sequence[Any], *, path: str, qos: int) -> float | None:
        arrays: dict[str, np.ndarray] = {}
        for spec, surface in zip(self.inputs, inputs):
            arrays[spec.name] = surface.read(dtype=np.float16 if spec.type.dtype.name == "fp16" else np.float32)
        result = self.evaluate_arrays(arrays)
        for spec, surface in zip(self.outputs, outputs):
            surface.write(result[spec.name])
        return None

    def evaluate_arrays(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._exec()(dict(inputs))

    def close(self) -> None:
        self._executor = None


class ReferenceBackend:
    """The numpy reference executor: always usable; the semantic definition of every op."""

    name = "reference"
    #: The reference executor has one way to run; the path option is accepted for API parity.
    paths: tuple[str, ...] = ("standard",)

    def availability(self) -> tuple[bool, str]:
        return True, ""

    def compile(self, program: Program, *, function: str, options: Mapping[str, Any]) -> ReferenceExecutable:
        unknown = sorted(set(options) - {"qos", "path"})
        if unknown:
            raise TypeError(f"reference backend: unknown compile option(s) {unknown}; expected 'qos' or 'path'")
        executable = ReferenceExecutable(program, function)
        # One compile spent, as the ANE backend counts its framework compiles: the budget logic sees both.
        _core._note_compile()
        return executable
