"""Tests that the validator's findings speak to users: a hint on every finding, one link to the rule's
documentation entry, no internal shorthand, and infos that call for no action hidden unless ``verbose``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
from test_validate import CASES, Factory, clean

import anekit.mil.diagnostics as diagnostics_module
from anekit import mil
from anekit.errors import MILError
from anekit.mil import Diagnostic
from anekit.mil.diagnostics import Diagnostics, format_diagnostics, rule_url
from anekit.mil.validate import validate
from anekit.mil.validate._rules import RULES

ROOT = Path(__file__).resolve().parents[3]
RULE_MODULES = sorted((ROOT / "python/anekit/mil/validate").glob("*.py"))
#: Shorthand only the team's own notes resolve: section numbers, document paths, people, confidence tags.
SHORTHAND = re.compile(r"§|docs/internals|upstream|dev-erik|\bPROBE\b|\[conflict\]|\[single\]|\bitem \d|rule \d")


def _anchors() -> set[str]:
    page = (ROOT / "docs/internals/ane-rules.md").read_text()
    return set(re.findall(r"^\((rule-[a-z0-9-]+)\)=$", page, re.M))


def mlp() -> mil.Program:
    """The 3-op MLP of issue #12: [1, 64, 1, 32] fp16 in and out, two relu and an add."""

    @mil.program(inputs={"x": mil.tensor((1, 64, 1, 32), "fp16")}, opset="ios18")
    def prog(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        a = mb.relu(x=x)
        return {"y": mb.add(x=a, y=mb.relu(x=a))}

    return prog


# ---------------------------------------------------------------------- every finding of every rule
@pytest.mark.parametrize(("rule", "bad", "good", "target", "severity"), CASES, ids=[c[0] for c in CASES])
def test_findings_have_hint_link_and_no_shorthand(
    rule: str, bad: Factory, good: Factory, target: str, severity: str
) -> None:
    anchors = _anchors()
    found = validate(bad(), target, verbose=True)
    assert found
    for d in found:
        assert d.hint, f"{d.rule} ({d.severity}) has no hint: {d.message}"
        for text in (d.message, d.hint):
            assert not SHORTHAND.search(text), f"{d.rule}: internal shorthand in {text!r}"
        assert d.link == rule_url(d.rule)
        assert d.link.split("#")[1] in anchors, f"{d.rule}: no documentation entry for its link"


def test_every_diag_call_passes_a_hint_and_plain_words() -> None:
    """Static check over the rule modules: findings built there name a hint and cite no internal section.

    (The run-time test above sees only the findings the bad programs trigger; this sees every call site.)
    """
    problems = []
    for path in RULE_MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name == "diag" and "hint" not in {k.arg for k in node.keywords}:
                problems.append(f"{path.name}:{node.lineno}: ctx.diag without hint=")
            if name == "Diagnostic" and len(node.args) < 7 and "hint" not in {k.arg for k in node.keywords}:
                problems.append(f"{path.name}:{node.lineno}: Diagnostic without a hint")
            if name in ("diag", "Diagnostic"):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and SHORTHAND.search(sub.value):
                        problems.append(f"{path.name}:{sub.lineno}: shorthand in {sub.value!r}")
    assert problems == []


def test_sources_are_not_printed() -> None:
    """``source=`` keeps the provenance for maintainers; users see the link instead."""
    found = validate(CASES[0][1](), CASES[0][3], verbose=True)
    shown = str(found) + found._repr_html_()
    for r in RULES.values():
        assert r.source not in shown
    assert "docs/internals" not in shown and "§" not in shown


# ---------------------------------------------------------------------- infos that need no action
def test_mlp_has_no_findings_by_default() -> None:
    found = validate(mlp())
    assert list(found) == [] and found.hidden == 3
    assert str(found) == (
        "no findings\n3 infos hidden (no action needed; verbose=True or `anekit check -v` shows them)"
    )
    assert found.summary() == "0 errors, 0 warnings, 0 infos (3 hidden)"


def test_mlp_verbose_shows_the_notes() -> None:
    found = validate(mlp(), verbose=True)
    assert found.hidden == 0
    assert sorted(d.rule for d in found) == ["ane-dialect-chip", "ane-min-surface", "ane-min-surface"]
    assert all(d.severity == "info" and not d.needs_action for d in found)
    assert mlp().validate(verbose=True) == found


def test_infos_that_call_for_action_stay() -> None:
    mb = mil.Builder(opset="ios16")
    x = mb.input("x", mil.tensor((1, 64, 1, 384), "fp16"))
    mb.input("unused", mil.tensor((1, 64, 1, 384), "fp16"))
    mb.sigmoid(x=x)  # computed, never used
    prog = mb.build(mb.conv(x=x, weight=np.zeros((64, 64, 1, 1), np.float16)))
    rules = {d.rule for d in validate(prog, "any")}
    assert {"unused-input", "dead-op"} <= rules


def test_every_info_rule_says_why_it_is_shown_or_hidden() -> None:
    quiet = [r for r in RULES.values() if not r.needs_action]
    assert {r.id for r in quiet} >= {"ane-min-surface", "ane-dialect-chip", "ane-disputed-op", "ane-conv-bias"}
    for r in quiet:
        assert r.severity == "info", f"{r.id}: only infos can be hidden"
        assert r.check.__doc__ and "no action" in r.check.__doc__, f"{r.id}: docstring must say why it is quiet"
    # Rules that report infos (by default or in some situations) say in their docstring why they are shown.
    for rule_id in ("unused-input", "dead-op", "ane-unverified-op", "ane-weights-sram", "ane-io-layout"):
        doc = RULES[rule_id].check.__doc__ or ""
        assert "action" in doc, f"{rule_id}: docstring must say whether its infos call for action"


@pytest.mark.parametrize(("system", "chip", "shown"), [("Darwin", "Apple M1 Pro", True), ("Darwin", "Apple M4", False)])
def test_dialect_note_calls_for_action_on_an_m1_or_m2_mac(
    monkeypatch: pytest.MonkeyPatch, system: str, chip: str, shown: bool
) -> None:
    from anekit.doctor import machine

    monkeypatch.setattr(machine, "host_system", lambda: system)
    monkeypatch.setattr(machine, "_host", lambda: ("macOS 15.0 (24A335)", chip))
    found = [d for d in validate(mlp()) if d.rule == "ane-dialect-chip"]
    if shown:
        (d,) = found
        assert "this Mac is an Apple M1 Pro" in d.message and d.hint.startswith("to run it here: ")
    else:
        assert found == []


def test_verbose_must_be_a_bool() -> None:
    with pytest.raises(MILError, match="verbose"):
        validate(clean(), verbose="yes")  # type: ignore[arg-type]


def test_only_infos_can_need_no_action() -> None:
    with pytest.raises(MILError, match="only an info"):
        Diagnostic("ane-cast", "warning", "m", hint="h", needs_action=False)
    with pytest.raises(MILError, match="hidden"):
        Diagnostics([], hidden=-1)


# ---------------------------------------------------------------------- displays and the link
NOTE = Diagnostic("ane-min-surface", "info", "small", function="main", hint="nothing to do")


def test_text_report_links_each_rule_once() -> None:
    text = format_diagnostics([NOTE, NOTE], hidden=1)
    assert text.count(NOTE.link) == 1
    assert text.splitlines()[-1].startswith("1 info hidden (no action needed;")


def test_html_links_the_rule_and_notes_hidden_infos() -> None:
    h = Diagnostics([NOTE], hidden=2)._repr_html_()
    assert f"<a href='{NOTE.link}'" in h and "2 infos hidden" in h
    assert "1 info hidden" in Diagnostics([], hidden=1)._repr_html_()


def test_docs_url_is_overridable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagnostics_module, "DOCS_URL", "file:///tmp/html/")
    assert NOTE.link == "file:///tmp/html/internals/ane-rules.html#rule-ane-min-surface"


def test_check_error_message_carries_hint_and_link() -> None:
    mb = mil.Builder(opset="ios16")
    prog = mb.build(mb.relu(x=mb.input("x", mil.tensor((1, 70000, 1, 32), "fp16"))))
    with pytest.raises(MILError) as info:
        prog.check()
    assert "hint: split the tensor into pieces of at most 65536" in str(info.value)
    assert rule_url("ane-dim-limit") in str(info.value)
