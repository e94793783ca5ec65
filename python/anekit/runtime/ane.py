"""The ANE backend: compiles through the Objective-C++ core (``anekit._core.ane``), the only module that uses it.

The framework is initialised on first use with the configured path (``ANEKIT_ANE_FRAMEWORK``; the system's
private framework by default, the bundled fake under :func:`anekit.testing.fake_ane`). Surfaces are
IOSurface-backed once the backend is initialised.

What the framework is given (:mod:`anekit.runtime.ane_io`): the program's text with its inputs and outputs
renamed to canonical index-ordered names (so declaration and alphabetical binding agree), surfaces of one
allocation size per side and at least 49,152 bytes by default (``ANEKIT_ANE_SURFACES``,
``ANEKIT_ANE_MIN_SURFACE_BYTES``, else what ``anekit doctor`` settled on this machine),
tensors packed at offset 0. After load, the model's ``modelAttributes`` chooses
each surface's request index when the framework reports it (docs/internals/ane-private-api.md §25.1).

A model that loaded but returns all-zero outputs where the reference executor computes non-zero ones is the
silent end of the per-process compile budget (§16.1): the first evaluations are checked until one output is
non-zero, and that case raises :class:`~anekit.errors.CompileBudgetExceeded` instead of returning zeros.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _core, config
from .._info import ane_status
from ..errors import AneUnavailableError, CompileBudgetExceeded, MILError
from ..mil.ir import Program
from .ane_io import canonical_function, surface_allocations
from .backend import IOSpec
from .signature import function_io

__all__ = ["AneBackend", "AneExecutable"]

_ALL_PATHS = ("standard", "realtime", "process_request", "direct")


def _check_blobs(program: Program, function: str) -> None:
    """Read every BLOBFILE value of ``function`` the way the reference backend does, so that a corrupt weight
    file is a MILError naming it now instead of a framework failure later (the framework copies weight files
    as bytes: a bad record would reach the compiler or the first evaluation).

    Raises:
        MILError: a blob cannot be read (missing file, bad metadata record, data out of bounds).
    """
    for op in program.functions[function].operations:
        for value in (*op.attrs.values(), *op.inputs.values()):
            for v in value if isinstance(value, tuple) else (value,):
                if getattr(v, "blob", None) is not None:
                    v.data  # noqa: B018 -- reading is the check (Value.data raises MILError)


class AneExecutable:
    """A program compiled and loaded on the ANE.

    Attributes:
        inputs, outputs: the function's I/O under the user's names, in declaration order.
        surface_bytes: allocation size of each input and output surface, by user name (the Kernel makes its
            surfaces this large).
    """

    def __init__(
        self,
        model: Any,
        inputs: list[IOSpec],
        outputs: list[IOSpec],
        surface_bytes: dict[str, int],
        program: Program,
        fake: Any = None,
    ) -> None:
        self._model = model
        self.inputs = inputs
        self.outputs = outputs
        self.surface_bytes = surface_bytes
        self._program = program  # kept for the silent-end check; dropped once an output was non-zero
        self._fake = fake  # the anekit.testing.fake_ane block it was compiled in, or None
        self._dead: CompileBudgetExceeded | None = None  # set once the silent end was detected
        # The silent-end check's reference executor, prepared once; and whether all-zero inputs are known to give
        # all-zero outputs (then a run on zeroed surfaces, the zero-copy idiom, needs no reference run at all).
        self._reference: Any = None
        self._zeros_give_zeros = False

    def evaluate(self, inputs: Sequence[Any], outputs: Sequence[Any], *, path: str, qos: int) -> float | None:
        model = self._model
        if model is None:
            raise RuntimeError("this ANE kernel has been closed")
        if self._fake is not None and not self._fake.active:
            raise AneUnavailableError(
                "this kernel was compiled on the fake ANE framework inside an anekit.testing.fake_ane() block that "
                "has ended; compile it again inside a block"
            )
        if self._dead is not None:
            raise self._dead
        hw_ns = model.evaluate(inputs, outputs, path, qos)
        if self._program is not None:
            self._check_not_silently_dead(inputs, outputs)
        return None if hw_ns is None else hw_ns * 1e-9

    def _check_not_silently_dead(self, inputs: Sequence[Any], outputs: Sequence[Any]) -> None:
        """Raise CompileBudgetExceeded when every output is zero but the reference computes non-zero values.

        Past the compile budget the framework may "compile" and "load" a program whose evaluations write zeros
        (docs/internals/ane-private-api.md §16.1). Checked until one evaluation produces a non-zero output, which a dead
        model never does; the reference runs only while outputs are all zero.
        """
        results = [o.read(dtype=np.float32) for o in outputs]
        if any(np.any(r != 0) for r in results):
            self._program = self._reference = None  # alive: stop checking
            return
        given = {spec.name: surface.read(dtype=np.float32) for spec, surface in zip(self.inputs, inputs, strict=True)}
        zero_inputs = not any(np.any(v) for v in given.values())
        if zero_inputs and self._zeros_give_zeros:
            return  # the reference is deterministic: zeros in, zeros out, as already computed
        if self._reference is None:
            from ..reference.executor import Executor

            self._reference = Executor(self._program, precision="ane")
        expected = self._reference(given)
        if not any(np.any(np.asarray(v) != 0) for v in expected.values()):
            self._zeros_give_zeros = self._zeros_give_zeros or zero_inputs
            return  # genuinely zero for these inputs: keep checking later calls
        used = _core.compile_count()
        # Every later evaluation raises the same error (the content cache may hand this model out again).
        self._dead = CompileBudgetExceeded(
            used,
            max(used - 1, 0),
            "the framework loaded this program but its outputs are all zeros where the reference executor "
            "computes non-zero values: the silent end of the per-process ANE compile budget (observed after "
            f"{used} compiles; configured limit {config.setting('compile_limit').value}). Compile in a fresh process "
            '(anekit.budget.set_policy("recycle"))',
        )
        raise self._dead

    def model_attributes(self) -> Any:
        """The loaded model's ``modelAttributes`` (docs/internals/ane-private-api.md §25.1): parsed JSON, the
        framework's text when it is not JSON, or None when the framework reports none. For bug reports (``anekit
        doctor``)."""
        if self._model is None:
            raise RuntimeError("this ANE kernel has been closed")
        text = self._model.model_attributes()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text

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
        usable, why = ane_status(config.get().ane_framework)
        if usable and _core.ane.runtime_info().get("is_fake"):
            from ..testing import active_fake

            if active_fake() is None:
                # The fake is process-wide once loaded; only the thread inside the block may use it.
                return False, (
                    "the fake ANE framework is loaded in this process but this thread is not inside an "
                    "anekit.testing.fake_ane() block"
                )
        return usable, why

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
        if not inputs:
            # _ANERequest validate refuses a request without inputs (docs/internals/ane-private-api.md §25.1): refuse
            # before spending a compile on it.
            raise MILError(
                f"function {function!r} has no inputs; the ANE cannot evaluate a program without inputs (the "
                "framework refuses requests with 0 input surfaces). Add an input, e.g. a dummy [1, 1, 1, 32] fp16 "
                "tensor"
            )
        _check_blobs(program, function)
        canonical = canonical_function(program, function)
        weights = canonical.program.weights()
        # The user's setting, else this machine's doctor finding, else the default (config.setting).
        rule = config.setting("ane_surfaces").value
        minimum = config.setting("ane_min_surface_bytes").value
        sizes = surface_allocations(inputs, rule, minimum) + surface_allocations(outputs, rule, minimum)
        model = _core.ane.compile(
            canonical.program.to_mil(),
            weights,
            qos=qos,
            perf_stats=perf_stats,
            input_names=canonical.input_names,
            output_names=canonical.output_names,
        )
        from ..testing import active_fake

        return AneExecutable(
            model,
            inputs,
            outputs,
            {spec.name: size for spec, size in zip([*inputs, *outputs], sizes, strict=True)},
            program,
            active_fake(),
        )
