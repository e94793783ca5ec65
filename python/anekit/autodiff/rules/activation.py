"""Activations and softmax (``anekit.mil.ops.activation``).

GELU has one rule per MIL mode, each the exact derivative of the formula the reference executor evaluates for that
mode (``anekit.reference.kernels.activation``), so a tanh-approximation forward gets the tanh-approximation
gradient, as PyTorch's ``gelu(approximate="tanh")`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...errors import NotDifferentiableError
from ...mil import Operation, Var
from ..context import BackwardContext, first_cotangent
from ..registry import register_rule

__all__: list[str] = []

_GELU_TANH_C = math.sqrt(2.0 / math.pi)
_GELU_TANH_K = 0.044715
_GELU_SIGMOID_K = 1.702


def _one_minus(ctx: BackwardContext, v: Var) -> Var:
    return ctx.mb.add(x=ctx.scale(v, -1.0), y=ctx.scalar(1.0, v))


@register_rule("relu")
def _relu(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # relu'(x) = 1 for x > 0, else 0 (0 at 0, as in PyTorch)
    g, x = first_cotangent(cots), ctx.input(op, "x")
    positive = ctx.mb.greater(x=x, y=ctx.scalar(0.0, x))
    return {"x": ctx.mb.select(cond=positive, a=g, b=ctx.scalar(0.0, g))}


@register_rule("sigmoid")
def _sigmoid(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # s' = s (1 - s)
    s = ctx.primal(op.output)
    return {"x": ctx.mb.mul(x=first_cotangent(cots), y=ctx.mb.mul(x=s, y=_one_minus(ctx, s)))}


def _sigmoid_gate(ctx: BackwardContext, x: Var, k: float) -> Var:
    """d/dx [x sigmoid(k x)] = s (1 + k x (1 - s)) with s = sigmoid(k x)."""
    mb = ctx.mb
    s = mb.sigmoid(x=x if k == 1.0 else ctx.scale(x, k))
    inner = mb.mul(x=ctx.scale(x, k) if k != 1.0 else x, y=_one_minus(ctx, s))
    return mb.mul(x=s, y=mb.add(x=inner, y=ctx.scalar(1.0, x)))


@register_rule("silu")
def _silu(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    return {"x": ctx.mb.mul(x=first_cotangent(cots), y=_sigmoid_gate(ctx, ctx.input(op, "x"), 1.0))}


@register_rule("gelu")
def _gelu(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    mode = ctx.const(op, "mode")
    mode = "EXACT" if mode is None else str(np.asarray(mode).reshape(-1)[0])
    mb, x = ctx.mb, ctx.input(op, "x")
    if mode == "EXACT":
        # Phi(x) + x phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2, phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
        cdf = ctx.scale(mb.add(x=mb.erf(x=ctx.scale(x, 1.0 / math.sqrt(2.0))), y=ctx.scalar(1.0, x)), 0.5)
        pdf = ctx.scale(mb.exp(x=ctx.scale(mb.mul(x=x, y=x), -0.5)), 1.0 / math.sqrt(2.0 * math.pi))
        d = mb.add(x=cdf, y=mb.mul(x=x, y=pdf))
    elif mode == "TANH_APPROXIMATION":
        # y = x (1 + t) / 2, t = tanh(u), u = c (x + k x^3):
        # y' = (1 + t) / 2 + x (1 - t^2) c (1 + 3 k x^2) / 2
        x2 = mb.mul(x=x, y=x)
        u = ctx.scale(mb.add(x=x, y=mb.mul(x=ctx.scale(x2, _GELU_TANH_K), y=x)), _GELU_TANH_C)
        # tanh(u) = 2 sigmoid(2u) - 1: sigmoid is among the ops the ANE documentation shows running, tanh is not.
        t = mb.add(x=ctx.scale(mb.sigmoid(x=ctx.scale(u, 2.0)), 2.0), y=ctx.scalar(-1.0, u))
        half_one_plus_t = ctx.scale(mb.add(x=t, y=ctx.scalar(1.0, t)), 0.5)
        du = ctx.scale(mb.add(x=ctx.scale(x2, 3.0 * _GELU_TANH_K), y=ctx.scalar(1.0, x)), 0.5 * _GELU_TANH_C)
        sech2 = _one_minus(ctx, mb.mul(x=t, y=t))
        d = mb.add(x=half_one_plus_t, y=mb.mul(x=mb.mul(x=x, y=sech2), y=du))
    elif mode == "SIGMOID_APPROXIMATION":
        d = _sigmoid_gate(ctx, x, _GELU_SIGMOID_K)
    else:
        raise NotDifferentiableError(f"[gelu '{op.name}'] unknown mode {mode!r}")
    return {"x": mb.mul(x=first_cotangent(cots), y=d)}


@register_rule("softmax")
def _softmax(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    # dx = y (g - sum(g y, axis))
    mb, g, y = ctx.mb, first_cotangent(cots), ctx.primal(op.output)
    axis = ctx.const(op, "axis")
    axis = -1 if axis is None else int(np.asarray(axis).reshape(-1)[0])
    dot = mb.reduce_sum(x=mb.mul(x=g, y=y), axes=np.array([axis], np.int32), keep_dims=True)
    return {"x": mb.mul(x=y, y=mb.add(x=g, y=ctx.scale(dot, -1.0)))}
