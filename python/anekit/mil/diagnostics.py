"""Diagnostics: findings about a program that are reported, not raised.

The parser records type mismatches and unknown ops here instead of failing, so that real files whose ops are
not (yet) specified still load; the validator surfaces them together with its own findings, as a
:class:`Diagnostics` list that displays as a table (text in a terminal, HTML in a notebook).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["SEVERITIES", "Diagnostic", "Diagnostics", "format_diagnostics"]

#: Allowed severities, most severe first.
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")


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
        hint: optional suggestion for fixing the problem.
    """

    rule: str
    severity: str
    message: str
    op: str | None = None
    function: str | None = None
    line: int | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"Diagnostic severity must be one of {SEVERITIES}, got {self.severity!r}")

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
        return f"{self.severity}: {self.rule}: {self.message}{loc}{hint}"

    @property
    def location(self) -> str:
        """``line 4, func main, op 'r'`` (the parts that are known), or an empty string."""
        parts = (
            f"line {self.line}" if self.line else "",
            f"func {self.function}" if self.function else "",
            f"op {self.op!r}" if self.op else "",
        )
        return ", ".join(p for p in parts if p)


def format_diagnostics(diags: Iterable[Diagnostic]) -> str:
    """Human-readable report grouped by severity, each finding with its location and hint."""
    found = list(diags)
    if not found:
        return "no findings"
    out: list[str] = []
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
    return "\n".join(out)


#: Colours of the severities in HTML displays.
_COLOURS = {"error": "#cf222e", "warning": "#9a6700", "info": "#0969da"}


class Diagnostics(list[Diagnostic]):
    """The findings of :func:`anekit.mil.validate`: a plain list of :class:`Diagnostic` that displays as a
    report grouped by severity (``print``/``repr``) or a table (``_repr_html_``, in notebooks)."""

    def counts(self) -> dict[str, int]:
        """Severity -> number of findings, every severity present (most severe first)."""
        return {s: sum(1 for d in self if d.severity == s) for s in SEVERITIES}

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self if d.severity == "error"]

    def summary(self) -> str:
        """``2 errors, 1 warning, 0 infos``."""
        return ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in self.counts().items())

    def __str__(self) -> str:
        return format_diagnostics(self)

    def __repr__(self) -> str:
        return f"<Diagnostics: {self.summary()}>" if not self else f"<Diagnostics: {self.summary()}>\n{self}"

    def _repr_html_(self) -> str:
        e = html.escape
        if not self:
            return "<div><b>validation</b>: no findings</div>"
        rows = "".join(
            f"<tr><td style='color:{_COLOURS[d.severity]}'><b>{e(d.severity)}</b></td>"
            f"<td><code>{e(d.rule)}</code></td><td>{e(d.location)}</td><td style='text-align:left'>{e(d.message)}"
            + (f"<br><small><i>hint:</i> {e(d.hint)}</small>" if d.hint else "")
            + "</td></tr>"
            for d in self
        )
        return (
            f"<div><b>validation</b>: {e(self.summary())}<table><tr><th>severity</th><th>rule</th><th>where</th>"
            f"<th>finding</th></tr>{rows}</table></div>"
        )
