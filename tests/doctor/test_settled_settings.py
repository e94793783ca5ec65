"""The runtime applies what ``anekit doctor`` settled on this machine (surface rule and minimum, compile limit)
unless the user set the value; ``anekit.info()`` says where each value came from."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import anekit
from anekit import budget, config, mil, testing
from anekit._info import format_info
from anekit.doctor import machine_key
from anekit.doctor.probes import ProbeResult
from anekit.doctor.report import DoctorReport, settled_values

pytestmark = pytest.mark.objc

#: What a doctor run on a machine that needs exact, >= 64 KiB surfaces and ended compiling at 60 found.
FINDINGS = {
    "allocation": "exact",
    "min_surface": {"min_surface_bytes": 65536},
    "compile_limit": {"compiles_ok": 60, "limit_reached": True, "ended_by": "zeros"},
}


def _save(findings: dict[str, object], date: str = "2026-11-30T10:00:00+00:00") -> DoctorReport:
    probes = [ProbeResult(name, "q", "ok", finding) for name, finding in findings.items()]
    report = DoctorReport(machine_key(True), probes, anekit.__version__, date=date)
    report.save()
    return report


@pytest.fixture
def fresh_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration read from an environment that sets nothing but a private cache directory (the test
    suite's autouse budget fixture sets compile_limit through config.override, which would win)."""
    monkeypatch.setattr(config, "_current", config.from_env({"ANEKIT_CACHE_DIR": str(tmp_path)}))
    return tmp_path


def test_without_a_report_the_defaults_apply(fresh_config: Path) -> None:
    assert settled_values() is None
    for name in config.DOCTOR_SETTLED:
        found = config.setting(name)
        assert found.source == "default" and found.value == getattr(config.Config(), name)


def test_a_saved_report_settles_the_runtime_values(fresh_config: Path) -> None:
    _save(FINDINGS)
    source = "doctor report of 2026-11-30T10:00:00+00:00"
    assert config.setting("ane_surfaces") == config.Setting("exact", source)
    assert config.setting("ane_min_surface_bytes") == config.Setting(65536, source)
    assert config.setting("compile_limit") == config.Setting(60, source)
    assert budget.limit() == 60
    settings = anekit.info()["settings"]
    assert settings["ane_surfaces"] == {"value": "exact", "source": source}
    assert "ane_min_surface_bytes=65536 (doctor report of 2026-11-30" in format_info(anekit.info())


def test_inconclusive_findings_settle_nothing(fresh_config: Path) -> None:
    # "any" allocation, no minimum found, a limit not reached, and junk a user typed into the file.
    _save({
        "allocation": "any",
        "min_surface": {"min_surface_bytes": None},
        "compile_limit": {"compiles_ok": 400, "limit_reached": False},
    })
    assert all(config.setting(name).source == "default" for name in config.DOCTOR_SETTLED)
    _save({"allocation": "diagonal", "min_surface": {"min_surface_bytes": -5}, "compile_limit": "many"})
    assert all(config.setting(name).source == "default" for name in config.DOCTOR_SETTLED)


def test_env_and_override_win_over_the_report(fresh_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _save(FINDINGS)
    env = {"ANEKIT_CACHE_DIR": str(fresh_config), "ANEKIT_ANE_SURFACES": "uniform", "ANEKIT_COMPILE_LIMIT": "90"}
    monkeypatch.setattr(config, "_current", config.from_env(env))
    assert config.setting("ane_surfaces") == config.Setting("uniform", "env ANEKIT_ANE_SURFACES")
    assert config.setting("compile_limit") == config.Setting(90, "env ANEKIT_COMPILE_LIMIT")
    assert config.setting("ane_min_surface_bytes").value == 65536  # not set by the user: the report's
    with config.override(ane_min_surface_bytes=4096):
        assert config.setting("ane_min_surface_bytes") == config.Setting(4096, "config.override")
    assert config.setting("ane_min_surface_bytes").source.startswith("doctor report of")


def test_setting_names_only_doctor_settled_fields() -> None:
    with pytest.raises(ValueError, match="cache_size"):
        config.setting("cache_size")


def test_the_ane_backend_lays_out_surfaces_by_the_report(fresh_config: Path, fake_ane_ref: testing.FakeAne) -> None:
    t = mil.tensor((1, 8, 1, 16), "fp16")

    @mil.program(inputs={"a": t, "b": mil.tensor((1, 8, 1, 4), "fp16")}, opset="ios18")
    def prog(mb: mil.Builder, a: mil.Var, b: mil.Var) -> mil.Var:
        return mb.add(x=a, y=mb.tile(x=b, reps=[1, 1, 1, 4]))

    def allocations() -> list[int]:
        # fresh_config dropped the suite's per-test budget: give this compile one (only surfaces are tested).
        with config.override(compile_limit=budget.used() + 119), anekit.compile(prog, backend="ane", cache=False) as k:
            a = np.ones((1, 8, 1, 16), np.float32)
            b = np.full((1, 8, 1, 4), 2.0, np.float32)
            np.testing.assert_array_equal(k(a=a, b=b)["out" if "out" in k.outputs else next(iter(k.outputs))], a + 2)
            return [s.allocation_bytes for s in (*k.inputs.values(), *k.outputs.values())]

    assert allocations() == [49152] * 3  # defaults: uniform, >= 49,152 bytes
    _save(FINDINGS)
    assert allocations() == [65536] * 3  # exact sizes are all below the settled minimum
    _save({"allocation": "exact", "min_surface": {"min_surface_bytes": 64}})
    assert allocations() == [256, 64, 256]  # exact: each tensor's own size


def test_doctor_probes_ignore_the_saved_settings(cache_dir: Path) -> None:
    # A saved report claiming settings the fake does not need must not change what doctor measures.
    clean = anekit.doctor(ops=False, use_fake=True, save=False, progress=False).findings
    _save({"allocation": "exact", "min_surface": {"min_surface_bytes": 1 << 20}})
    again = anekit.doctor(ops=False, use_fake=True, progress=False)
    assert json.loads(json.dumps(again.findings)) == json.loads(json.dumps(clean))


def test_first_run_summary_says_now_for_what_is_applied(fresh_config: Path) -> None:
    report = _save(FINDINGS)
    summary = report.summary()
    assert "now: surfaces are allocated by the exact rule" in summary
    assert "now: surfaces are at least 65536 bytes" in summary
    assert "now: the compile limit is 60 per process, measured here (its end: zeros)" in summary
    unsaved = dataclasses.replace(report, saved_to=None)
    assert "set: ANEKIT_ANE_SURFACES=exact (the report was not saved" in unsaved.summary()
    with config.override(ane_surfaces="uniform"):
        assert "set: config.override keeps ane_surfaces=uniform" in report.summary()
