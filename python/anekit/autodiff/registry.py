"""The VJP rule registry: one rule per MIL op type, registered by the modules of :mod:`anekit.autodiff.rules`.

A rule receives the :class:`~anekit.autodiff.context.BackwardContext`, the forward :class:`~anekit.mil.Operation` and
one cotangent per forward output (a backward-program :class:`~anekit.mil.Var`, or ``None`` when no gradient reaches
that output), and returns the cotangent of each op input that needs one, keyed by MIL input name. A rule only
computes the inputs for which ``ctx.needs(op, name)`` is true; inputs it leaves out receive nothing. Rules emit MIL
with ``ctx.mb`` (the backward builder) and read forward values with ``ctx.primal`` / ``ctx.input``, so the same
rule works whether the forward values are recomputed or saved (see :mod:`anekit.autodiff`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import MILError
from ..mil import Operation, Var

if TYPE_CHECKING:
    from .context import BackwardContext

__all__ = ["RULES", "Rule", "register_rule", "supported_ops"]

#: ``rule(ctx, op, cotangents) -> {input name: cotangent Var}``.
Rule = Callable[["BackwardContext", Operation, Sequence["Var | None"]], "dict[str, Var]"]

#: MIL op type -> VJP rule. Filled at import of :mod:`anekit.autodiff.rules`.
RULES: dict[str, Rule] = {}


def register_rule(*op_types: str, replace: bool = False) -> Callable[[Rule], Rule]:
    """Decorator registering a VJP rule for one or more MIL op types.

    Args:
        op_types: the MIL op names the rule differentiates.
        replace: allow replacing an existing rule (a second registration is otherwise a bug and raises).

    Raises:
        MILError: an op type that is not a registered MIL op, or already has a rule and ``replace`` is false.
    """
    from ..mil.ops import OP_REGISTRY

    if not op_types:
        raise MILError("register_rule: name at least one MIL op type")
    for t in op_types:
        if t not in OP_REGISTRY:
            raise MILError(f"register_rule: {t!r} is not a MIL op (see anekit.mil.ops())")
        if t in RULES and not replace:
            raise MILError(f"register_rule: op {t!r} already has a VJP rule; pass replace=True to override it")

    def wrap(fn: Rule) -> Rule:
        if not callable(fn):
            raise TypeError(f"register_rule: a rule must be callable (ctx, op, cotangents), not {type(fn).__name__}")
        for t in op_types:
            RULES[t] = fn
        return fn

    return wrap


def supported_ops() -> frozenset[str]:
    """The MIL op types :func:`anekit.autodiff.vjp` can differentiate through (``const`` included)."""
    return frozenset(RULES) | {"const"}
