"""The ANE backend: compiles through the Objective-C++ core (``anekit._core.ane``), the only module that uses it.

The framework is initialised on first use with the configured path (``ANEKIT_ANE_FRAMEWORK``; the system's
private framework by default, the bundled fake under :func:`anekit.testing.fake_ane`). Surfaces are
IOSurface-backed once the backend is initialised, and are bound to the request in MIL order
(ane-private-api.md §13).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _core, config
from .._info import ane_status
from ..errors import AneUnavailableError
from ..mil.ir import Program
from .backend import IOSpec
from .signature import function_io

__all__ = ["AneBackend", "AneExecutable", "input_order"]

_ALL_PATHS = ("standard", "realtime", "process_request", "direct")


def input_order(inputs: list[IOSpec], rule: str) -> list[int] | None:
    """The order in which to pass input surfaces so the device binds each to its MIL input.

    Args:
        inputs: the function's inputs in declaration order.
        rule: how this machine matches surfaces to inputs, as settled by ``anekit doctor`` (probe
            ``input_order``): ``"declaration"`` (the documented wiring, ane-private-api.md §13), ``"name"`` or
            ``"size"``.

    Returns:
        Indices into ``inputs`` in passing order, or None when declaration order is right.
    """
    if rule == "name":
        order = sorted(range(len(inputs)), key=lambda i: inputs[i].name)
    elif rule == "size":
        order = sorted(range(len(inputs)), key=lambda i: inputs[i].type.numel or 0)
    else:
        return None
    return None if order == list(range(len(inputs))) else order


class AneExecutable:
    """A program compiled and loaded on the ANE."""

    def __init__(self, model: Any, inputs: list[IOSpec], outputs: list[IOSpec], order: list[int] | None) -> None:
        self._model = model
        self.inputs = inputs
        self.outputs = outputs
        self._order = order

    def evaluate(self, inputs: Sequence[Any], outputs: Sequence[Any], *, path: str, qos: int) -> float | None:
        if self._model is None:
            raise RuntimeError("this ANE kernel has been closed")
        surfaces = inputs if self._order is None else [inputs[i] for i in self._order]
        hw_ns = self._model.evaluate(surfaces, outputs, path, qos)
        return None if hw_ns is None else hw_ns * 1e-9

    def evaluate_arrays(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise AneUnavailableError(
            "the ANE exchanges only fp16/fp32 tensors of rank 1-5 through IOSurfaces; this program has other "
            "inputs or outputs (cast them inside the program)"
        )

    def close(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            model.close()


class AneBackend:
    """Apple's Neural Engine through the private AppleNeuralEngine.framework."""

    name = "ane"

    @property
    def paths(self) -> tuple[str, ...]:
        info = _core.ane.runtime_info() if _core.ane.built() else {}
        usable = tuple(p for p in _ALL_PATHS if p in info.get("execution_paths", ()))
        return usable or ("standard",)

    def availability(self) -> tuple[bool, str]:
        return ane_status(config.get().ane_framework)

    def compile(self, program: Program, *, function: str, options: Mapping[str, Any]) -> AneExecutable:
        usable, why = self.availability()
        if not usable:
            raise AneUnavailableError(f"the ANE backend is not usable here: {why}")
        opts = dict(options)
        qos = int(opts.pop("qos", 21))
        opts.pop("path", None)
        perf_stats = bool(opts.pop("perf_stats", False))
        if opts:
            raise TypeError(f"ane backend: unknown compile option(s) {sorted(opts)}; expected qos, path, perf_stats")
        if function != "main" or len(program.functions) != 1:
            # The in-memory route compiles the whole text; multi-function programs select a procedure by index
            # (maderix/ANE#44), which this backend does not drive yet.
            raise AneUnavailableError(
                f"the ANE backend compiles single-function programs named 'main'; got functions "
                f"{list(program.functions)} (function={function!r})"
            )
        inputs, outputs = function_io(program, function)
        text = program.to_mil()
        weights = program.weights()
        model = _core.ane.compile(text, weights, qos=qos, perf_stats=perf_stats)
        return AneExecutable(model, inputs, outputs, input_order(inputs, _settled_input_order()))


def _settled_input_order() -> str:
    """The input-order rule ``anekit doctor`` settled for this machine, or the documented default."""
    from ..doctor.report import load_report, machine_key

    findings = load_report(machine_key(bool(_core.ane.runtime_info().get("is_fake")))) or {}
    order = findings.get("input_order")
    return order if order in ("declaration", "name", "size") else "declaration"
