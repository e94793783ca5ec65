"""Synthetic benchmark results for the format, table and comparison tests (no kernels run)."""

from __future__ import annotations

from anekit.bench.machine import describe
from anekit.bench.results import BenchResults, Row, SuiteResult
from anekit.bench.timing import Measurement


def synthetic(tflops: tuple[float, float] = (1.0, 2.0), *, flag_second: bool = False) -> BenchResults:
    """Results with a peak suite of two rows (the second optionally flagged as wrong) and a dispatch suite."""
    peak = SuiteResult(
        "peak",
        "conv chains",
        Measurement().to_dict(),
        rows=[
            Row("8x conv 256ch sp64", {"C": 256, "S": 64, "depth": 8}, {"tflops": tflops[0], "ms": 1.0}, True, 0.0),
            Row(
                "16x conv 512ch sp64",
                {"C": 512, "S": 64, "depth": 16},
                {"tflops": tflops[1], "ms": 2.0},
                not flag_second,
                0.5 if flag_second else 0.0,
            ),
        ],
        columns={"tflops": ("throughput", "TFLOPS"), "ms": ("median", "ms")},
        summary={"best": "16x conv 512ch sp64"},
        seconds=1.5,
        compiles=2,
    )
    dispatch = SuiteResult(
        "dispatch",
        "latency",
        Measurement().to_dict(),
        rows=[Row("reference scale 64x32 standard", {"C": 64, "S": 32, "path": "standard"}, {"eval_us": 20.0})],
        columns={"eval_us": ("evaluate", "us")},
        summary={"evaluate ms by path": {"reference scale 64x32": {"standard": 0.02}}},
    )
    return BenchResults(
        backend="reference",
        ane_figures=False,
        quick=True,
        machine=describe(),
        budget={"limit": 119, "used_before": 0, "used_after": 2, "planned": 2, "recycled": False},
        suites={"peak": peak, "dispatch": dispatch},
        created="2026-12-04T00:00:00Z",
        anekit_version="0.0-test",
        total_seconds=2.0,
    )
