"""``identity``: the cotangent passes through."""

from __future__ import annotations

from collections.abc import Sequence

from ...mil import Operation, Var
from ..context import BackwardContext
from ..registry import register_rule

__all__: list[str] = []


@register_rule("identity")
def _identity(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    g = cots[0]
    assert g is not None
    return {"x": g}
