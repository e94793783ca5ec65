"""anekit.info(), `python -m anekit info` and the package surface."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import anekit
from anekit import _core, config


def test_version_is_consistent() -> None:
    assert anekit.__version__ == _core.__version__
    assert anekit.__version__.count(".") == 2


def test_info_reports_backend_state_and_reason() -> None:
    data = anekit.info()
    for key in ("platform", "machine", "python", "ane_built", "ane_usable", "ane_reason", "fp16_simd", "compile_count"):
        assert key in data
    assert data["fp16_simd"] == anekit.fp16.simd_path()
    assert data["compile_count"] == _core.compile_count()
    if data["ane_usable"]:
        assert data["ane_reason"] == ""
        assert data["default_backend"] == "ane"
    else:
        # The reason must say *why*: not built / not macOS / framework missing / class missing.
        assert data["ane_reason"]
        assert data["default_backend"] == "reference"
    if not data["ane_built"] and sys.platform != "darwin":
        assert "not macOS" in data["ane_reason"]


def test_missing_framework_is_named() -> None:
    with config.override(ane_framework="/nonexistent/AppleNeuralEngine"):
        data = anekit.info()
    assert not data["ane_usable"]
    if data["ane_built"]:
        assert "/nonexistent/AppleNeuralEngine" in data["ane_reason"]


def test_compile_counter_is_process_wide_and_monotonic() -> None:
    before = _core.compile_count()
    assert _core._note_compile() == before + 1
    assert _core.compile_count() == before + 1


def test_cli_info_table_and_json() -> None:
    table = subprocess.run([sys.executable, "-m", "anekit", "info"], capture_output=True, text=True, check=True)
    assert "ane_usable" in table.stdout and "fp16_simd" in table.stdout
    raw = subprocess.run([sys.executable, "-m", "anekit", "info", "--json"], capture_output=True, text=True, check=True)
    data = json.loads(raw.stdout)
    assert data["machine"] and "ane_reason" in data


def test_cli_rejects_unknown_command() -> None:
    res = subprocess.run([sys.executable, "-m", "anekit", "frobnicate"], capture_output=True, text=True)
    assert res.returncode == 2
    assert "invalid choice" in res.stderr


@pytest.mark.parametrize(
    "name", ["AnekitError", "MILError", "MILParseError", "CompileError", "CompileBudgetExceeded", "AneUnavailableError"]
)
def test_error_hierarchy_is_exported(name: str) -> None:
    cls = getattr(anekit, name)
    assert issubclass(cls, anekit.AnekitError)


def test_version_has_one_source() -> None:
    """pyproject.toml's [project] version is the only definition; the extension is built with it."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    (declared,) = re.findall(r'^version = "([0-9.]+)"$', text, flags=re.MULTILINE)
    assert anekit.__version__ == declared
