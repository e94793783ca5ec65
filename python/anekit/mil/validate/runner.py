"""The MIL validator: ``validate(program, target)`` -> diagnostics, ``check(program, target)`` -> raise.

The ANE compiler's most common answer to a bad program is "compile FAILED" with no diagnostics
(docs/internals/ane-private-api.md §11.2), and every compile spends a slot of a per-process budget (§16). The validator
catches what the docs know about before that happens.

Rules (each its own id, with the source of the fact; :func:`rules` lists them, and so does
``python -m anekit check --list-rules``):

* target ``"any"``: :mod:`~anekit.mil.validate.structural` (declared vs inferred types, unknown ops and opset
  availability, unknown inputs, non-const bindings of const inputs, undefined / redefined variables, missing
  outputs, header/opset mismatch, iOS18 syntax in older functions, unused inputs, dead ops) and
  :mod:`~anekit.mil.validate.weightfile` (BLOBFILE metadata vs declared types, when weights are available) and
  :mod:`~anekit.mil.validate.dialect` (dialect-A spellings under ``program(1.0)``, when the text is given);
* target ``"ane"`` adds :mod:`~anekit.mil.validate.ane_io` (I/O dtype and layout, spatial size, dimension
  limits, surfaces, static shapes, activation dtypes), :mod:`~anekit.mil.validate.ane_ops` (constant parameter
  dtypes, concat, SDPA mask, cast on M1/M2, matmul inner dimension, grouped run-time conv, …) and
  :mod:`~anekit.mil.validate.ane_weights` (weights vs on-chip memory, weight totals) and
  :mod:`~anekit.mil.validate.ane_machine` (ops that failed in this machine's ``anekit doctor`` run).

Severity: ``error`` only where the docs say compilation fails (or the program is not valid MIL);
``warning`` where the result is reported slow, wrong or contested; ``info`` for notes. A rule that fails on a
malformed program is reported as a ``validator-error`` warning instead of hiding the other findings.

``anekit.mil.validate`` is re-exported as the *function* by the package, so import other names with
``from anekit.mil.validate import check, rules``.
"""

from __future__ import annotations

from ...errors import MILError
from ..diagnostics import SEVERITIES, Diagnostic, Diagnostics, format_diagnostics
from ..ir import Program
from . import (  # noqa: F401  (importing registers rules)
    ane_io,
    ane_machine,
    ane_ops,
    ane_weights,
    dialect,
    structural,
    weightfile,
)
from ._rules import RULES, TARGETS, Context, Rule
from .structural import SUPERSEDED_IDS

__all__ = ["check", "format_diagnostics", "rules", "validate"]

_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def rules(target: str = "ane") -> list[Rule]:
    """The rules that run for ``target`` (``"any"``: structural only; ``"ane"``: all), in order."""
    _check_target(target)
    chosen = [r for r in RULES.values() if r.target == "any" or target == "ane"]
    return sorted(chosen, key=lambda r: TARGETS.index(r.target))  # structural rules first


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise MILError(f"validation target must be one of {', '.join(TARGETS)}, got {target!r}")


def validate(program: Program, target: str = "ane", *, text: str | None = None) -> Diagnostics:
    """All findings about ``program``: errors first, then warnings, then infos (program order within each).

    The result is a list (:class:`~anekit.mil.diagnostics.Diagnostics`) that prints as a report grouped by
    severity and shows as a table in a notebook.

    Findings the parser recorded on ``program.diagnostics`` are included once (identical findings recomputed
    here are not repeated; the parser's ``binding`` findings are superseded by ``unknown-input`` and
    ``non-const``).

    Args:
        program: a parsed or built :class:`~anekit.mil.ir.Program`.
        target: ``"ane"`` (default: structural rules plus the Neural Engine rules) or ``"any"``.
        text: the MIL text ``program`` was parsed from, if any: enables the text-level rule ``dialect-mix``
            (the IR does not keep which dialect's spellings were used).

    Raises:
        MILError: ``program`` is not a Program, ``target`` is unknown or ``text`` is not a string.
    """
    if not isinstance(program, Program):
        raise MILError(f"validate() needs a mil.Program, got {type(program).__name__}")
    _check_target(target)
    if text is not None and not isinstance(text, str):
        raise MILError(f"validate(text=...) must be the MIL source string, got {type(text).__name__}")
    ctx = Context(program, target, text)
    found: list[Diagnostic] = [d for d in program.diagnostics if d.rule not in SUPERSEDED_IDS]
    for r in rules(target):
        found.extend(_run(r, ctx))
    unique = list(dict.fromkeys(found))
    return Diagnostics(sorted(unique, key=lambda d: _RANK[d.severity]))


#: What a rule may raise on a malformed program (a bug to fix, but it must not hide the other findings).
_RULE_FAILURES = (ValueError, TypeError, IndexError, KeyError, AttributeError, ArithmeticError)


def _run(r: Rule, ctx: Context) -> list[Diagnostic]:
    """The findings of one rule; a rule that fails is reported as a ``validator-error`` warning."""
    try:
        return list(r.check(ctx))
    except _RULE_FAILURES as exc:
        return [
            Diagnostic(
                "validator-error",
                "warning",
                f"rule {r.id} could not check this program: {type(exc).__name__}: {exc}",
                hint="please report this with the program; the other rules ran normally",
            )
        ]


def check(program: Program, target: str = "ane", *, text: str | None = None) -> Diagnostics:
    """Validate and raise if there is any error; returns the (non-error) findings otherwise.

    Raises:
        MILError: listing every error finding (warnings and infos never raise).
    """
    found = validate(program, target, text=text)
    errors = [d for d in found if d.severity == "error"]
    if errors:
        lines = "\n".join(f"  {d}" for d in errors)
        raise MILError(f"program has {len(errors)} error(s) (target {target!r}):\n{lines}")
    return found
