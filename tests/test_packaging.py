"""pyproject.toml as packaging: no in-tree builds for plain installs, extras, wheels configuration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_plain_install_does_not_build_in_the_source_tree() -> None:
    # A global build-dir made every `pip install .` build in build/{wheel_tag}: parallel installs collided and
    # stale trees from other environments broke builds. Only the editable workflow passes -Cbuild-dir.
    assert "build-dir" not in _pyproject()["tool"]["scikit-build"]
    assert "-Cbuild-dir=build" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_extras_are_named_for_what_they_bring() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    assert {"bench", "coreml", "llm", "docs", "test", "notebooks"} <= set(extras)
    assert all(extras[name] for name in extras), "an empty extra brings nothing"
    assert any(r.startswith("coremltools") for r in extras["coreml"])
    assert any(r.startswith("matplotlib") for r in extras["bench"])  # anekit bench plots
    assert any(r.startswith("gguf") for r in extras["llm"])  # anekit.models.gguf_loader


def test_version_is_written_once() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert len(re.findall(r'^version = "', text, flags=re.MULTILINE)) == 1
    assert "dynamic" not in _pyproject()["project"]


def test_wheels_configuration() -> None:
    cibw = _pyproject()["tool"]["cibuildwheel"]
    assert cibw["macos"]["archs"] == ["arm64"]
    assert cibw["macos"]["config-settings"]["cmake.define.ANEKIT_BUILD_ANE"] == "ON"
    assert set(cibw["linux"]["archs"]) == {"x86_64", "aarch64"}
    assert cibw["linux"]["config-settings"]["cmake.define.ANEKIT_BUILD_ANE"] == "OFF"
    smoke = cibw["test-command"].split()[-1].replace("{project}/", "")
    assert (ROOT / smoke).is_file()
