"""--compare arithmetic: per-row ratios, the direction that is better, unmatched and flagged rows."""

from __future__ import annotations

import pytest
from _bench_fixtures import synthetic

from anekit.bench import compare


def test_ratios_and_speedups() -> None:
    this, saved = synthetic(tflops=(2.0, 3.0)), synthetic(tflops=(1.0, 4.0))
    saved.suites["dispatch"].rows[0].metrics["eval_us"] = 40.0
    c = compare(this, saved)
    by = {(r.suite, r.row, r.metric): r for r in c.ratios}
    r = by[("peak", "8x conv 256ch sp64", "tflops")]
    assert (r.this, r.other, r.ratio, r.speedup) == (2.0, 1.0, 2.0, 2.0)
    r = by[("peak", "16x conv 512ch sp64", "tflops")]
    assert r.ratio == pytest.approx(0.75) and r.speedup == pytest.approx(0.75)
    # Latency: lower is better, so half the time is a speedup of 2.
    r = by[("dispatch", "reference scale 64x32 standard", "eval_us")]
    assert r.ratio == pytest.approx(0.5) and r.speedup == pytest.approx(2.0)
    text = str(c)
    assert "peak / 8x conv 256ch sp64" in text and "tflops" in text
    assert c.to_dict()["ratios"][0]["ratio"] is not None


def test_flagged_rows_get_no_ratio() -> None:
    c = compare(synthetic(flag_second=True), synthetic())
    r = next(r for r in c.ratios if r.row == "16x conv 512ch sp64")
    assert r.this is None and r.ratio is None and r.speedup is None


def test_rows_and_suites_in_one_run_only_are_listed() -> None:
    this, saved = synthetic(), synthetic()
    saved.suites["peak"].rows.pop()
    del saved.suites["dispatch"]
    this.suites["peak"].rows[0].name = "renamed"
    c = compare(this, saved)
    assert "peak / renamed" in c.only_this and "peak / 16x conv 512ch sp64" in c.only_this
    assert "suite dispatch" in c.only_this
    assert c.only_other == ["peak / 8x conv 256ch sp64"]
    assert "only in the saved run: peak / 8x conv 256ch sp64" in str(c)


def test_zero_baseline_has_no_ratio() -> None:
    c = compare(synthetic(tflops=(1.0, 1.0)), synthetic(tflops=(0.0, 1.0)))
    assert next(r for r in c.ratios if r.row == "8x conv 256ch sp64").ratio is None
