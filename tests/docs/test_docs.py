"""The documentation in docs/ matches the code: its consistency checks pass and its code snippets run.

The docs build (scripts/test.sh) runs the same consistency checks with warnings as errors; running them here too
tells whoever adds a validator rule or a configuration variable, in the ordinary test run, that the pages need an
entry for it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
SNIPPETS = sorted((DOCS / "snippets").glob("*.py"))
#: Snippets that start worker processes (several seconds each).
SLOW_SNIPPETS = {"budget_recycle.py"}


def _checks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("anekit_docs_checks", DOCS / "_checks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_validator_rule_has_an_entry() -> None:
    assert _checks().missing_rule_anchors() == []


def test_configuration_page_lists_exactly_the_variables_read() -> None:
    assert _checks().configuration_mismatch() == ([], [])


def test_numbered_sections_carry_their_anchors() -> None:
    assert _checks().unanchored_sections() == []


def test_checks_detect_a_missing_anchor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checks = _checks()
    page = tmp_path / "internals" / "ane-private-api.md"
    page.parent.mkdir()
    page.write_text("(api-17)=\n## 17. Execution paths\n\n### 17.3 Other client paths\n")
    monkeypatch.setattr(checks, "DOCS", tmp_path)
    monkeypatch.setattr(checks, "SECTION_PREFIXES", {"internals/ane-private-api.md": "api"})
    assert checks.unanchored_sections() == [
        "internals/ane-private-api.md: '### 17.3 Other client paths' needs the anchor (api-17-3)= on the line "
        "before it"
    ]


def _fake_unavailable() -> str | None:
    from anekit import _core, testing

    if not _core.ane.built():
        return "the Objective-C++ backend was not built (-Ccmake.define.ANEKIT_BUILD_ANE=ON)"
    if not testing.fake_framework_path().exists():
        return "the fake framework is not bundled with this build"
    return None


@pytest.mark.parametrize(
    "snippet",
    [pytest.param(p, id=p.name, marks=[pytest.mark.slow] if p.name in SLOW_SNIPPETS else []) for p in SNIPPETS],
)
def test_snippet_runs(snippet: Path) -> None:
    if "fake_ane" in snippet.read_text() and (reason := _fake_unavailable()):
        pytest.skip(reason)
    # A fresh interpreter per snippet: each one expects a fresh process (compile budget, loaded framework).
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANEKIT_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    done = subprocess.run(
        [sys.executable, str(snippet)], capture_output=True, text=True, timeout=300, env=env, cwd=snippet.parent
    )
    assert done.returncode == 0, f"{snippet.name} failed:\n{done.stdout}\n{done.stderr}"
