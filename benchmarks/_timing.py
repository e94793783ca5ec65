"""Shared timing helpers for the benchmark scripts: warm-up, repeated timing, machine description, JSON."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

# The timing code lives in the package, where `anekit bench` uses it too; re-exported for the scripts here.
from anekit.bench.timing import paired_median, time_call, time_interleaved

__all__ = ["machine", "paired_median", "time_call", "time_interleaved", "write_json"]


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
