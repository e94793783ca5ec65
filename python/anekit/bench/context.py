"""What every suite shares: the backend, the timing settings, compiling, verifying, progress.

A figure is only as good as the outputs behind it: :meth:`BenchContext.check` compares a kernel's outputs, as
left by the timed runs, with the reference executor (``precision="ane"``) on the same inputs, with the
tolerances of :func:`anekit.verify`. A row whose outputs differ is kept and flagged, never dropped or reported
as a plain figure.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from ..errors import AnekitError
from ..mil.ir import Program
from ..reference.executor import Executor
from ..runtime.compile import compile as compile_program
from ..runtime.kernel import Kernel
from ..runtime.verify import _compare
from .results import Row
from .timing import Measurement, time_measured

__all__ = ["BenchContext", "StderrProgress", "kernel_feeds", "random_feeds"]

#: Timing on the ANE: the recommended methodology (reference-numbers.md §2.3: >= 10 warm-up, >= 200 timed).
ANE_MEASUREMENT = Measurement(warmup=10, min_repeats=200, min_time_s=0.2, max_time_s=5.0)
#: On the reference executor a kernel takes milliseconds, not microseconds: fewer repeats say as much.
REFERENCE_MEASUREMENT = Measurement(warmup=2, min_repeats=10, min_time_s=0.2, max_time_s=2.0)
#: --quick: enough repeats for a median, no more.
QUICK_MEASUREMENT = Measurement(warmup=1, min_repeats=3, min_time_s=0.02, max_time_s=0.3)


def random_feeds(program: Program, seed: int = 0) -> dict[str, np.ndarray]:
    """Standard-normal fp32 inputs for every input of ``program``'s main function (fp16-representable)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, var in program.main.inputs.items():
        shape = tuple(int(d) for d in var.type.shape)
        out[name] = rng.standard_normal(shape).astype(np.float16).astype(np.float32)
    return out


@dataclass
class BenchContext:
    """The state of one benchmark run, handed to every suite.

    Attributes:
        backend: ``"ane"`` or ``"reference"``: where kernels run.
        quick: a ``--quick`` run (fewer sizes, shorter timing).
        measurement: timing settings for every figure.
        fake: the bundled fake framework is available for the dispatch suite's path comparison (Linux).
        recycled: compiles go through the recycling pool (a full run needing more than one process's budget).
        progress: called with one line per step (None: silent).
        chip: the chip's brand string (``"Apple M4 Max"``).
        opset: the MIL opset the suites' programs are written in (ios16 on M1/M2, else ios18).
    """

    backend: str
    quick: bool
    measurement: Measurement
    fake: bool = False
    recycled: bool = False
    progress: Callable[[str], None] | None = None
    chip: str = ""
    opset: str = "ios18"

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    @property
    def ane_figures(self) -> bool:
        return self.backend == "ane"

    @contextmanager
    def counting(self) -> Iterator[Callable[[], int]]:
        """Counts the compiles spent in this process inside the block (the native counter, budget.used())."""
        start = _core.compile_count()
        yield lambda: int(_core.compile_count() - start)

    def compile(self, program: Program, *, backend: str | None = None, cache: bool = True) -> Kernel:
        """Compile ``program`` on this run's backend (or ``backend``)."""
        return compile_program(program, backend=backend or self.backend, cache=cache)

    def time(self, fn: Callable[[], object]) -> dict[str, float]:
        """Time ``fn`` with this run's :attr:`measurement`."""
        return time_measured(fn, self.measurement)

    def check(self, kernel: Kernel, program: Program, feeds: Mapping[str, np.ndarray], row: Row) -> None:
        """Record in ``row`` whether ``kernel``'s current outputs (those of its last run on ``feeds``) match the
        reference executor's (see :meth:`check_outputs`)."""
        self.check_outputs({name: s.read() for name, s in kernel.outputs.items()}, program, feeds, row)

    def check_outputs(
        self, got: Mapping[str, np.ndarray], program: Program, feeds: Mapping[str, np.ndarray], row: Row
    ) -> None:
        """Record in ``row`` whether the outputs ``got`` of ``program`` on ``feeds`` match the reference
        executor's (``verified`` and ``max_abs_error``); a mismatch also sets ``row.note``.
        """
        ref = Executor(program, precision="ane")(dict(feeds))
        worst = 0.0
        ok = True
        for name, want in ref.items():
            cmp = _compare(name, got[name], want, 2**-7, 2**-9, 0.999)
            worst = max(worst, cmp.max_abs_error)
            ok = ok and cmp.passed
            if not cmp.passed:
                row.note = (
                    f"output {name!r}: {cmp.mismatched} element(s) outside tolerance, cosine {cmp.cosine:.5f}"
                    + (", non-finite values differ" if cmp.nonfinite_mismatch else "")
                )
        row.verified = ok
        row.max_abs_error = worst

    def measure(
        self, program: Program, row: Row, *, backend: str | None = None, seed: int = 0
    ) -> dict[str, float] | None:
        """Compile ``program``, time ``Kernel.run()`` on random inputs, check the outputs into ``row``.

        Returns:
            The timing (seconds, :func:`~anekit.bench.timing.summarize` keys), or None when the row could not be
            measured (``row.error`` says why).
        """
        timing: dict[str, float] = {}

        def body() -> None:
            feeds = random_feeds(program, seed)
            with self.compile(program, backend=backend) as kernel:
                kernel_feeds(kernel, feeds)
                timing.update(self.time(kernel.run))
                self.check(kernel, program, feeds, row)

        self.guarded(row, body)
        return timing or None

    def guarded(self, row: Row, fn: Callable[[], None]) -> Row:
        """Run one row's measurement; an anekit error (compile rejected, evaluate failed) is recorded in the row
        instead of ending the run, so the other rows are still measured and the failure is reported."""
        try:
            fn()
        except AnekitError as exc:
            row.error = f"{type(exc).__name__}: {exc}"
            row.verified = None
            self.say(f"    {row.name}: {row.error}")
        return row


class StderrProgress:
    """The CLI's progress printer: one line per step on stderr, with the seconds since the run started."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self._t0:6.1f} s] {message}", file=sys.stderr, flush=True)


def kernel_feeds(kernel: Kernel, feeds: Mapping[str, Any]) -> None:
    """Write ``feeds`` into ``kernel``'s input surfaces (what the timed ``run()`` calls then evaluate)."""
    for name, surface in kernel.inputs.items():
        surface.write(feeds[name])
