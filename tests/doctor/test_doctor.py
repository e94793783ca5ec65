"""anekit.doctor: the probes against the fake framework, and the report the runtime consults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anekit import config, testing
from anekit.doctor import doctor, load_report, machine_key
from anekit.doctor.probes import probe_compile_budget, probe_execution_paths, probe_perf_stats
from anekit.mil.types import tensor
from anekit.runtime.ane import input_order
from anekit.runtime.backend import IOSpec


def test_input_order_rules() -> None:
    specs = [IOSpec("z", tensor((1, 2, 1, 8))), IOSpec("a", tensor((1, 8, 1, 8))), IOSpec("m", tensor((1, 1, 1, 8)))]
    assert input_order(specs, "declaration") is None
    assert input_order(specs, "name") == [1, 2, 0]
    assert input_order(specs, "size") == [2, 0, 1]


@pytest.mark.objc
def test_doctor_settles_facts_on_the_fake_and_saves_a_report(tmp_path: Path) -> None:
    try:
        testing.fake_framework_path()
    except Exception as exc:
        pytest.skip(str(exc))
    with config.override(cache_dir=str(tmp_path)):
        report = doctor(use_fake=True)
        assert report.healthy, report.format()
        findings = report.findings
        assert findings["input_order"] == "declaration"
        assert findings["spatial_sizes"]["min_spatial"] == 1
        assert findings["multi_input"]["max_inputs_tested_ok"] == 4
        assert findings["fp32_io"] is True
        assert "standard" in findings["execution_paths"]
        saved = load_report(machine_key(True))
        assert saved == json.loads(json.dumps(findings))
        assert report.key["framework"] == "fake"


@pytest.mark.objc
def test_probes_see_injected_behaviour(fake_ane_ref: testing.FakeAne) -> None:
    fake_ane_ref.configure(mode="reference", perf_stats_ns=12_345)
    perf = probe_perf_stats()
    assert perf.finding is True and perf.evidence["hw_time_s"] == pytest.approx(12_345e-9)
    fake_ane_ref.configure(mode="reference", faults={"evaluate"})
    paths = probe_execution_paths()
    assert paths.status == "failed" and paths.finding == []


@pytest.mark.objc
@pytest.mark.parametrize(("failure", "outcome"), [("loud", "error"), ("silent", "zeros")])
def test_budget_probe_counts_compiles(fake_ane_ref: testing.FakeAne, failure: str, outcome: str) -> None:
    fake_ane_ref.configure(mode="reference", compile_budget=7, budget_end=failure)
    result = probe_compile_budget(limit=50)
    assert result.finding["limit_reached"] is True
    assert result.finding["compiles_ok"] == 7
    assert result.finding["failure"].startswith(outcome)
