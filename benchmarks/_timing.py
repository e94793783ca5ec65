"""Shared timing helpers for the benchmark scripts: warm-up, repeated timing, machine description, JSON."""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def time_call(
    fn: Callable[[], object], *, min_time: float = 0.2, min_repeats: int = 5, warmup: int = 2
) -> dict[str, float]:
    """Time ``fn`` repeatedly; returns median / p10 / p90 / mean seconds per call and the repeat count."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < min_repeats or time.perf_counter() - start < min_time:
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) * 1e-9)
        if len(samples) >= 10_000:
            break
    samples.sort()
    n = len(samples)
    return {
        "median_s": statistics.median(samples),
        "p10_s": samples[max(0, n // 10)],
        "p90_s": samples[min(n - 1, (9 * n) // 10)],
        "mean_s": statistics.fmean(samples),
        "repeats": float(n),
    }


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
        got.sort()
        n = len(got)
        out[name] = {
            "median_s": statistics.median(got),
            "p10_s": got[max(0, n // 10)],
            "p90_s": got[min(n - 1, (9 * n) // 10)],
            "repeats": float(n),
            "round_median_s": per_round[name],
        }
    return out


def paired_median(a: list[float], b: list[float]) -> float:
    """Median over rounds of ``a[i] - b[i]`` (per-round medians from :func:`time_interleaved`)."""
    return statistics.median(x - y for x, y in zip(a, b, strict=True))


def machine() -> dict[str, Any]:
    """Describe the machine the numbers were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import os

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    try:
        import anekit

        info["anekit"] = anekit.__version__
        info["fp16_simd"] = anekit.fp16.simd_path()
    except ImportError:
        pass
    return info


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")
