"""ANE rules that depend on this machine: what ``anekit doctor`` measured here.

Target ``"ane"``. Op support differs by OS (Orion docs/ane_constraints.md #1/#10 saw ``concat`` and ``gelu``
rejected on a system where other reports had them working; docs/internals/ane-private-api.md §25.2), so the doctor
compiles every registered op in a minimal program and saves which failed (its ``op_support`` finding). These rules read
that saved matrix; without a saved report they find nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ._rules import Context, rule

__all__: list[str] = []


@rule(
    "ane-op-failed-here",
    severity="warning",
    target="ane",
    source="anekit doctor's op support matrix for this machine (docs/internals/ane-private-api.md §25.3 item 5)",
    summary="an op that failed to compile or gave wrong numbers in this machine's doctor run",
)
def op_failed_here(ctx: Context) -> Iterator[Diagnostic]:
    """One warning per op type and function, at its first use, naming the machine, its OS and the failure."""
    from ...doctor.report import load_findings  # the doctor builds MIL programs: import it only when validating

    saved = load_findings()
    if saved is None:
        return
    key, findings = saved
    matrix = findings.get("op_support")
    failed = matrix.get("failed") if isinstance(matrix, dict) else None
    if not isinstance(failed, dict) or not failed:
        return
    for f in ctx.functions():
        seen: set[str] = set()
        for op in f.operations:
            if op.op_type in failed and op.op_type not in seen:
                seen.add(op.op_type)
                yield ctx.diag(
                    "ane-op-failed-here",
                    f"[{op.op_type} '{op.name}'] failed in anekit doctor's op check on this machine "
                    f"({key.get('chip')}, {key.get('os_build')}, {key.get('framework')} framework): "
                    f"{failed[op.op_type]}",
                    f=f,
                    op=op,
                    hint="express it with other ops, or rerun `python -m anekit doctor` after an OS update",
                )
