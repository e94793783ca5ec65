"""Unary math ops (``anekit.mil.ops.unary``): each cotangent is ``g`` times the derivative, written with the
forward's output where that is cheaper than recomputing from the input (``exp``, ``sqrt``, ``rsqrt``, ``tanh``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...mil import Operation, Var
from ..context import BackwardContext, first_cotangent
from ..registry import register_rule

__all__: list[str] = []



def _eps(ctx: BackwardContext, op: Operation) -> float:
    e = ctx.const(op, "epsilon")
    return 0.0 if e is None else float(np.asarray(e).reshape(-1)[0])


@register_rule("exp")
def _exp(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    return {"x": ctx.mb.mul(x=first_cotangent(cots), y=ctx.primal(op.output))}


@register_rule("log")
def _log(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # log(x + eps)' = 1 / (x + eps)
    x = ctx.input(op, "x")
    eps = _eps(ctx, op)
    if eps:
        x = ctx.mb.add(x=x, y=ctx.scalar(eps, x))
    return {"x": ctx.divide(first_cotangent(cots), x)}


@register_rule("sqrt")
def _sqrt(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # sqrt(x)' = 0.5 / sqrt(x)
    return {"x": ctx.divide(ctx.scale(first_cotangent(cots), 0.5), ctx.primal(op.output))}


@register_rule("rsqrt")
def _rsqrt(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # ((x + eps)^-1/2)' = -1/2 (x + eps)^-3/2 = -1/2 y^3, multiplied onto g one factor at a time: y^3 alone
    # overflows fp16 for y > 40 (x < 6e-4) where the product with a small g does not.
    y, mb = ctx.primal(op.output), ctx.mb
    return {"x": mb.mul(x=mb.mul(x=mb.mul(x=ctx.scale(first_cotangent(cots), -0.5), y=y), y=y), y=y)}


@register_rule("inverse")
def _inverse(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # (1 / (x + eps))' = -y^2
    y, mb = ctx.primal(op.output), ctx.mb
    return {"x": mb.mul(x=mb.mul(x=ctx.scale(first_cotangent(cots), -1.0), y=y), y=y)}


@register_rule("tanh")
def _tanh(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # tanh' = 1 - y^2
    y = ctx.primal(op.output)
    one_minus = ctx.mb.add(x=ctx.scale(ctx.mb.mul(x=y, y=y), -1.0), y=ctx.scalar(1.0, y))
    return {"x": ctx.mb.mul(x=first_cotangent(cots), y=one_minus)}


@register_rule("abs")
def _abs(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # |x|' = sign(x) (0 at 0, as in PyTorch)
    return {"x": ctx.mb.mul(x=first_cotangent(cots), y=ctx.mb.sign(x=ctx.input(op, "x")))}


@register_rule("square")
def _square(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    return {"x": ctx.mb.mul(x=first_cotangent(cots), y=ctx.scale(ctx.input(op, "x"), 2.0))}


@register_rule("sin")
def _sin(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    return {"x": ctx.mb.mul(x=first_cotangent(cots), y=ctx.mb.cos(x=ctx.input(op, "x")))}


@register_rule("cos")
def _cos(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    return {"x": ctx.mb.mul(x=first_cotangent(cots), y=ctx.scale(ctx.mb.sin(x=ctx.input(op, "x")), -1.0))}


@register_rule("erf")
def _erf(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # erf' = 2/sqrt(pi) exp(-x^2)
    x = ctx.input(op, "x")
    e = ctx.mb.exp(x=ctx.scale(ctx.mb.mul(x=x, y=x), -1.0))
    return {"x": ctx.mb.mul(x=first_cotangent(cots), y=ctx.scale(e, 2.0 / math.sqrt(math.pi)))}


@register_rule("clip")
def _clip(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # The gradient passes where alpha <= x <= beta (PyTorch's clamp).
    mb, x, g = ctx.mb, ctx.input(op, "x"), first_cotangent(cots)
    inside = mb.logical_and(
        x=mb.greater_equal(x=x, y=ctx.input(op, "alpha")), y=mb.less_equal(x=x, y=ctx.input(op, "beta"))
    )
    return {"x": mb.select(cond=inside, a=g, b=ctx.scalar(0.0, g))}


@register_rule("cast")
def _cast(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # Only float -> float casts reach a rule (integer values carry no gradient); the cotangent is cast back.
    dt = op.inputs["x"].type.dtype  # type: ignore[union-attr]
    g = first_cotangent(cots)
    return {"x": g if g.type.dtype == dt else ctx.mb.cast(x=g, dtype=dt.name)}  # type: ignore[union-attr]
