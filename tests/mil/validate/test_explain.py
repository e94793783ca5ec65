"""Tests of ``anekit explain RULE`` / ``anekit.mil.validate.explain``: the packaged rules page matches docs/,
every rule id a finding can carry has an entry, and the entry reads as plain text with links."""

from __future__ import annotations

from pathlib import Path

import pytest

import anekit.mil.diagnostics as diagnostics_module
from anekit.__main__ import main
from anekit.errors import MILError
from anekit.mil.validate import explain
from anekit.mil.validate._rules import RULES
from anekit.mil.validate.explain import entry_ids
from anekit.mil.validate.structural import OP_CHECK_IDS

ROOT = Path(__file__).resolve().parents[3]
#: Ids of findings made outside the rule registry: by the parser, and by the runner for a failing rule.
OTHER_IDS = {"missing-name", "duplicate-name", "version", "binding", "validator-error"}


def test_packaged_page_is_the_docs_page() -> None:
    """pip installs do not ship docs/: the package carries a copy, which must not drift from the source."""
    packaged = ROOT / "python/anekit/mil/validate/ane-rules.md"
    assert packaged.read_bytes() == (ROOT / "docs/internals/ane-rules.md").read_bytes(), (
        "run: cp docs/internals/ane-rules.md python/anekit/mil/validate/ane-rules.md"
    )


def test_every_finding_id_has_an_entry() -> None:
    assert set(RULES) | set(OP_CHECK_IDS) | OTHER_IDS <= set(entry_ids())


def test_entry_is_plain_text_with_links() -> None:
    text = explain("ane-dim-limit")
    assert text.startswith("ane-dim-limit (error above 65536")
    assert "Do: split the tensor." in text
    for markup in ("{ref}", "**", "`", "(rule-", "###"):
        assert markup not in text
    lines = text.splitlines()
    assert "more: https://anekit.readthedocs.io/en/latest/internals/ane-rules.html#rule-ane-dim-limit" in lines
    assert "[1] https://github.com/maderix/ANE/issues/26" in lines
    assert "[2] https://anekit.readthedocs.io/en/latest/internals/ane-private-api.html#api-15-1" in lines
    assert "maderix/ANE#26 [1]" in text
    assert "rule-ane-min-surface" not in text  # stops at the next entry


def test_sub_entry_stops_at_the_next_anchor() -> None:
    text = explain("unknown-op")
    assert text.startswith("unknown-op\n") and "opset" not in text.split("more:")[0].splitlines()[0]
    assert "registry" in text and "newer opset" in text


def test_links_follow_docs_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagnostics_module, "DOCS_URL", "file:///srv/html")
    assert "more: file:///srv/html/internals/ane-rules.html#rule-ane-cast" in explain("ane-cast")


def test_unknown_rule_suggests_close_ids() -> None:
    with pytest.raises(MILError, match="did you mean ane-io-dtype"):
        explain("ane-io-dtyp")
    with pytest.raises(MILError, match="rule id string"):
        explain(3)  # type: ignore[arg-type]


def test_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "ane-min-surface"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ane-min-surface (info, shown with verbose)") and "no action is needed" in out
    assert main(["explain", "nope"]) == 2
    err = capsys.readouterr().err
    assert "error: anekit explain: no validator rule 'nope'" in err and "hint: " in err
