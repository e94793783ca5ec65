"""``identity``: the cotangent passes through."""

from __future__ import annotations

from collections.abc import Sequence

from ...mil import Operation, Var
from ..context import BackwardContext, first_cotangent
from ..registry import register_rule

__all__: list[str] = []


@register_rule("identity")
def _identity(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    g = first_cotangent(cots)
    return {"x": g}
