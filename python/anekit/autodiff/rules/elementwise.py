"""Binary elementwise ops with numpy broadcasting: each cotangent is summed back over the axes it was broadcast
along (:meth:`~anekit.autodiff.context.BackwardContext.sum_to`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...mil import Operation, Var
from ..context import BackwardContext, first_cotangent, static_shape
from ..registry import register_rule

__all__: list[str] = []


def _shape(op: Operation, name: str) -> tuple[int, ...]:
    return static_shape(op.inputs[name], f"{op.op_type} '{op.name}' input {name}")  # type: ignore[arg-type]


@register_rule("add", "sub")
def _add_sub(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    g = first_cotangent(cots)
    out: dict[str, Var] = {}
    if ctx.needs(op, "x"):
        out["x"] = ctx.sum_to(g, _shape(op, "x"))
    if ctx.needs(op, "y"):
        gy = ctx.sum_to(g, _shape(op, "y"))
        out["y"] = ctx.scale(gy, -1.0) if op.op_type == "sub" else gy
    return out


@register_rule("mul")
def _mul(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    g = first_cotangent(cots)
    mb, out = ctx.mb, {}
    if ctx.needs(op, "x"):
        out["x"] = ctx.sum_to(mb.mul(x=g, y=ctx.input(op, "y")), _shape(op, "x"))
    if ctx.needs(op, "y"):
        out["y"] = ctx.sum_to(mb.mul(x=g, y=ctx.input(op, "x")), _shape(op, "y"))
    return out


@register_rule("real_div")
def _real_div(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # z = x / y: dx = g / y, dy = -g x / y^2 = -(g / y) z.
    g = first_cotangent(cots)
    mb, out = ctx.mb, {}
    g_over_y = ctx.divide(g, ctx.input(op, "y"))
    if ctx.needs(op, "x"):
        out["x"] = ctx.sum_to(g_over_y, _shape(op, "x"))
    if ctx.needs(op, "y"):
        gy = mb.mul(x=g_over_y, y=ctx.primal(op.output))
        out["y"] = ctx.scale(ctx.sum_to(gy, _shape(op, "y")), -1.0)
    return out


@register_rule("pow")
def _pow(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    """z = x^y: dx = g y x^(y-1); dy = g z log(x) (defined for x > 0 only, as in PyTorch).

    For a constant exponent y < 1, dx is ``(g y) z / x``: ``x^(y-1)`` on its own overflows fp16 where the gradient
    does not (``pow(v, -0.5)``'s ``v^-1.5`` is infinite for ``v < 6e-4``, and a zero cotangent times it is NaN).
    For y >= 1, ``x^(y-1)`` is bounded by ``|x|`` and ``x`` may be 0.
    """
    g = first_cotangent(cots)
    mb, out = ctx.mb, {}
    if ctx.needs(op, "x"):
        x = ctx.input(op, "x")
        y_const = ctx.const(op, "y")
        if y_const is None:
            y = ctx.input(op, "y")
            d = mb.mul(x=mb.mul(x=g, y=y), y=mb.pow(x=x, y=mb.add(x=y, y=ctx.scalar(-1.0, y))))
        else:
            y = np.asarray(y_const)
            if y.size == 1 and float(y.reshape(-1)[0]) == 1.0:
                d = g
            elif y.size == 1 and float(y.reshape(-1)[0]) == 2.0:
                d = mb.mul(x=g, y=ctx.scale(x, 2.0))
            elif np.all(y >= 1):
                y1 = (y.astype(np.float64) - 1.0).astype(y.dtype)
                d = mb.mul(x=mb.mul(x=g, y=y), y=mb.pow(x=x, y=y1))
            else:
                d = ctx.divide(mb.mul(x=mb.mul(x=g, y=y), y=ctx.primal(op.output)), x)
        out["x"] = ctx.sum_to(d, _shape(op, "x"))
    if ctx.needs(op, "y"):
        d = mb.mul(x=mb.mul(x=g, y=ctx.primal(op.output)), y=mb.log(x=ctx.input(op, "x")))
        out["y"] = ctx.sum_to(d, _shape(op, "y"))
    return out


@register_rule("maximum", "minimum")
def _max_min(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # The gradient goes to the operand that was chosen; on a tie, to x (PyTorch splits ties evenly: compare away
    # from ties).
    g = first_cotangent(cots)
    mb, out = ctx.mb, {}
    x, y = ctx.input(op, "x"), ctx.input(op, "y")
    picks_x = mb.greater_equal(x=x, y=y) if op.op_type == "maximum" else mb.less_equal(x=x, y=y)
    zero = ctx.scalar(0.0, g)
    if ctx.needs(op, "x"):
        out["x"] = ctx.sum_to(mb.select(cond=picks_x, a=g, b=zero), _shape(op, "x"))
    if ctx.needs(op, "y"):
        out["y"] = ctx.sum_to(mb.select(cond=picks_x, a=zero, b=g), _shape(op, "y"))
    return out
