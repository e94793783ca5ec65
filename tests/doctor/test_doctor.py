"""anekit.doctor(): the whole run against the fake, its saved report, the bug-report file and the CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import anekit
from anekit import testing
from anekit.doctor import load_report, machine_key
from anekit.doctor import machine as machine_module
from anekit.doctor.compile_limit import classify, probe_compile_limit
from anekit.doctor.probes import ProbeResult
from anekit.doctor.report import DoctorReport, consequences

pytestmark = pytest.mark.objc


@pytest.fixture(autouse=True)
def _needs_fake() -> None:
    try:
        testing.fake_framework_path()
    except anekit.AneUnavailableError as exc:
        pytest.skip(str(exc))


def test_doctor_is_callable_and_still_a_module() -> None:
    import anekit.doctor as module

    assert module is anekit.doctor and callable(anekit.doctor)
    assert anekit.doctor.run.__name__ == "run"


def test_doctor_settles_facts_on_the_fake_and_saves_a_report(cache_dir: Path) -> None:
    report = anekit.doctor(ops=False, use_fake=True, progress=False)
    assert report.healthy, report.format()
    findings = report.findings
    assert findings["allocation"] == "any"
    assert findings["input_order"] == findings["output_order"] == "declaration"
    assert findings["spatial_sizes"]["min_spatial"] == 1
    assert findings["multi_input"]["max_inputs_tested_ok"] == 4
    assert findings["fp32_io"] is True
    assert findings["dialect"] == ["ios18", "ios16"]
    assert "standard" in findings["execution_paths"]
    assert load_report(machine_key(True)) == json.loads(json.dumps(findings))
    assert report.key["framework"] == "fake" and report.previous is None


FAKE_MODES = [
    {"binding": "declaration", "surfaces": "exact", "min_surface_bytes": 0},
    {"binding": "alphabetical", "surfaces": "uniform", "min_surface_bytes": 49152},
    {"binding": "alphabetical", "surfaces": "exact", "min_surface_bytes": 1000, "model_attributes": False},
]


@pytest.mark.parametrize("modes", FAKE_MODES, ids=lambda m: "-".join(str(v) for v in m.values()))
def test_doctor_reports_the_rules_the_fake_follows(cache_dir: Path, modes: dict[str, object]) -> None:
    report = anekit.doctor(ops=False, use_fake=True, fake=modes, save=False, progress=False)
    assert report.healthy, report.format()
    found = report.findings
    assert found["input_order"] == found["output_order"] == modes["binding"]
    assert found["allocation"] == ("uniform" if modes["surfaces"] == "uniform" else "any")
    assert found["min_surface"]["min_surface_bytes"] == {0: None, 1000: 1024, 49152: 49152}[modes["min_surface_bytes"]]
    # Later probes lay out surfaces as settled, so they work whatever the minimum.
    assert found["multi_input"]["max_inputs_tested_ok"] == 4 and found["fp32_io"] is True
    assert 1 in found["spatial_sizes"]["working"]
    with_attributes = modes.get("model_attributes", True)
    assert report.model_attributes["binding"]["source"] == ("modelAttributes" if with_attributes else "declaration")
    assert (report.model_attributes["model_attributes"] is None) is not with_attributes


def test_doctor_gives_the_same_answer_every_run(cache_dir: Path) -> None:
    # The fake binds alphabetically; a probe that applied the saved order would flip its answer on run 2.
    first = anekit.doctor(ops=False, use_fake=True, fake={"binding": "alphabetical"}, progress=False)
    second = anekit.doctor(ops=False, use_fake=True, fake={"binding": "alphabetical"}, progress=False)
    assert first.findings["input_order"] == second.findings["input_order"] == "alphabetical"
    assert first.findings["output_order"] == second.findings["output_order"] == "alphabetical"
    assert second.previous == json.loads(json.dumps(first.findings))
    assert second.changes() == {}
    assert "replaces the saved report" in second.summary()


def test_report_file_for_bug_reports(cache_dir: Path, tmp_path: Path) -> None:
    report = anekit.doctor(ops=["add"], use_fake=True, save=False, progress=False)
    path = report.save(tmp_path / "bug.json")
    data = json.loads(path.read_text())
    assert data["device"]["chip"] == report.key["chip"] and data["device"]["os_build"] == report.key["os_build"]
    assert "error" in data["device"]  # _ANEDeviceInfo (aneSubType, ...) is read on macOS only
    recorded = data["model_attributes"]
    assert recorded["probe"] == "input_order"
    assert recorded["binding"] == {"source": "modelAttributes", "inputs": {"b": 0, "C": 1, "a": 2}, "outputs": {"y": 0}}
    description = recorded["model_attributes"]["kANEFModelDescriptionKey"]
    assert description["kANEFModelInputSymbolsArrayKey"] == ["b", "C", "a"]
    names = [p["name"] for p in data["probes"]]
    assert names[:2] == ["min_surface", "allocation"] and "op_support" in names
    assert all(p["evidence"] for p in data["probes"] if p["name"] != "perf_stats")
    assert load_report(machine_key(True)) is None  # save=False wrote nothing where the runtime looks


def test_text_and_html_views() -> None:
    probe = ProbeResult("input_order", "which <input> each surface reaches", "ok", "alphabetical", {"y": 321})
    report = DoctorReport({"os_build": "macOS 26.1 (25B78)", "chip": "Apple M4", "framework": "AppleNeuralEngine"},
                          [probe, ProbeResult("dialect", "q", "failed")], "1.0")  # fmt: skip
    assert repr(report) == "<DoctorReport AppleNeuralEngine on Apple M4 (macOS 26.1 (25B78)): unhealthy, 1/2 settled>"
    text = str(report)
    assert "[ok     ] input_order" in text and "y: 321" in text and "[failed ] dialect" in text
    html = report._repr_html_()
    assert "&lt;input&gt;" in html and "<table>" in html and html.count("<tr>") == 3
    summary = report.summary()
    assert summary.startswith("first doctor run on this machine: Apple M4, macOS 26.1 (25B78)")
    assert "unsettled: dialect (failed)" in summary


def test_consequences_name_what_changes() -> None:
    ops = {"passed": ["add"], "failed": {"gelu": "CompileError"}, "untested": {}}
    limit = {"limit_reached": True, "compiles_ok": 119, "ended_by": "zeros"}
    lines = consequences({"op_support": ops, "compile_limit": limit})
    assert any("mil.validate warns" in line and "gelu" in line for line in lines)
    assert any("119" in line and "zeros" in line for line in lines)


def test_progress_names_each_step(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[str] = []
    anekit.doctor(ops=["relu"], use_fake=True, save=False, progress=seen.append)
    assert seen[0] == "[1/12] min_surface" and "[12/12] op support matrix" in seen
    assert "op 1/1: relu" in seen and seen[-1] == "done\n"
    anekit.doctor(ops=False, use_fake=True, save=False)  # default: silent when stderr is not a terminal
    assert capsys.readouterr().err == ""


def test_default_progress_goes_through_anekit_progress(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    from anekit import progress as progress_module

    shown: list[str] = []

    @contextlib.contextmanager
    def record(label: str, **kwargs: object):
        shown.append(label)
        yield

    monkeypatch.setattr(progress_module, "progress", record)
    anekit.doctor(ops=False, use_fake=True, save=False)
    assert shown[0] == "anekit doctor: [1/11] min_surface" and len(shown) == 11
    shown.clear()
    anekit.doctor(ops=False, use_fake=True, save=False, progress=False)
    assert shown == []


def test_unknown_op_names_are_refused_before_probing() -> None:
    with pytest.raises(ValueError, match="not_an_op"):
        anekit.doctor(ops=["add", "not_an_op"], use_fake=True, save=False, progress=False)


def test_cli_first_run_prints_what_it_settled(
    cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from anekit.__main__ import main

    target = tmp_path / "report.json"
    assert main(["doctor", "--fake", "--no-ops", "--report", str(target)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("first doctor run on this machine")
    assert "allocation: any" in out and "what anekit does with this:" in out
    assert f"report written to {target}" in out and json.loads(target.read_text())["probes"]
    assert main(["doctor", "--fake", "--no-ops"]) == 0
    assert "replaces the saved report" in capsys.readouterr().out
    assert main(["doctor", "--fake", "--ops", "no_such_op"]) == 2
    err = capsys.readouterr().err  # the CLI's one error handler: error and hint lines
    assert err.startswith("error: anekit doctor: ") and "no_such_op" in err and "\nhint: " in err
    assert main(["doctor", "--fake", "--ops", "add", "--no-ops"]) == 2
    assert "error: anekit doctor: --ops and --no-ops contradict each other\nhint: give one of them" in (
        capsys.readouterr().err
    )


# -- machine key -------------------------------------------------------------------------------------------------


def test_compiling_spawns_no_subprocess(fake_ane_ref: testing.FakeAne, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend to be a Mac, where the key comes from sw_vers and sysctl.
    monkeypatch.setattr(machine_module, "host_system", lambda: "Darwin")
    machine_module._host.cache_clear()
    spawned: list[object] = []
    real_popen = subprocess.Popen

    class CountingPopen(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, args: object, *a: object, **kw: object) -> None:
            spawned.append(args)
            super().__init__(args, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", CountingPopen)
    try:
        key = machine_key(True)
        assert len(spawned) == 2  # sw_vers, sysctl: once
        program = anekit.doctor.programs.identity_program(16, 32, scale=3.0)
        for _ in range(2):
            with anekit.compile(program, backend="ane", cache=False) as kernel:
                assert np.all(kernel(x=np.ones((1, 16, 1, 32)))["y"] == 3)
        assert len(spawned) == 2, spawned
        assert machine_key(True) == key and machine_key(False)["chip"] == key["chip"]
        assert len(spawned) == 2, spawned
    finally:
        machine_module._host.cache_clear()


def test_device_info_reports_instead_of_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    from anekit.doctor.device_info import ane_device_info

    assert "macOS" in ane_device_info()["error"]
    monkeypatch.setattr(machine_module, "host_system", lambda: "Darwin")  # here: no usable runtime or class
    assert ane_device_info()["error"]


# -- compile limit -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["loud", "silent", "crash"])
def test_compile_limit_probe_runs_in_a_child(end: str) -> None:
    result = probe_compile_limit(limit=30, fake={"compile_budget": 7, "budget_end": end})
    assert result.status == "ok", result.evidence
    assert result.finding["compiles_ok"] == 7 and result.finding["limit_reached"] is True
    assert result.finding["ended_by"] == {"loud": "error", "silent": "zeros", "crash": "crash"}[end]
    assert result.finding["at_compile"] == 8
    if end == "crash":
        assert result.finding["signal"] == 11  # SIGSEGV, as libane reports


def test_compile_limit_classifies_a_crash() -> None:
    assert classify(-11, ["ok 0", "ok 1"], 10) == {
        "compiles_ok": 2, "limit_reached": True, "tried": 10, "ended_by": "crash", "at_compile": 3, "signal": 11,
    }  # fmt: skip
    assert classify(0, ["ok 0"], 1) == {"compiles_ok": 1, "limit_reached": False, "tried": 1}

