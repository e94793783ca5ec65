"""SSA names of a function being built, and the rollback of a failed op insertion.

:class:`NameScope` is the base of :class:`~anekit.mil.builder.builder.Builder`: it owns the :class:`Function`, its
variables by name, the op names, the per-prefix counters of generated names (``conv_0``, ``conv_0_weight_0``
…) and a journal of what the current insertion claimed, so that a failed insertion releases exactly its own
names and leaves the function as it was (:meth:`NameScope._begin` / :meth:`NameScope._rollback`). It also
checks that variables belong to the function and names the function's outputs (:meth:`NameScope._outputs`).

Generated names depend only on what the builder did before (no global counters), so the same code always
produces the same text, and two builders never interfere (docs/internals/architecture.md §5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import MILError
from ..ir import DUPLICATE_OUTPUT_HINT, Function, Operation, Var, duplicate_output_message
from ..types import Type
from ..values import Value

__all__ = ["NameScope", "check_ident"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_@]*\Z")


def check_ident(name: Any, what: str) -> None:
    """Raise MILError unless ``name`` is a MIL identifier (``what`` names it in the message)."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise MILError(f"{what} {name!r} is not a valid MIL identifier ([A-Za-z_][A-Za-z0-9_@]*)")


class NameScope:
    """Names, variables and insertion journal of one function (see the module docstring).

    Args:
        fn: the (empty) function the names belong to.
    """

    __slots__ = ("_counters", "_finished", "_fn", "_journal", "_names", "_vars")

    def __init__(self, fn: Function) -> None:
        self._fn = fn
        self._vars: dict[str, Var] = {}
        self._names: set[str] = set()
        self._counters: dict[str, int] = {}
        # Op and variable names claimed, in order, so a failed insertion can release exactly its own names.
        self._journal: list[tuple[Any, ...]] = []
        self._finished = False

    def _check_open(self) -> None:
        if self._finished:
            raise MILError(
                f"builder of function {self._fn.name!r} is finished (function()/build() was called); "
                "start a new Builder"
            )

    def _fresh(self, prefix: str, taken: set[str] | dict[str, Any]) -> str:
        old = self._counters.get(prefix)
        n = old or 0
        while f"{prefix}_{n}" in taken:
            n += 1
        self._counters[prefix] = n + 1
        self._journal.append(("counter", prefix, old))
        return f"{prefix}_{n}"

    def _claim_op_name(self, name: str | None, prefix: str) -> str:
        self._check_open()
        if name is None:
            name = self._fresh(prefix, self._names)
        else:
            check_ident(name, "op name")
            if name in self._names:
                raise MILError(f"op name {name!r} is already used in function {self._fn.name}")
        self._names.add(name)
        self._journal.append(("op", name))
        return name

    def _new_var(self, name: str, t: Type, *, strict: bool = False) -> Var:
        if name in self._vars:
            if strict:
                raise MILError(f"variable name {name!r} is already used in function {self._fn.name}")
            name = self._fresh(name, self._vars)
        v = Var(name, t)
        self._vars[name] = v
        self._journal.append(("var", name))
        return v

    def _auto_const(self, prefix: str, value: Value) -> Var:
        """Add a ``const`` named ``<prefix>_N`` holding ``value``; returns its output.

        The same as ``_claim_op_name(None, prefix)``, ``_new_var`` and ``Operation.const_op``, usually with a
        single journal entry: op inputs become hundreds of these per program. Only called while an op is being
        added, i.e. after the op's own name was claimed on an open builder.
        """
        counters, names, variables = self._counters, self._names, self._vars
        old = counters.get(prefix)
        n = old or 0
        name = f"{prefix}_{n}"
        while name in names:
            n += 1
            name = f"{prefix}_{n}"
        counters[prefix] = n + 1
        names.add(name)
        if name in variables:
            # Rare (the generated op name is some other variable's name): the general path, whose journal
            # entries keep their chronological order for the rollback.
            self._journal += (("counter", prefix, old), ("op", name))
            out = self._new_var(name, value.type)
        else:
            out = variables[name] = Var(name, value.type)
            self._journal.append(("const", name, prefix, old))
        self._fn.operations.append(Operation.const_op(name, value, out))
        return out

    def _begin(self) -> int:
        """Start an insertion: earlier entries are dropped (they only serve a rollback); returns the op count."""
        self._journal.clear()
        return len(self._fn.operations)

    def _rollback(self, n_ops: int) -> None:
        """Undo the insertion begun when the function had ``n_ops`` operations: its ops, names and counters."""
        del self._fn.operations[n_ops:]
        for entry in reversed(self._journal):
            kind = entry[0]
            if kind == "op":
                self._names.discard(entry[1])
            elif kind == "var":
                self._vars.pop(entry[1], None)
            else:
                if kind == "const":  # ("const", name, prefix, old counter) from _auto_const
                    self._vars.pop(entry[1], None)
                    self._names.discard(entry[1])
                prefix, old = entry[-2], entry[-1]  # "counter" entries: ("counter", prefix, old counter)
                if old is None:
                    self._counters.pop(prefix, None)
                else:
                    self._counters[prefix] = old
        self._journal.clear()

    # ------------------------------------------------------------------ variables and outputs
    def _own(self, v: Var, where: str) -> Var:
        if self._vars.get(v.name) is not v:
            raise MILError(f"{where}: variable {v.name!r} does not belong to this builder's function")
        return v

    def _outputs(self, outputs: Any) -> list[Var]:
        # A variable returned twice is refused before anything (e.g. a dict's renaming) happens.
        if isinstance(outputs, Mapping):
            given = list(outputs.values())
        elif isinstance(outputs, Sequence) and not isinstance(outputs, str):
            given = list(outputs)
        else:
            given = []
        for i, v in enumerate(given):
            if isinstance(v, Var) and any(w is v for w in given[:i]):
                raise MILError(f"{duplicate_output_message(v.name)}; {DUPLICATE_OUTPUT_HINT}")
        return self._output_list(outputs)

    def _output_list(self, outputs: Any) -> list[Var]:
        if isinstance(outputs, Var):
            return [self._own(outputs, "output")]
        if isinstance(outputs, Mapping):
            out = []
            for key, v in outputs.items():
                check_ident(key, "output name")
                self._own(v, "output")
                if v.name != key:
                    if v.op is None:
                        raise MILError(f"cannot rename function input {v.name!r} to output name {key!r}")
                    if key in self._vars:
                        raise MILError(f"output name {key!r} is already used by another variable")
                    del self._vars[v.name]
                    v.name = key
                    self._vars[key] = v
                out.append(v)
            return out
        if isinstance(outputs, Sequence) and not isinstance(outputs, str):
            return [self._own(v, "output") if isinstance(v, Var) else _bad_output(v) for v in outputs]
        return [_bad_output(outputs)]


def _bad_output(v: Any) -> Var:
    raise MILError(f"function outputs must be Vars, got {type(v).__name__}")
