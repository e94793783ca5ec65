"""The reference backend: the CPU reference executor behind the backend protocol.

Evaluation goes through the same Surfaces as on the ANE (inputs are read from their surfaces, outputs written
to theirs), so code written against :class:`~anekit.runtime.kernel.Kernel` behaves the same on both backends,
including the fp16 rounding at the I/O boundary.

The backend can also *simulate the ANE compile budget* (docs/internals/architecture.md §3.2,
docs/internals/ane-private-api.md §16) so the budget policies, the content cache and the recycling pool are tested on
Linux with correct numerics:

* ``simulate_compile_limit=N`` (``ANEKIT_SIMULATE_COMPILE_LIMIT``): every compile past the N-th in this process
  fails. With ``simulate_compile_failure="raise"`` it raises :class:`~anekit.errors.CompileError`; with
  ``"silent"`` it "succeeds" but the kernel writes zeros, the failure mode reported upstream (§16.1, §11.4);
  with ``"crash"`` the process dies of SIGSEGV inside the compile, as libane saw after the silent failures.
  The failed attempt is still counted, as anekit counts every attempt that reaches the framework (§16.2).
* ``simulate_compile_latency_ms`` (``ANEKIT_SIMULATE_COMPILE_LATENCY_MS``): every compile sleeps that long
  (a real compile+load takes ~20-35 ms on M-series chips, docs/internals/ane-private-api.md §10), for benchmarks.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _core, config
from ..errors import CompileError
from ..mil.analysis.summary import fmt_flops, summarize
from ..mil.ir import Program
from ..progress import progress
from ..reference.executor import Executor
from .signature import function_io

__all__ = ["ReferenceBackend", "ReferenceExecutable"]

#: Functions estimated at this many FLOPs or more show progress while they run: the numpy reference computes
#: a few GFLOP/s here (a 3.8 GFLOP transformer block, d=768, runs in ~0.6 s), so smaller ones finish well
#: under the second after which progress appears anyway.
PROGRESS_MIN_FLOPS = 10**9


class ReferenceExecutable:
    """A function prepared for repeated reference execution (``precision="ane"``)."""

    def __init__(self, program: Program, function: str, *, silent_failure: bool = False) -> None:
        self.inputs, self.outputs = function_io(program, function)
        self._executor: Executor | None = Executor(program, function=function, precision="ane")
        # Runs of big programs take seconds on the CPU: those show progress (anekit.progress) when interactive.
        # Size is judged by estimated FLOPs (the summary reads declared types only: ~1 ms for a transformer block).
        fn = summarize(program).functions[list(program.functions).index(function)]
        big = fn.flops >= PROGRESS_MIN_FLOPS
        self._progress_label = f"reference run of {function} ({fn.n_ops} ops, {fmt_flops(fn.flops)})" if big else None
        # A simulated silent compile failure: everything "works" but every output is zeros (§16.1).
        self._zeros = silent_failure

    def _exec(self) -> Executor:
        if self._executor is None:
            raise RuntimeError("this reference kernel has been closed")
        return self._executor

    def evaluate(self, inputs: Sequence[Any], outputs: Sequence[Any], *, path: str, qos: int) -> float | None:
        arrays: dict[str, np.ndarray] = {}
        for spec, surface in zip(self.inputs, inputs, strict=True):
            arrays[spec.name] = surface.read(dtype=np.float16 if spec.type.dtype.name == "fp16" else np.float32)
        result = self.evaluate_arrays(arrays)
        for spec, surface in zip(self.outputs, outputs, strict=True):
            surface.write(result[spec.name])
        return None

    def evaluate_arrays(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._progress_label is None:
            result = self._exec()(dict(inputs))
        else:
            with progress(self._progress_label):
                result = self._exec()(dict(inputs))
        if self._zeros:
            return {name: np.zeros_like(value) for name, value in result.items()}
        return result

    def close(self) -> None:
        self._executor = None


def _crash() -> None:
    """Die of SIGSEGV now, as the real compiler does at the end of its budget (libane, §16.1); no core file."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.kill(os.getpid(), signal.SIGSEGV)


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
        cfg = config.get()
        if cfg.simulate_compile_latency_ms:
            time.sleep(cfg.simulate_compile_latency_ms / 1000.0)
        over = cfg.simulate_compile_limit is not None and _core.compile_count() >= cfg.simulate_compile_limit
        if over and cfg.simulate_compile_failure == "crash":
            _core._note_compile()
            _crash()
        if over and cfg.simulate_compile_failure == "raise":
            # The attempt reached the (simulated) framework, so it is counted before failing (§16.2).
            _core._note_compile()
            raise CompileError(
                f"simulated ANE compile failure: this process already spent {_core.compile_count() - 1} "
                f"compiles and the simulated limit is {cfg.simulate_compile_limit} (ANEKIT_SIMULATE_COMPILE_LIMIT)"
            )
        executable = ReferenceExecutable(program, function, silent_failure=over)
        # One compile spent, as the ANE backend counts its framework compiles: the budget logic sees both.
        _core._note_compile()
        return executable
