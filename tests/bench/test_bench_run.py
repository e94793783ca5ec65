"""anekit.bench.run: verified figures, flagged wrong outputs, the compile budget, argument checks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import anekit
from anekit import _core, budget, config
from anekit.bench import SUITE_NAMES, plan, run
from anekit.bench.schema import check_document


@pytest.mark.usefixtures("no_cached_kernels")
def test_quick_peak_run_is_verified_and_budgeted() -> None:
    seen: list[str] = []
    results = run("peak", quick=True, fake=False, progress=seen.append)
    suite = results.suites["peak"]
    assert results.backend == "reference" and not results.ane_figures
    assert len(suite.rows) == 2 and all(r.verified is True and not r.flagged for r in suite.rows)
    assert all((r.metrics["tflops"] or 0) > 0 and (r.metrics["gflop"] or 0) > 0 for r in suite.rows)
    assert suite.compiles == results.budget["planned"] == 2
    assert suite.rows[0].metrics["gflop"] == pytest.approx(2 * 256 * 256 * 64 * 8 / 1e9)
    assert any("peak 1/2" in line for line in seen)
    check_document(json.loads(results.to_json()))


@pytest.mark.usefixtures("no_cached_kernels")
def test_wrong_outputs_are_flagged_not_reported() -> None:
    # Every compile from here on "succeeds" but its kernel writes zeros: the failure mode reported upstream
    # past the compile budget (ane-private-api.md §16.1), simulated by the reference backend.
    with budget.simulate(limit=budget.used(), failure="silent"):
        results = run("peak", quick=True, fake=False)
    rows = results.suites["peak"].rows
    assert rows and all(r.verified is False and r.flagged for r in rows)
    assert all("outside tolerance" in r.note for r in rows)
    text = results.table()
    assert text.count("WRONG") == len(rows)
    assert f"FLAGGED: {len(rows)} row(s)" in text
    assert "best" not in results.suites["peak"].summary  # no headline figure from wrong outputs


@pytest.mark.usefixtures("no_cached_kernels")
def test_a_row_that_cannot_compile_is_recorded_and_the_run_goes_on() -> None:
    with budget.simulate(limit=budget.used() + 1, failure="raise"):
        results = run("peak", quick=True, fake=False)
    first, second = results.suites["peak"].rows
    assert first.verified is True and not first.error
    assert second.flagged and "CompileError" in second.error and second.verified is None


@pytest.mark.slow
@pytest.mark.usefixtures("no_cached_kernels")
def test_a_run_needing_more_than_the_budget_uses_the_recycling_pool() -> None:
    used = budget.used()
    with budget.simulate(limit=used + 1000), config.override(compile_limit=used + 1):
        seen: list[str] = []
        results = run("bandwidth", quick=True, fake=False, progress=seen.append)
    assert results.budget["recycled"] is True and results.budget["planned"] == 2
    assert any("recycling worker pool" in line for line in seen)
    suite = results.suites["bandwidth"]
    assert suite.compiles == 0  # compiled in the workers, not in this process
    assert all(r.verified is True for r in suite.rows)
    assert any("recycling-pool workers" in n for n in suite.notes)
    assert "the recycling pool compiled in worker processes" in results.table()


def test_quick_run_stays_within_one_process_budget() -> None:
    planned = plan(quick=True, fake=True)
    assert set(planned) == set(SUITE_NAMES)
    assert sum(planned.values()) <= config.DEFAULT_COMPILE_LIMIT // 2  # with room to spare
    assert sum(plan(quick=False, fake=True).values()) > sum(planned.values())


@pytest.mark.objc
def test_dispatch_runs_every_path_through_the_fake() -> None:
    if not _core.ane.built():
        pytest.skip("this build has no Objective-C++ backend (no fake framework)")
    results = run("dispatch", quick=True, fake=True)
    rows = results.suites["dispatch"].rows
    fake_paths = {r.params["path"] for r in rows if r.params["via"] == "fake"}
    assert fake_paths == {"standard", "realtime", "process_request", "direct"}
    assert all(r.verified is True for r in rows)
    ref_paths = {r.params["path"] for r in rows if r.params["via"] == "reference"}
    assert ref_paths == {"standard"}
    assert any("paths not offered here" in n for n in results.suites["dispatch"].notes)
    table = results.suites["dispatch"].summary["evaluate ms by path (cf. ane-private-api.md §17.4)"]
    assert set(table["fake conv 64x32"]) == fake_paths


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"suites": "nope"}, ValueError, "unknown benchmark suite 'nope'"),
        ({"suites": []}, ValueError, "no benchmark suite given"),
        ({"suites": [3]}, TypeError, "suite names must be strings"),
        ({"backend": "gpu"}, ValueError, "backend must be 'ane' or 'reference'"),
        ({"quick": "yes"}, TypeError, "quick must be a bool"),
        ({"progress": 3}, TypeError, "progress must be a bool or a callable"),
        ({"measurement": {"warmup": 1}}, TypeError, "measurement must be"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    kwargs = {"suites": "io", **kwargs}
    with pytest.raises(error, match=match):
        run(**kwargs)


def test_ane_backend_where_unusable_says_why() -> None:
    if anekit.info()["ane_usable"]:
        pytest.skip("an ANE framework is usable in this process")
    with pytest.raises(anekit.AneUnavailableError, match="not usable here"):
        run("io", backend="ane")


def test_import_anekit_stays_numpy_only() -> None:
    code = "import sys, anekit, anekit.bench; print([m for m in ('matplotlib', 'jsonschema') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.objc
@pytest.mark.usefixtures("no_cached_kernels")
def test_compile_suite_rows_are_measured_and_checked() -> None:
    if not _core.ane.built():
        pytest.skip("this build has no Objective-C++ backend (no fake framework)")
    results = run("compile", quick=True, fake=True)
    rows = {r.params["part"]: r for r in results.suites["compile"].rows}
    assert set(rows) == {"compile", "cache", "reload", "pool"}
    assert all(r.verified is True for r in results.suites["compile"].rows)
    reload = rows["reload"]
    assert reload.params["via"] == "fake" and (reload.metrics["load_ms"] or 0) > 0
    assert (rows["cache"].metrics["hit_us"] or 0) > 0
    pool = rows["pool"]
    assert (pool.metrics["recycles"] or 0) >= 1 and pool.metrics["stall_ms"] is not None
    # Every compile in this process was planned: 3 sizes, the cache program, the reload row.
    assert results.suites["compile"].compiles == results.budget["planned"] == 5


@pytest.mark.parametrize(
    ("chip", "opset"),
    [
        ("Apple M1", "ios16"),
        ("Apple M2 Max", "ios16"),
        ("Apple M3 Pro", "ios18"),
        ("Apple M4", "ios18"),
        ("x86_64", "ios18"),
    ],
)
def test_programs_follow_the_chips_dialect(chip: str, opset: str) -> None:
    from anekit.bench.runner import _opset

    assert _opset(chip) == opset
