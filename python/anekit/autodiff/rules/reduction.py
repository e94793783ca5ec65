"""Reductions (``anekit.mil.ops.reduction``): the cotangent is broadcast back over the reduced axes.

``reduce_mean``'s cotangent is scaled by ``1/N`` before it is broadcast (the scale then touches the small tensor),
and the broadcast is a ``mul`` by a ones constant shaped like the reduced axes
(:meth:`~anekit.autodiff.context.BackwardContext.broadcast_to`). ``reduce_max``/``reduce_min`` send the cotangent
to every element equal to the extreme (PyTorch's ``amax``/``amin`` split it evenly among ties instead; with
distinct values the two agree).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...mil import Operation, Var
from ..context import BackwardContext, first_cotangent, static_shape
from ..registry import register_rule

__all__: list[str] = []


def _axes(ctx: BackwardContext, op: Operation, rank: int) -> list[int]:
    a = ctx.const(op, "axes")
    if a is None:
        return list(range(rank))
    return sorted({int(i) % rank for i in np.asarray(a).reshape(-1)})


def _kept(ctx: BackwardContext, op: Operation, v: Var) -> tuple[Var, tuple[int, ...], list[int]]:
    """``v`` (shaped like the op's output) reshaped to the keep-dims shape; the input shape; the reduced axes."""
    xshape = static_shape(op.inputs["x"], f"{op.op_type} '{op.name}' input x")  # type: ignore[arg-type]
    axes = _axes(ctx, op, len(xshape))
    kept = tuple(1 if i in axes else d for i, d in enumerate(xshape))
    if static_shape(v) != kept:
        v = ctx.mb.reshape(x=v, shape=np.array(kept, np.int32))
    return v, xshape, axes


@register_rule("reduce_sum", "reduce_mean")
def _reduce_sum(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    g = first_cotangent(cots)
    g, xshape, axes = _kept(ctx, op, g)
    if op.op_type == "reduce_mean":
        g = ctx.scale(g, 1.0 / float(np.prod([xshape[i] for i in axes])))
    return {"x": ctx.broadcast_to(g, xshape)}


@register_rule("reduce_max", "reduce_min")
def _reduce_extreme(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    g = first_cotangent(cots)
    g, _, _ = _kept(ctx, op, g)
    y, _, _ = _kept(ctx, op, ctx.primal(op.output))
    hit = ctx.mb.equal(x=ctx.input(op, "x"), y=y)
    return {"x": ctx.mb.select(cond=hit, a=g, b=ctx.scalar(0.0, g))}


@register_rule("reduce_sum_square")
def _reduce_sum_square(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    g = first_cotangent(cots)
    g, _, _ = _kept(ctx, op, g)
    return {"x": ctx.mb.mul(x=ctx.scale(ctx.input(op, "x"), 2.0), y=g)}


@register_rule("reduce_l2_norm")
def _reduce_l2_norm(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # d|x| = x / |x|
    g = first_cotangent(cots)
    g, _, _ = _kept(ctx, op, g)
    y, _, _ = _kept(ctx, op, ctx.primal(op.output))
    return {"x": ctx.mb.mul(x=ctx.input(op, "x"), y=ctx.divide(g, y))}


@register_rule("reduce_log_sum_exp")
def _reduce_log_sum_exp(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # d lse = softmax(x) = exp(x - lse)
    g = first_cotangent(cots)
    g, _, _ = _kept(ctx, op, g)
    y, _, _ = _kept(ctx, op, ctx.primal(op.output))
    p = ctx.mb.exp(x=ctx.mb.add(x=ctx.input(op, "x"), y=ctx.scale(y, -1.0)))
    return {"x": ctx.mb.mul(x=p, y=g)}
