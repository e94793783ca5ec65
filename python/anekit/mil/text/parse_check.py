"""Post-parse checks: bind every op to its registered spec and compare declared with inferred types.

Findings become :class:`Diagnostic` records on the program (the validator surfaces them); nothing here raises,
so a real file with ops the registry does not know still loads.
"""

from __future__ import annotations

from ..check import BindPlan, check_bindings, infer_op, types_compatible
from ..diagnostics import Diagnostic
from ..infer_memo import InferMemo
from ..ir import Function, Operation, Program
from ..ops._spec import OP_REGISTRY, OPSETS, OpSpec

__all__ = ["OpChecker", "check_function", "check_op", "check_program"]

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


class OpChecker:
    """Checks the ops of one function, keeping per-spec tables and an inference memo across its ops.

    Args:
        f: the function whose ops are checked.
    """

    __slots__ = ("_const_available", "_plans", "f", "memo", "opset")

    def __init__(self, f: Function) -> None:
        self.f = f
        self.opset = f.opset if f.opset in OPSETS else OPSETS[-1]
        self.memo = InferMemo()  # repeated layers: the same op on the same input types and values
        self._plans: dict[type[OpSpec], tuple[BindPlan, bool]] = {}  # spec -> (plan, available in f's opset)
        # Whether const exists in f's opset (the short check below applies), looked up at the first const.
        self._const_available: bool | None = None

    def plan(self, spec: type[OpSpec]) -> tuple[BindPlan, bool]:
        """``spec``'s binding tables for the checked opset, and whether the op exists in ``f``'s opset."""
        found = self._plans.get(spec)
        if found is None:
            available = self.f.opset not in OPSETS or spec.available_in(self.f.opset)
            found = self._plans[spec] = (BindPlan(spec, self.opset), available)
        return found

    def check(self, op: Operation) -> list[Diagnostic]:
        """Diagnostics for ``op``: unknown op, opset availability, bindings, declared vs inferred types."""
        if op.op_type == "const" and not op.inputs and len(op.outputs) == 1:
            # Most statements: a const whose declared type is its value's (what check_op finds, in short).
            val = op.attrs.get("val")
            available = self._const_available
            if available is None:
                spec = OP_REGISTRY.get("const")
                available = self._const_available = spec is not None and self.plan(spec)[1]
            if val is not None and available:
                declared = op.outputs[0].type
                # Loaders intern types, so the declared type is usually the value's own object.
                if declared is val.type or declared == val.type:
                    return []
        return check_op(op, self.f, self)


#: What to do about a variable defined twice (parser and validator report it with the same text, deduplicated).
DUPLICATE_VAR_HINT = "rename one of them: every variable of a function is defined exactly once"
#: What to do about a binding problem (the problem itself names the input and what was expected).
_BINDING_HINT = "pass the op's inputs by their MIL names with the types its signature expects (help(mb.<op>))"
#: The ANE compiler checks declared output types against its own inference and rejects a mismatch.
_MISMATCH_HINT = "write the inferred type (a hand-edited shape?) or fix the op's inputs; the ANE compiler rejects it"


def _diag(op: Operation, f: Function, rule: str, severity: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(rule, severity, message, op.name, f.name, op.line, hint)


def check_op(op: Operation, f: Function, checker: OpChecker | None = None) -> list[Diagnostic]:
    """Diagnostics for one op of ``f``: unknown op, opset availability, bindings, declared vs inferred.

    ``checker`` (optional, for ``f``) reuses per-spec tables and inference results across the function's ops.
    """
    spec = OP_REGISTRY.get(op.op_type)
    if spec is None and op.op_type != "const":
        return [
            _diag(
                op,
                f,
                "unknown-op",
                "warning",
                f"op {op.op_type!r} has no registered spec; its output types were not checked",
                "check the spelling; anekit.mil.ops() lists the ops anekit knows (the ANE compiler rejects "
                "ops it does not know)",
            )
        ]
    out: list[Diagnostic] = []
    if checker is None:
        checker = OpChecker(f)
    opset = checker.opset
    plan = None
    if spec is not None:
        plan, available = checker.plan(spec)
        if not available:
            out.append(
                _diag(
                    op,
                    f,
                    "opset",
                    "error",
                    f"op {op.op_type!r} is not available in opset {f.opset} "
                    f"(from {spec.min_opset}{' to ' + spec.max_opset if spec.max_opset else ''})",
                    "use an opset where the op exists (the builder's opset=), or express it with other ops",
                )
            )
        if op.inputs:
            for problem in check_bindings(op, spec, opset, plan):
                out.append(_diag(op, f, "binding", "error", f"[{op.op_type} '{op.name}'] {problem}", _BINDING_HINT))
    try:
        inferred = infer_op(op, spec, opset, checker.memo, plan)
    except _SPEC_FAILURES as exc:
        message = f"[{op.op_type} '{op.name}'] inference failed: {exc}"
        out.append(_diag(op, f, "infer-error", "error", message, "check the shapes and dtypes of the op's inputs"))
        return out
    outputs = op.outputs
    if len(inferred) != len(outputs):
        message = f"[{op.op_type} '{op.name}'] declares {len(outputs)} outputs, the spec infers {len(inferred)}"
        out.append(_diag(op, f, "type-mismatch", "error", message, _MISMATCH_HINT))
        return out
    for v, t in zip(outputs, inferred, strict=True):
        if not types_compatible(v.type, t):
            message = f"[{op.op_type} '{op.name}'] output {v.name!r} is declared {v.type}, inferred {t}"
            out.append(_diag(op, f, "type-mismatch", "error", message, _MISMATCH_HINT))
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
                None,
                f"use one of {', '.join(OPSETS)}",
            )
        )
    seen: set[str] = set()
    checker = OpChecker(f)
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
                    "give every op of a function its own name",
                )
            )
        seen.add(op.name)
        out.extend(checker.check(op))
    return out


def check_program(prog: Program) -> None:
    """Append the diagnostics of every function to ``prog.diagnostics``."""
    if prog.version not in (None, "1.0", "1.3"):
        prog.diagnostics.append(
            Diagnostic(
                "version",
                "info",
                f"program({prog.version}) has not been observed; coremlc writes 1.0 (ios15-17) and 1.3 (ios18)",
                hint="write program(1.3) for ios18 functions and program(1.0) for older ones",
            )
        )
    for f in prog.functions.values():
        prog.diagnostics.extend(check_function(f))
