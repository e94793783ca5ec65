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
