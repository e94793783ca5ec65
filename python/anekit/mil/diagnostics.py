"""Diagnostics: findings about a program that are reported, not raised.

The parser records type mismatches and unknown ops here instead of failing, so that real files whose ops are
not (yet) specified still load; the validator surfaces them together with its own findings.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SEVERITIES", "Diagnostic"]

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
