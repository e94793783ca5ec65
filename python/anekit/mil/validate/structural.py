"""Structural validator rules: is the program well formed, whatever it will run on?

Every rule here has target ``"any"``. Op-level type checking reuses :func:`anekit.mil.text.parse_check.check_function`
(the same code the parser runs), so a parsed program and a built one are judged identically; its ``binding``
findings are re-reported here under two finer ids (``unknown-input``, ``non-const``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..check import requires_const
from ..diagnostics import Diagnostic
from ..ir import DUPLICATE_OUTPUT_HINT, Function, Operation, Var, duplicate_output_message
from ..ops._spec import OP_REGISTRY, OPSETS, OpSpec, opset_index
from ..text.parse_check import check_function
from ..types import StateType
from ..values import Value
from ._rules import Context, is_runtime, rule, tensor_of

__all__: list[str] = []

#: Findings of :func:`check_function` this module re-reports under finer ids.
SUPERSEDED_IDS = frozenset({"binding"})
#: Ids :func:`check_function` emits (documented on the ``op-check`` rule).
OP_CHECK_IDS = ("unknown-op", "opset", "infer-error", "type-mismatch", "duplicate-name")


def _header_version(ctx: Context) -> str:
    """The header of the text being validated (``validate(p, text=...)``), else the one the program has
    (parsed) or will get when emitted (built): ``"1.0"`` or ``"1.3"``."""
    from ..text.emitter import resolve_dialect

    written = ctx.text_header()
    if written is not None:
        return written
    if ctx.program.version is not None:
        return ctx.program.version
    return "1.3" if resolve_dialect(ctx.program, None) == "A" else "1.0"


def _specified_ops(ctx: Context) -> Iterator[tuple[Function, Operation, type[OpSpec]]]:
    """Every op of the program whose type has a spec (unknown ops are reported by op-check as unknown-op)."""
    for f in ctx.functions():
        for op in f.operations:
            spec = OP_REGISTRY.get(op.op_type)
            if spec is not None:
                yield f, op, spec


@rule(
    "op-check",
    severity="error",
    target="any",
    source="docs/internals/mil-format.md §7.1, §10 (op signatures); the op registry (anekit.mil.ops)",
    summary="every op is known, exists in the function's opset, and its declared output types match "
    "inference (ids: " + ", ".join(OP_CHECK_IDS) + ")",
)
def op_check(ctx: Context) -> Iterator[Diagnostic]:
    """Re-run inference on every op and compare with the declared types (``None`` dims are wildcards)."""
    for f in ctx.functions():
        for d in check_function(f):
            if d.rule not in SUPERSEDED_IDS:
                yield d


@rule(
    "unknown-input",
    severity="error",
    target="any",
    source="docs/internals/mil-format.md §7.1 (arguments use the op's MIL input names), §10",
    summary="an op is given an input its spec does not define",
)
def unknown_input(ctx: Context) -> Iterator[Diagnostic]:
    for f, op, spec in _specified_ops(ctx):
        for k in op.inputs:
            if spec.input_spec(k) is None:
                names = ", ".join(s.name for s in spec.inputs)
                yield ctx.diag(
                    "unknown-input",
                    f"[{op.op_type} '{op.name}'] unknown input {k!r}; {op.op_type} takes {names or 'no inputs'}",
                    f=f,
                    op=op,
                    hint="check the spelling against anekit.mil.ops.get_spec(op).inputs",
                )


@rule(
    "non-const",
    severity="error",
    target="any",
    source="docs/internals/mil-format.md §10 ('const' inputs), §7.2, §7.4; §11 rules 5 and 15",
    summary="an input the spec requires to be a compile-time constant is bound to a run-time variable",
)
def non_const(ctx: Context) -> Iterator[Diagnostic]:
    for f, op, spec in _specified_ops(ctx):
        for k, b in op.inputs.items():
            # Const-ness can depend on the opset (e.g. conv's bias must be const before ios17).
            if spec.input_spec(k) is None or not requires_const(spec, k, f.opset):
                continue
            for x in b if isinstance(b, tuple) else (b,):
                if is_runtime(x):
                    what = "function input" if x.op is None else f"output of {x.op.op_type}"
                    yield ctx.diag(
                        "non-const",
                        f"[{op.op_type} '{op.name}'] input {k!r} must be a compile-time constant, "
                        f"got {x.name!r} ({what})",
                        f=f,
                        op=op,
                        hint="bind it to a const (or constexpr_*) op; for run-time weights use "
                        "matmul instead of linear (§10.1)",
                    )


@rule(
    "undefined-var",
    severity="error",
    target="any",
    source="docs/internals/mil-format.md §4 (an argument references a variable defined earlier in the function)",
    summary="an op reads a variable that is not a function input or the output of an earlier op",
)
def undefined_var(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        defined: dict[str, Var] = dict(f.inputs)
        for op in f.operations:
            for v in op.input_vars():
                if defined.get(v.name) is not v:
                    later = any(v is o for later_op in f.operations for o in later_op.outputs)
                    why = "is defined by a later op" if later else "is not defined in this function"
                    yield ctx.diag(
                        "undefined-var",
                        f"[{op.op_type} '{op.name}'] reads variable {v.name!r}, which {why}",
                        f=f,
                        op=op,
                        hint="ops must come after the ops producing their inputs (execution order = statement order)",
                    )
            for v in op.outputs:
                defined.setdefault(v.name, v)
        for v in f.outputs:
            if defined.get(v.name) is not v:
                yield ctx.diag(
                    "undefined-var",
                    f"function output {v.name!r} is not defined in function {f.name}",
                    f=f,
                )


@rule(
    "duplicate-var",
    severity="error",
    target="any",
    source="docs/internals/mil-format.md §4, §7.1 (SSA: one definition per variable name)",
    summary="a variable name is defined twice (function input or op output)",
)
def duplicate_var(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        seen = set(f.inputs)
        for op in f.operations:
            for v in op.outputs:
                if v.name in seen:
                    # Same text as the parser's finding, so validate() deduplicates the two.
                    yield Diagnostic(
                        "duplicate-var",
                        "error",
                        f"variable {v.name!r} is defined twice",
                        op.name,
                        f.name,
                        op.line,
                    )
                seen.add(v.name)


@rule(
    "missing-outputs",
    severity="error",
    target="any",
    source="docs/internals/mil-format.md §4 (func := … '-> (' IDENT { ',' IDENT } ')')",
    summary="a function returns nothing, or the program has no function",
)
def missing_outputs(ctx: Context) -> Iterator[Diagnostic]:
    if not ctx.program.functions:
        yield ctx.diag("missing-outputs", "the program has no function")
    for f in ctx.functions():
        if not f.outputs:
            yield ctx.diag(
                "missing-outputs",
                f"function {f.name} has no outputs",
                f=f,
                hint="return at least one variable",
            )


@rule(
    "duplicate-output",
    severity="error",
    target="any",
    source="docs/internals/mil-format.md §7.5 (outputs are named variables); "
    "docs/internals/ane-private-api.md §13 (one surface per output, bound by name)",
    summary="a function returns the same variable more than once, e.g. -> (y, y)",
)
def duplicate_output(ctx: Context) -> Iterator[Diagnostic]:
    """Refused rather than supported: results (reference executor, kernels) and surfaces are keyed by output
    name, so ``(y, y)`` silently collapsed to one output (issue #11 item 7)."""
    for f in ctx.functions():
        seen: set[str] = set()
        for v in f.outputs:
            if v.name in seen:
                yield ctx.diag(
                    "duplicate-output",
                    f"function {f.name}: {duplicate_output_message(v.name)}",
                    f=f,
                    hint=DUPLICATE_OUTPUT_HINT,
                )
            seen.add(v.name)


@rule(
    "empty-io",
    severity="error",
    target="any",
    source="docs/internals/ane-private-api.md §13 (every input and output is bound to an IOSurface, which cannot be "
        "empty)",
    summary="a function input or output has a dimension of 0 (no surface can hold it)",
)
def empty_io(ctx: Context) -> Iterator[Diagnostic]:
    """Found by the MIL fuzz: ``tensor<fp16, [0]>`` I/O validated clean, then failed inside surface
    allocation with a bare ValueError. Target ``any``: every backend (the reference one too) binds I/O to
    surfaces."""
    for f in ctx.functions():
        named = [("input", name, v.type) for name, v in f.inputs.items()]
        named += [("output", v.name, v.type) for v in f.outputs]
        for kind, name, t in named:
            t = tensor_of(t)
            if t is not None and 0 in t.shape:
                yield ctx.diag(
                    "empty-io",
                    f"{kind} {name!r} of function {f.name} is {t}: a dimension of 0 leaves no data for its surface",
                    f=f,
                    hint="give every input and output at least one element",
                )


@rule(
    "unused-input",
    severity="info",
    target="any",
    source="docs/internals/mil-format.md §7.5; docs/internals/ane-private-api.md §13 (every input still needs a "
        "surface)",
    summary="a function input is never read nor returned",
)
def unused_input(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        for name, v in f.inputs.items():
            if not ctx.is_used(f, v):
                yield ctx.diag(
                    "unused-input",
                    f"input {name!r} of function {f.name} is never used",
                    f=f,
                    hint="remove it (on the ANE each input costs a surface and a request slot)",
                )


@rule(
    "dead-op",
    severity="info",
    target="any",
    source="docs/internals/mil-format.md §7.5 (only returned variables are observable)",
    summary="ops whose outputs are never read nor returned (reported once per function)",
)
def dead_op(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        dead = [op for op in f.operations if op.outputs and not any(ctx.is_used(f, v) for v in op.outputs)]
        if dead:
            names = ", ".join(repr(op.name) for op in dead[:5]) + (" …" if len(dead) > 5 else "")
            yield ctx.diag(
                "dead-op",
                f"{len(dead)} op(s) of function {f.name} compute values nobody uses: {names}",
                f=f,
                op=dead[0],
                hint="remove them",
            )


@rule(
    "header-opset",
    severity="error",
    target="any",
    source="docs/internals/mil-format.md §3 (program(1.0) = ios15-17, program(1.3) = ios18) and §11 rule 2",
    summary="the program(…) header does not match a function's opset",
)
def header_opset(ctx: Context) -> Iterator[Diagnostic]:
    """ios18 under ``program(1.0)`` is an error (InvalidMILProgram, §11 rule 2); ios15-17 under
    ``program(1.3)`` is a warning (seen in third-party code, acceptance unknown, §3 [inferred]). Other header
    versions are reported by the parser (rule ``version``)."""
    version = _header_version(ctx)
    for f in ctx.functions():
        if f.opset not in OPSETS:
            continue  # reported by op-check
        is18 = opset_index(f.opset) >= opset_index("ios18")
        if version == "1.0" and is18:
            yield ctx.diag(
                "header-opset",
                f"function {f.name} is {f.opset} under a program(1.0) header; the ANE compiler "
                "rejects iOS18 code under program(1.0) (InvalidMILProgram)",
                f=f,
                hint="emit with dialect 'A' (program(1.3)) or lower the opset to ios17",
            )
        elif version == "1.3" and not is18:
            yield ctx.diag(
                "header-opset",
                f"function {f.name} is {f.opset} under a program(1.3) header; coremlc always writes "
                "program(1.0) for ios15-17 and whether the mix is accepted is unknown",
                f=f,
                severity="warning",
                hint="emit with dialect 'B' (program(1.0)) or use opset ios18",
            )


@rule(
    "ios18-syntax",
    severity="error",
    target="any",
    source="docs/internals/mil-format.md §3 (dialect table), §7.4 (inline constexpr arguments), §7.7 (state), §11 rule "
        "2",
    summary="iOS18-only syntax (inline op arguments, state<…> parameters) in a pre-iOS18 function",
)
def ios18_syntax(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        if f.opset not in OPSETS:
            continue
        if opset_index(f.opset) >= opset_index("ios18"):
            yield from _inline_outside_constexpr(ctx, f)
            continue
        for name, v in f.inputs.items():
            if isinstance(v.type, StateType):
                yield ctx.diag(
                    "ios18-syntax",
                    f"input {name!r} of {f.opset} function {f.name} is a state<…>; states exist from ios18",
                    f=f,
                )
        for op in f.operations:
            inline = [
                k
                for k, b in op.inputs.items()
                if isinstance(b, Value) or (isinstance(b, tuple) and any(isinstance(x, Value) for x in b))
            ]
            if inline:
                yield ctx.diag(
                    "ios18-syntax",
                    f"[{op.op_type} '{op.name}'] has inline literal arguments ({', '.join(inline)}) "
                    f"in a {f.opset} function; only iOS18 constexpr ops take inline arguments",
                    f=f,
                    op=op,
                    hint="bind the values to const ops (or use opset ios18)",
                )


def _inline_outside_constexpr(ctx: Context, f: Function) -> Iterator[Diagnostic]:
    """ios18: inline arguments are legal syntax but real files use them only for constexpr ops (§7.1)."""
    for op in f.operations:
        if op.op_type.startswith("constexpr_"):
            continue
        inline = [k for k, b in op.inputs.items() if isinstance(b, Value)]
        if inline:
            yield ctx.diag(
                "ios18-syntax",
                f"[{op.op_type} '{op.name}'] has inline literal arguments ({', '.join(inline)}); real "
                "files only inline the operands of iOS18 constexpr ops",
                f=f,
                op=op,
                severity="warning",
                hint="bind the values to const ops",
            )
