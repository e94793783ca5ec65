"""Timing settings and statistics; the machine description and nominal peaks."""

from __future__ import annotations

import pytest

from anekit.bench.machine import describe, nominal_fp16_tflops
from anekit.bench.timing import Measurement, summarize, time_measured


def test_summarize() -> None:
    s = summarize([3.0, 1.0, 2.0, 4.0, 100.0])
    assert s["median_s"] == 3.0 and s["repeats"] == 5.0
    assert s["p10_s"] == 1.0 and s["p99_s"] == 100.0
    with pytest.raises(ValueError, match="no samples"):
        summarize([])


def test_time_measured_honours_repeats_and_warmup() -> None:
    calls = []
    t = time_measured(lambda: calls.append(1), Measurement(warmup=3, min_repeats=7, min_time_s=0, max_time_s=0))
    assert t["repeats"] == 7 and len(calls) == 10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"warmup": -1}, "warmup must be a non-negative int"),
        ({"min_repeats": 0}, "min_repeats must be a positive int"),
        ({"min_time_s": "1"}, "min_time_s must be a non-negative number"),
        ({"min_repeats": 10, "max_repeats": 5}, "max_repeats 5 < min_repeats 10"),
    ],
)
def test_bad_measurement(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Measurement(**kwargs)


@pytest.mark.parametrize(
    ("chip", "tflops"),
    [
        ("Apple M1", 11.0),
        ("Apple M2 Pro", 15.8),
        ("Apple M3 Max", 18.0),
        ("Apple M4 Max", 19.0),
        ("Apple M2 Ultra", 31.6),
        ("Apple M5", None),
        ("x86_64", None),
    ],
)
def test_nominal_peak(chip: str, tflops: float | None) -> None:
    assert nominal_fp16_tflops(chip) == (pytest.approx(tflops) if tflops else None)


def test_describe_off_a_mac() -> None:
    m = describe()
    assert {"system", "chip", "os_build", "ane_subtype", "anekit", "doctor", "settings"} <= set(m)
    if m["system"] != "Darwin":
        assert m["ane_subtype"] is None and m["nominal_fp16_tflops"] is None
