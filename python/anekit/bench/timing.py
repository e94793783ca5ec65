"""Timing helpers shared by ``anekit bench`` and the development scripts in ``benchmarks/``.

One clock (``time.perf_counter_ns``, monotonic, nanosecond resolution), warm-up calls before any sample, and
robust statistics (median and percentiles, never the minimum alone) so one preemption on a shared machine does
not move a figure.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CLOCK", "Measurement", "paired_median", "summarize", "time_call", "time_interleaved", "time_measured"]

#: The clock every figure is taken with (recorded in each result file).
CLOCK = "time.perf_counter_ns"


@dataclass(frozen=True)
class Measurement:
    """How a figure is measured: ``warmup`` calls, then at least ``min_repeats`` timed calls and at least
    ``min_time_s`` seconds of them, stopping at ``max_time_s`` (after ``min_repeats``) or ``max_repeats``.
    """

    warmup: int = 10
    min_repeats: int = 200
    min_time_s: float = 0.2
    max_time_s: float = 5.0
    max_repeats: int = 10_000

    def __post_init__(self) -> None:
        for name in ("warmup", "min_repeats", "max_repeats"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "warmup" else 1):
                raise ValueError(f"Measurement.{name} must be a {'non-negative' if name == 'warmup' else 'positive'} "
                                 f"int, got {value!r}")
        for name in ("min_time_s", "max_time_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"Measurement.{name} must be a non-negative number of seconds, got {value!r}")
        if self.max_repeats < self.min_repeats:
            raise ValueError(f"Measurement: max_repeats {self.max_repeats} < min_repeats {self.min_repeats}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clock": CLOCK}


def summarize(samples: list[float]) -> dict[str, float]:
    """Median / p10 / p90 / p99 / mean seconds and the sample count of ``samples`` (seconds, non-empty)."""
    if not samples:
        raise ValueError("summarize: no samples")
    got = sorted(samples)
    n = len(got)
    return {
        "median_s": statistics.median(got),
        "p10_s": got[max(0, n // 10)],
        "p90_s": got[min(n - 1, (9 * n) // 10)],
        "p99_s": got[min(n - 1, (99 * n) // 100)],
        "mean_s": statistics.fmean(got),
        "repeats": float(n),
    }


def time_call(
    fn: Callable[[], object],
    *,
    min_time: float = 0.2,
    min_repeats: int = 5,
    warmup: int = 2,
    max_time: float | None = None,
    max_repeats: int = 10_000,
) -> dict[str, float]:
    """Time ``fn`` repeatedly; returns median / p10 / p90 / p99 / mean seconds per call and the repeat count.

    Args:
        fn: the call to time.
        min_time: keep timing for at least this many seconds.
        min_repeats: and for at least this many calls.
        warmup: untimed calls first (first calls pay one-time costs: page faults, lazy set-up).
        max_time: stop after this many seconds once ``min_repeats`` calls are timed (None: no limit).
        max_repeats: never more calls than this.
    """
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < min_repeats or time.perf_counter() - start < min_time:
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) * 1e-9)
        if len(samples) >= max_repeats:
            break
        if max_time is not None and len(samples) >= min_repeats and time.perf_counter() - start >= max_time:
            break
    return summarize(samples)


def time_measured(fn: Callable[[], object], m: Measurement) -> dict[str, float]:
    """:func:`time_call` with the settings of ``m``."""
    return time_call(
        fn,
        min_time=m.min_time_s,
        min_repeats=m.min_repeats,
        warmup=m.warmup,
        max_time=m.max_time_s,
        max_repeats=m.max_repeats,
    )


def time_interleaved(
    fns: dict[str, Callable[[], object]], *, rounds: int = 40, span: float = 0.025, warmup: int = 2
) -> dict[str, dict[str, Any]]:
    """Time several calls in alternation: ``rounds`` rounds, each running every function for about ``span`` s.

    On a shared machine the speed changes in phases of seconds; timing one function after the other would
    put them in different phases, so a difference of two medians (a cost minus its baseline) would measure the
    phases. Here every round times all functions within a few tens of milliseconds, and the per-round medians
    (``round_median_s``, in round order) can be compared round by round.

    Returns:
        Per function: median / p10 / p90 seconds per call over all calls, and the per-round medians.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    per_round: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            got: list[float] = []
            end = time.perf_counter() + span
            while len(got) < 3 or time.perf_counter() < end:
                t0 = time.perf_counter_ns()
                fn()
                got.append((time.perf_counter_ns() - t0) * 1e-9)
            samples[name].extend(got)
            per_round[name].append(statistics.median(got))
    out: dict[str, dict[str, Any]] = {}
    for name, got in samples.items():
        stats: dict[str, Any] = summarize(got)
        stats["round_median_s"] = per_round[name]
        out[name] = stats
    return out


def paired_median(a: list[float], b: list[float]) -> float:
    """Median over rounds of ``a[i] - b[i]`` (per-round medians from :func:`time_interleaved`)."""
    return statistics.median(x - y for x, y in zip(a, b, strict=True))
