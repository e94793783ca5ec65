"""The validator's rule registry and the per-run context rules read (see :mod:`anekit.mil.validate`).

A rule is a function ``check(ctx) -> Iterable[Diagnostic]`` registered with :func:`rule` under a unique id, a
default severity, the target it applies to (``"any"``: every program; ``"ane"``: only when validating for the
Neural Engine) and the document section the fact comes from. The registry is filled once, when the rule
modules are imported, and never changes afterwards (no run-time mutable state).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from ...errors import MILError
from ..diagnostics import SEVERITIES, Diagnostic
from ..ir import Binding, Function, Operation, Program, Var
from ..types import StateType, TensorType, Type
from ..values import Value

if TYPE_CHECKING:
    from ..analysis.summary import ProgramSummary

__all__ = ["RULES", "TARGETS", "Context", "Rule", "rule"]

#: The ``program(<version>)`` header at the start of MIL text, after blank lines and ``//`` comments (§4).
_HEADER = re.compile(r"\A(?:\s|//[^\n]*)*program\s*\(\s*([0-9.]+)\s*\)")

#: Validation targets: ``any`` checks that a program is well formed; ``ane`` adds the Neural Engine rules.
TARGETS: tuple[str, ...] = ("any", "ane")


@dataclass(frozen=True)
class Rule:
    """One validator rule.

    Attributes:
        id: the rule id carried by its diagnostics (``"ane-io-dtype"``).
        severity: default severity of its findings (a rule may report a finding at another severity when the
            same fact is more or less severe in a given situation; the docstring says when).
        target: ``"any"`` or ``"ane"``.
        source: where the fact comes from (document and section).
        summary: one line describing what is checked.
        check: yields the findings for a :class:`Context`.
    """

    id: str
    severity: str
    target: str
    source: str
    summary: str
    check: Callable[[Context], Iterable[Diagnostic]]


#: Every rule by id, in registration order. Filled at import of the rule modules.
RULES: dict[str, Rule] = {}


def rule(
    rule_id: str, *, severity: str, target: str, source: str, summary: str
) -> Callable[[Callable[[Context], Iterable[Diagnostic]]], Callable[[Context], Iterable[Diagnostic]]]:
    """Register a rule function (a duplicate id is a programming error and raises RuntimeError)."""
    if severity not in SEVERITIES or target not in TARGETS:
        raise RuntimeError(f"rule {rule_id!r}: bad severity {severity!r} or target {target!r}")

    def wrap(fn: Callable[[Context], Iterable[Diagnostic]]) -> Callable[[Context], Iterable[Diagnostic]]:
        if rule_id in RULES:
            raise RuntimeError(f"validator rule {rule_id!r} registered twice")
        RULES[rule_id] = Rule(rule_id, severity, target, source, summary, fn)
        return fn

    return wrap


class Context:
    """What a rule sees: the program, the target, and cached per-function indexes.

    Args:
        program: the program being validated.
        target: ``"any"`` or ``"ane"``.
        text: the MIL source the program was parsed from, when known (for text-level rules).
    """

    __slots__ = ("_consumers", "_summary", "program", "target", "text")

    def __init__(self, program: Program, target: str, text: str | None = None) -> None:
        self.program = program
        self.target = target
        self.text = text
        self._consumers: dict[str, dict[int, list[tuple[Operation, str]]]] = {}
        self._summary: ProgramSummary | None = None

    def text_header(self) -> str | None:
        """The version in the ``program(…)`` header of :attr:`text` (``"1.0"``, ``"1.3"`` …), None without text.

        The header of the text decides how the ANE compiler reads it, whatever the IR's ``version`` says
        (a built program has none; a program may be validated against a text written in another dialect).
        """
        if self.text is None:
            return None
        m = _HEADER.match(self.text)
        return None if m is None else m.group(1)

    def summary(self) -> ProgramSummary:
        """The program's :func:`~anekit.mil.analysis.summary.summarize` result, computed once per run."""
        if self._summary is None:
            from ..analysis.summary import summarize  # summary imports this module

            self._summary = summarize(self.program)
        return self._summary

    # ------------------------------------------------------------------ iteration
    def functions(self) -> Iterator[Function]:
        yield from self.program.functions.values()

    def consumers(self, f: Function, v: Var) -> list[tuple[Operation, str]]:
        """The ``(op, input name)`` pairs of ``f`` that read ``v`` (by identity)."""
        index = self._consumers.get(f.name)
        if index is None:
            index = {}
            for op in f.operations:
                for k, b in op.inputs.items():
                    for x in b if isinstance(b, tuple) else (b,):
                        if isinstance(x, Var):
                            index.setdefault(id(x), []).append((op, k))
            self._consumers[f.name] = index
        return index.get(id(v), [])

    def is_used(self, f: Function, v: Var) -> bool:
        """Whether ``v`` is read by an op of ``f`` or returned by it."""
        return bool(self.consumers(f, v)) or any(o is v for o in f.outputs)

    # ------------------------------------------------------------------ findings
    def diag(
        self,
        rule_id: str,
        message: str,
        *,
        f: Function | None = None,
        op: Operation | None = None,
        severity: str | None = None,
        hint: str | None = None,
    ) -> Diagnostic:
        """A :class:`Diagnostic` of rule ``rule_id`` located at ``op`` (or at function ``f``)."""
        r = RULES[rule_id]
        return Diagnostic(
            rule_id,
            severity or r.severity,
            message,
            op.name if op is not None else None,
            f.name if f is not None else None,
            op.line if op is not None else None,
            hint,
        )


# ---------------------------------------------------------------------- helpers shared by rule modules
def tensor_of(t: Type | None) -> TensorType | None:
    """The tensor type of ``t`` (unwrapping states), or None for composite types."""
    if isinstance(t, StateType):
        return t.wrapped
    return t if isinstance(t, TensorType) else None


def binding_type(b: Binding | None) -> TensorType | None:
    """The tensor type of a single (non-tuple) binding, else None."""
    if isinstance(b, (Var, Value)):
        return tensor_of(b.type)
    return None


def is_runtime(b: Binding | None) -> TypeGuard[Var]:
    """Whether ``b`` is a run-time variable: a function input or the output of a computing op.

    Outputs of ``const`` and ``constexpr_*`` ops are compile-time constants (docs/internals/mil-format.md §7.2, §7.4).
    """
    return isinstance(b, Var) and (b.op is None or not b.op.op_type.startswith("const"))


def known_value(op: Operation, name: str) -> Any:
    """Compile-time data of input or attribute ``name`` when it is in memory; None otherwise.

    Never reads a weight blob (validation must work on a bare ``model.mil`` without its weights, and must not
    pull megabytes of weights into memory to look at a scalar).
    """
    b = op.inputs.get(name)
    val: Value | None = None
    if isinstance(b, Var):
        if b.op is not None and b.op.op_type == "const":
            val = b.op.attrs.get("val")
    elif isinstance(b, Value):
        val = b
    elif b is None:
        val = op.attrs.get(name)
    if val is None or not val.is_loaded:
        return None
    try:
        return val.data
    except MILError:
        return None


def fmt_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"`` (binary units: the docs' "MB" of weights are MiB, e.g. 2048² fp16 = 8 MB)."""
    for unit in ("B", "KiB", "MiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
