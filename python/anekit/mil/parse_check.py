"""Post-parse checks: bind every op to its registered spec and compare declared with inferred types.

Findings become :class:`Diagnostic` records on the program (the validator surfaces them); nothing here raises,
so a real file with ops the registry does not know still loads.
"""

from __future__ import annotations

from .check import check_bindings, infer_op, types_compatible
from .diagnostics import Diagnostic
from .ir import Function, Operation, Program
from .ops._spec import OP_REGISTRY, OPSETS

__all__ = ["check_function", "check_op", "check_program"]

# A buggy or incomplete spec must not turn a parse into a crash: these are reported as "infer-error".
_SPEC_FAILURES = (
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    AttributeError,
    ArithmeticError,
    NotImplementedError,
)


def check_op(op: Operation, f: Function) -> list[Diagnostic]:
    """Diagnostics for one op of ``f``: unknown op, opset availability, bindings, declared vs inferred."""
    out: list[Diagnostic] = []

    def diag(rule: str, severity: str, message: str, hint: str | None = None) -> None:
        out.append(Diagnostic(rule, severity, message, op.name, f.name, op.line, hint))

    spec = OP_REGISTRY.get(op.op_type)
    if spec is None and op.op_type != "const":
        diag(
            "unknown-op",
            "warning",
            f"op {op.op_type!r} has no registered spec; its output types were not checked",
            "anekit.mil.ops lists the supported ops",
        )
        return out
    if spec is not None and f.opset in OPSETS and not spec.available_in(f.opset):
        diag(
            "opset",
            "error",
            f"op {op.op_type!r} is not available in opset {f.opset} "
            f"(from {spec.min_opset}{' to ' + spec.max_opset if spec.max_opset else ''})",
        )
    opset = f.opset if f.opset in OPSETS else OPSETS[-1]
    if spec is not None:
        for problem in check_bindings(op, spec, opset):
            diag("binding", "error", f"[{op.op_type} '{op.name}'] {problem}")
    try:
        inferred = infer_op(op, spec, opset)
    except _SPEC_FAILURES as exc:
        diag("infer-error", "error", f"[{op.op_type} '{op.name}'] inference failed: {exc}")
        return out
    declared = [v.type for v in op.outputs]
    if len(inferred) != len(declared):
        diag(
            "type-mismatch",
            "error",
            f"[{op.op_type} '{op.name}'] declares {len(declared)} outputs, the spec infers {len(inferred)}",
        )
        return out
    for v, t in zip(op.outputs, inferred, strict=True):
        if not types_compatible(v.type, t):
            diag(
                "type-mismatch",
                "error",
                f"[{op.op_type} '{op.name}'] output {v.name!r} is declared {v.type}, inferred {t}",
            )
    return out


def check_function(f: Function) -> list[Diagnostic]:
    """Diagnostics for every op of ``f`` plus duplicate op names and an unknown opset."""
    out: list[Diagnostic] = []
    if f.opset not in OPSETS:
        out.append(
            Diagnostic(
                "opset",
                "warning",
                f"unknown opset {f.opset!r}; checked as {OPSETS[-1]}",
                None,
                f.name,
            )
        )
    seen: set[str] = set()
    for op in f.operations:
        if op.name in seen:
            out.append(
                Diagnostic(
                    "duplicate-name",
                    "error",
                    f"op name {op.name!r} is used twice",
                    op.name,
                    f.name,
                    op.line,
                    "names must be unique per function (§7.1)",
                )
            )
        seen.add(op.name)
        out.extend(check_op(op, f))
    return out


def check_program(prog: Program) -> None:
    """Append the diagnostics of every function to ``prog.diagnostics``."""
    if prog.version not in (None, "1.0", "1.3"):
        prog.diagnostics.append(
            Diagnostic(
                "version",
                "info",
                f"program({prog.version}) has not been observed; coremlc writes 1.0 (ios15-17) and 1.3 (ios18), §3",
            )
        )
    for f in prog.functions.values():
        prog.diagnostics.extend(check_function(f))
