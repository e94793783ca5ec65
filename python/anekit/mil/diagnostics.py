"""Diagnostics: findings about a program that are reported, not raised.

The parser records type mismatches and unknown ops here instead of failing, so that real files whose ops are
not (yet) specified still load; the validator surfaces them together with its own findings, as a
:class:`Diagnostics` list that displays as a table (text in a terminal, HTML in a notebook).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import MILError

__all__ = ["DOCS_URL", "RULES_PAGE", "SEVERITIES", "Diagnostic", "Diagnostics", "format_diagnostics", "rule_url"]

#: Allowed severities, most severe first.
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")

#: Base URL of the published documentation (the HTML build of the repository's ``docs/``). Every diagnostic
#: links to its rule's entry under it. Installed packages do not ship ``docs/``: point this at another build
#: (``anekit.mil.diagnostics.DOCS_URL = "file:///path/to/html"``) or read the entry offline with
#: ``anekit explain RULE``.
DOCS_URL = "https://anekit.readthedocs.io/en/latest"
#: The rules page, relative to :data:`DOCS_URL`; each rule's entry is anchored ``#rule-<id>``.
RULES_PAGE = "internals/ane-rules.html"


def rule_url(rule: str) -> str:
    """The link to rule ``rule``'s entry in the documentation: ``<DOCS_URL>/<RULES_PAGE>#rule-<rule>``."""
    return f"{DOCS_URL.rstrip('/')}/{RULES_PAGE}#rule-{rule}"


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a program.

    Attributes:
        rule: short machine-readable rule id, e.g. ``"type-mismatch"`` or ``"unknown-op"``.
        severity: ``"error"``, ``"warning"`` or ``"info"``.
        message: human-readable description naming the op, types and what was expected.
        op: the op's ``name`` attribute, or None for program/function-level findings.
        function: the function the finding is in, or None.
        line: 1-based source line when the program came from text, else None.
        hint: what to do about it (every warning and error has one).
        needs_action: False for an info that calls for no action (a note that only matters if a compile
            fails, or that anekit already handles); :func:`anekit.mil.validate` hides those unless
            ``verbose=True``. Errors and warnings always call for action.
    """

    rule: str
    severity: str
    message: str
    op: str | None = None
    function: str | None = None
    line: int | None = None
    hint: str | None = None
    needs_action: bool = True

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"Diagnostic severity must be one of {SEVERITIES}, got {self.severity!r}")
        if not self.needs_action and self.severity != "info":
            raise MILError(f"only an info can need no action; this {self.severity} is rule {self.rule!r}")

    @property
    def link(self) -> str:
        """The documentation entry of this finding's rule (see :func:`rule_url`)."""
        return rule_url(self.rule)

    def __str__(self) -> str:
        where = []
        if self.function:
            where.append(f"func {self.function}")
        if self.op:
            where.append(f"op {self.op!r}")
        if self.line:
            where.append(f"line {self.line}")
        loc = f" ({', '.join(where)})" if where else ""
        hint = f" [hint: {self.hint}]" if self.hint else ""
        return f"{self.severity}: {self.rule}: {self.message}{loc}{hint} (more: {self.link})"

    @property
    def location(self) -> str:
        """``line 4, func main, op 'r'`` (the parts that are known), or an empty string."""
        parts = (
            f"line {self.line}" if self.line else "",
            f"func {self.function}" if self.function else "",
            f"op {self.op!r}" if self.op else "",
        )
        return ", ".join(p for p in parts if p)


def _hidden_note(hidden: int) -> str:
    """The line saying that ``hidden`` infos were left out, and how to show them."""
    many = hidden != 1
    return (
        f"{hidden} info{'s' if many else ''} hidden (no action needed; verbose=True or `anekit check -v` "
        f"shows {'them' if many else 'it'})"
    )


def format_diagnostics(diags: Iterable[Diagnostic], hidden: int = 0) -> str:
    """Human-readable report grouped by severity, each finding with its location and hint.

    The link to a rule's documentation entry is printed once per rule, under its first finding. ``hidden``
    (the number of infos left out, see :class:`Diagnostics`) adds a line saying how to show them.
    """
    found = list(diags)
    note = [_hidden_note(hidden)] if hidden else []
    if not found:
        return "\n".join(["no findings", *note])
    out: list[str] = []
    linked: set[str] = set()
    for sev in SEVERITIES:
        group = [d for d in found if d.severity == sev]
        if not group:
            continue
        out.append(f"{len(group)} {sev}{'s' if len(group) != 1 else ''}:")
        for d in group:
            where = d.location
            out.append(f"  [{d.rule}] {d.message}" + (f"  ({where})" if where else ""))
            if d.hint:
                out.append(f"      hint: {d.hint}")
            if d.rule not in linked:
                linked.add(d.rule)
                out.append(f"      more: {d.link}")
    return "\n".join(out + note)


#: Colours of the severities in HTML displays.
_COLOURS = {"error": "#cf222e", "warning": "#9a6700", "info": "#0969da"}


class Diagnostics(list[Diagnostic]):
    """The findings of :func:`anekit.mil.validate`: a plain list of :class:`Diagnostic` that displays as a
    report grouped by severity (``print``/``repr``) or a table (``_repr_html_``, in notebooks).

    Args:
        found: the findings shown.
        hidden: how many infos that need no action were left out (``validate(..., verbose=False)``); the
            displays say so, and how to show them.
    """

    def __init__(self, found: Iterable[Diagnostic] = (), hidden: int = 0) -> None:
        super().__init__(found)
        if not isinstance(hidden, int) or hidden < 0:
            raise MILError(f"Diagnostics(hidden=...) must be a count >= 0, got {hidden!r}")
        self.hidden = hidden

    def counts(self) -> dict[str, int]:
        """Severity -> number of findings, every severity present (most severe first)."""
        return {s: sum(1 for d in self if d.severity == s) for s in SEVERITIES}

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self if d.severity == "error"]

    def summary(self) -> str:
        """``2 errors, 1 warning, 0 infos`` (``…, 0 infos (3 hidden)`` when infos were left out)."""
        text = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in self.counts().items())
        return f"{text} ({self.hidden} hidden)" if self.hidden else text

    def __str__(self) -> str:
        return format_diagnostics(self, self.hidden)

    def __repr__(self) -> str:
        return f"<Diagnostics: {self.summary()}>" if not self else f"<Diagnostics: {self.summary()}>\n{self}"

    def _repr_html_(self) -> str:
        e = html.escape
        note = f"<br><small>{e(_hidden_note(self.hidden))}</small>" if self.hidden else ""
        if not self:
            return f"<div><b>validation</b>: no findings{note}</div>"
        rows = "".join(
            f"<tr><td style='color:{_COLOURS[d.severity]}'><b>{e(d.severity)}</b></td>"
            f"<td><a href='{e(d.link)}' target='_blank'><code>{e(d.rule)}</code></a></td><td>{e(d.location)}</td>"
            f"<td style='text-align:left'>{e(d.message)}"
            + (f"<br><small><i>hint:</i> {e(d.hint)}</small>" if d.hint else "")
            + "</td></tr>"
            for d in self
        )
        return (
            f"<div><b>validation</b>: {e(self.summary())}<table><tr><th>severity</th><th>rule</th><th>where</th>"
            f"<th>finding</th></tr>{rows}</table>{note}</div>"
        )
