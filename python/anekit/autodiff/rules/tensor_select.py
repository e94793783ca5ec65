"""``select``: the cotangent goes to ``a`` where ``cond`` holds and to ``b`` elsewhere (``cond`` carries none)."""

from __future__ import annotations

from collections.abc import Sequence

from ...mil import Operation, Var
from ..context import BackwardContext, first_cotangent, static_shape
from ..registry import register_rule

__all__: list[str] = []


@register_rule("select")
def _select(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    g = first_cotangent(cots)
    mb, cond, zero, out = ctx.mb, ctx.input(op, "cond"), ctx.scalar(0.0, g), {}
    if ctx.needs(op, "a"):
        out["a"] = ctx.sum_to(mb.select(cond=cond, a=g, b=zero), static_shape(op.inputs["a"]))  # type: ignore[arg-type]
    if ctx.needs(op, "b"):
        out["b"] = ctx.sum_to(mb.select(cond=cond, a=zero, b=g), static_shape(op.inputs["b"]))  # type: ignore[arg-type]
    return out
