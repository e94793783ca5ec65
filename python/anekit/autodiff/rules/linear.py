"""``matmul`` (every ``transpose_x``/``transpose_y`` combination, batch broadcasting) and ``linear``.

For ``z = op(X) @ op(Y)`` with ``op`` the optional transpose of the last two axes, the cotangents are again single
matmuls with transpose flags (no separate ``transpose`` op), then summed over broadcast batch axes:

====== ====== ======================== ========================
tx     ty     dX                       dY
====== ====== ======================== ========================
false  false  g @ Y^T                  X^T @ g
true   false  Y @ g^T                  X @ g
false  true   g @ Y                    g^T @ X
true   true   Y^T @ g^T                g^T @ X^T
====== ====== ======================== ========================

The inner dimension of ``dY = X^T @ g`` is the forward's row count (the sequence length for a linear layer), so the
ANE's multiple-of-32 rule for matmul inner dimensions (docs/internals/mil-format.md §11 rule 14) applies to it too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...errors import NotDifferentiableError
from ...mil import Operation, Var
from ..context import BackwardContext, first_cotangent, static_shape
from ..registry import register_rule

__all__: list[str] = []


def _flag(ctx: BackwardContext, op: Operation, name: str) -> bool:
    v = ctx.const(op, name)
    return bool(np.asarray(v)) if v is not None else False


@register_rule("matmul")
def _matmul(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    g = first_cotangent(cots)
    xs = static_shape(op.inputs["x"], f"matmul '{op.name}' input x")  # type: ignore[arg-type]
    ys = static_shape(op.inputs["y"], f"matmul '{op.name}' input y")  # type: ignore[arg-type]
    if len(xs) < 2 or len(ys) < 2:
        raise NotDifferentiableError(
            f"[matmul '{op.name}'] output {op.output.name}: rank-1 operands have no VJP rule; reshape them to rank 2"
        )
    tx, ty = _flag(ctx, op, "transpose_x"), _flag(ctx, op, "transpose_y")
    mb, out = ctx.mb, {}
    if ctx.needs(op, "x"):
        y = ctx.input(op, "y")
        if not tx:
            dx = mb.matmul(x=g, y=y, transpose_x=False, transpose_y=not ty)
        else:
            dx = mb.matmul(x=y, y=g, transpose_x=ty, transpose_y=True)
        out["x"] = ctx.sum_to(dx, xs)
    if ctx.needs(op, "y"):
        x = ctx.input(op, "x")
        if not ty:
            dy = mb.matmul(x=x, y=g, transpose_x=not tx, transpose_y=False)
        else:
            dy = mb.matmul(x=g, y=x, transpose_x=True, transpose_y=tx)
        out["y"] = ctx.sum_to(dy, ys)
    return out


@register_rule("linear")
def _linear(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # z = x W^T + b with W, b compile-time constants: dx = g W, as a linear with the constant weight W^T.
    g = first_cotangent(cots)
    w = ctx.const(op, "weight")
    if w is None:
        raise NotDifferentiableError(f"[linear '{op.name}'] weight is not a compile-time constant")
    wt = np.ascontiguousarray(np.asarray(w).T)
    return {"x": ctx.mb.linear(x=g, weight=wt)}
