"""``anekit.bench.run``: choose the backend, budget the compiles, run the suites, collect the results."""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Callable, Iterable, Iterator

from .. import _core, budget
from .._info import ane_status
from ..errors import AneUnavailableError
from .context import ANE_MEASUREMENT, QUICK_MEASUREMENT, REFERENCE_MEASUREMENT, BenchContext, StderrProgress
from .machine import describe
from .results import BenchResults, SuiteResult
from .suites import SUITE_NAMES, suite_module
from .timing import Measurement

__all__ = ["plan", "run"]


def _suites(suites: Iterable[str] | str | None) -> list[str]:
    if suites is None:
        return list(SUITE_NAMES)
    if isinstance(suites, str):
        suites = [suites]
    chosen = list(suites)
    if not chosen:
        raise ValueError(f"no benchmark suite given; expected some of {', '.join(SUITE_NAMES)}")
    for name in chosen:
        if not isinstance(name, str):
            raise TypeError(f"suite names must be strings, got {name!r}")
        suite_module(name)  # raises ValueError naming the known suites
    # Run order is the canonical one, each suite once.
    return [n for n in SUITE_NAMES if n in chosen]


def _backend(backend: str | None) -> str:
    if backend is None:
        return "ane" if ane_status()[0] else "reference"
    if backend not in ("ane", "reference"):
        raise ValueError(f"backend must be 'ane' or 'reference', got {backend!r}")
    if backend == "ane":
        usable, why = ane_status()
        if not usable:
            raise AneUnavailableError(f"the ANE backend is not usable here: {why}; use backend='reference'")
    return backend


def _opset(chip: str) -> str:
    # ios18 programs (dialect A) work on M3/M4/M5 but only partially on M1/M2 (the ane-dialect-chip rule).
    return "ios16" if any(f"M{n}" in chip.split() for n in (1, 2)) else "ios18"


def plan(
    suites: Iterable[str] | str | None = None, *, backend: str = "reference", quick: bool = False, fake: bool = False
) -> dict[str, int]:
    """Compiles each suite would spend in this process on this machine (what a run is budgeted with; an upper
    bound, since identical programs are served from the content cache)."""
    from ..doctor.report import machine_key

    ctx = BenchContext(backend=backend, quick=quick, measurement=QUICK_MEASUREMENT, fake=fake)
    ctx.opset = _opset(machine_key(False)["chip"])
    return {name: int(suite_module(name).planned_compiles(ctx)) for name in _suites(suites)}


@contextlib.contextmanager
def _budget_mode(recycle: bool) -> Iterator[None]:
    if recycle:
        with budget.policy("recycle"):
            yield
    else:
        yield


def run(
    suites: Iterable[str] | str | None = None,
    *,
    backend: str | None = None,
    quick: bool = False,
    progress: bool | Callable[[str], None] = False,
    fake: bool | None = None,
    measurement: Measurement | None = None,
) -> BenchResults:
    """Run benchmark suites and return their results.

    Args:
        suites: suite names (``"io"``, ``"dispatch"``, ``"peak"``, ``"sram"``, ``"bandwidth"``, ``"quant"``,
            ``"llm"``, ``"compile"``); None for all.
        backend: ``"ane"`` (a Mac), ``"reference"`` (the CPU reference executor: not ANE figures), or None for
            the ANE when usable, else the reference executor.
        quick: fewer sizes and shorter timing; stays within one process's compile budget.
        progress: print a line per step on stderr (True), or call this function with each line.
        fake: also run the dispatch suite through the bundled fake framework (default: on the reference backend
            when the fake is part of this build). It loads the fake into this process for good (a process loads
            one framework, docs/internals/ane-private-api.md §3.1), so the real ANE backend is unusable afterwards.
        measurement: timing settings for every figure (default: per backend, shorter with ``quick``).

    Returns:
        :class:`~anekit.bench.results.BenchResults`; rows whose outputs did not match the reference executor
        are flagged in it.

    Raises:
        ValueError / TypeError: unknown suite, bad backend name, bad argument types.
        AneUnavailableError: ``backend="ane"`` where the ANE cannot be used (the message says why).
    """
    names = _suites(suites)
    chosen = _backend(backend)
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be a bool, got {quick!r}")
    if measurement is not None and not isinstance(measurement, Measurement):
        raise TypeError(f"measurement must be an anekit.bench.timing.Measurement, got {type(measurement).__name__}")
    if progress is True:
        say: Callable[[str], None] | None = StderrProgress()
    elif progress is False or progress is None:
        say = None
    elif callable(progress):
        say = progress
    else:
        raise TypeError(f"progress must be a bool or a callable, got {progress!r}")
    if fake is None:
        fake = chosen == "reference" and bool(_core.ane.built())
    if measurement is None:
        measurement = QUICK_MEASUREMENT if quick else (ANE_MEASUREMENT if chosen == "ane" else REFERENCE_MEASUREMENT)

    machine = describe(fake=False)
    ctx = BenchContext(
        backend=chosen, quick=quick, measurement=measurement, fake=bool(fake), progress=say, chip=machine["chip"]
    )
    ctx.opset = _opset(machine["chip"])
    planned = {name: int(suite_module(name).planned_compiles(ctx)) for name in names}
    total_planned = sum(planned.values())
    # The recycling pool is needed only when this process's budget cannot hold the run
    # (docs/internals/ane-private-api.md §16).
    recycle = budget.backend_has_budget(chosen) and total_planned > budget.remaining()
    if recycle:
        ctx.recycled = True
        planned = {name: int(suite_module(name).planned_compiles(ctx)) for name in names}
        total_planned = sum(planned.values())
        ctx.say(
            f"this run plans {total_planned} compiles but the process has {budget.remaining()} left: "
            "compiling in the recycling worker pool (timings then include the pool's IPC)"
        )
    used_before = budget.used()
    results: dict[str, SuiteResult] = {}
    t_start = time.perf_counter()
    with _budget_mode(recycle):
        for name in names:
            ctx.say(f"suite {name}: {planned[name]} compile(s) planned")
            module = suite_module(name)
            t0 = time.perf_counter()
            with ctx.counting() as spent:
                suite = module.run(ctx)
            suite.seconds = time.perf_counter() - t0
            suite.compiles = spent()
            if recycle:
                suite.notes.append("compiled in recycling-pool workers: timings include the pool's IPC")
            results[name] = suite
    return BenchResults(
        backend=chosen,
        ane_figures=chosen == "ane",
        quick=quick,
        machine=machine,
        budget={
            "limit": budget.limit(),
            "used_before": used_before,
            "used_after": budget.used(),
            "planned": total_planned,
            "planned_by_suite": planned,
            "recycled": recycle,
        },
        suites=results,
        created=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        anekit_version=machine["anekit"],
        total_seconds=time.perf_counter() - t_start,
    )
