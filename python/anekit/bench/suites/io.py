"""io: host-side conversions and surface copies (``Surface.write`` / ``read`` against numpy and memcpy).

This is the measurement behind ``benchmarks/bench_io.py`` (which imports it from here). No kernel runs, so the
figures are the same on every backend: they are this host's CPU, and on a Mac they are the Mac's CPU.
"""

from __future__ import annotations

import numpy as np

from ... import _core
from ..context import BenchContext
from ..results import Row, SuiteResult

NAME = "io"
DESCRIPTION = "fp32 <-> fp16 surface writes and reads against numpy astype and a plain memcpy"

SHAPES = [(64, 32), (256, 256), (768, 256), (1024, 1024), (2048, 2048), (4096, 4096)]
QUICK_SHAPES = [(64, 32), (1024, 1024)]


def planned_compiles(ctx: BenchContext) -> int:
    return 0


def bench_shape(c: int, s: int, min_time: float) -> tuple[dict[str, float], bool]:
    """Time write / read / astype / memcpy of a ``[1, c, 1, s]`` tensor.

    Returns:
        The row (C, S, elements, MiB, seconds and Gelem/s per operation, ratios) and whether the surface holds
        exactly the fp16 rounding of what was written (a benchmark that never checks its result measures
        nothing).
    """
    from ..timing import time_call

    rng = np.random.default_rng(0)
    src = rng.standard_normal((1, c, 1, s)).astype(np.float32)
    surf = _core.Surface((1, c, 1, s))
    out = np.empty_like(src)
    half = src.astype(np.float16)
    half_dst = np.empty_like(half)
    n = src.size
    times = {
        "write": time_call(lambda: surf.write(src), min_time=min_time)["median_s"],
        "read": time_call(lambda: surf.read(out=out), min_time=min_time)["median_s"],
        "astype": time_call(lambda: src.astype(np.float16), min_time=min_time)["median_s"],
        "memcpy": time_call(lambda: np.copyto(half_dst, half), min_time=min_time)["median_s"],
    }
    correct = bool(np.array_equal(surf.read(), half.astype(np.float32)))
    row: dict[str, float] = {"C": c, "S": s, "elements": n, "fp32_mib": n * 4 / 2**20}
    for k, t in times.items():
        row[f"{k}_s"] = t
        row[f"{k}_gelem_s"] = n / t / 1e9
    row["write_vs_astype"] = times["astype"] / times["write"]
    row["write_vs_memcpy"] = times["memcpy"] / times["write"]
    row["read_vs_memcpy"] = times["memcpy"] / times["read"]
    return row, correct


def run(ctx: BenchContext) -> SuiteResult:
    shapes = QUICK_SHAPES if ctx.quick else SHAPES
    min_time = ctx.measurement.min_time_s
    result = SuiteResult(
        NAME,
        DESCRIPTION,
        {"min_repeats": 5, "warmup": 2, "min_time_s": min_time, "max_time_s": None, "clock": "time.perf_counter_ns"},
        columns={
            "fp32_mib": ("fp32 size", "MiB"),
            "write_gelem_s": ("write", "Gelem/s"),
            "read_gelem_s": ("read", "Gelem/s"),
            "astype_gelem_s": ("numpy astype", "Gelem/s"),
            "memcpy_gelem_s": ("fp16 memcpy", "Gelem/s"),
            "write_vs_astype": ("write/astype", "x"),
            "write_vs_memcpy": ("write/memcpy", "x"),
        },
    )
    for i, (c, s) in enumerate(shapes):
        ctx.say(f"io {i + 1}/{len(shapes)}: [1,{c},1,{s}]")
        figures, correct = bench_shape(c, s, min_time)
        metrics = {k: float(v) for k, v in figures.items() if k not in ("C", "S")}
        result.rows.append(Row(f"[1,{c},1,{s}]", {"C": c, "S": s}, metrics, verified=correct, max_abs_error=None))
    result.notes.append("host CPU figures (fp16 conversion path: " + _core.fp16_path() + "); the same on every backend")
    return result
