"""``layer_norm``: the cotangent of ``x`` (``gamma`` and ``beta`` are compile-time constants in MIL).

With ``x̂ = (x - μ) r``, ``r = (σ² + ε)^-1/2`` over the normalised axes (``N`` elements) and ``ĝ = g γ``:
``dx = r (ĝ - mean(ĝ) - x̂ mean(ĝ x̂))``. ``x̂`` and ``r`` are
recomputed in the backward from ``x`` (a few elementwise ops and two ``reduce_sum``; means are ``reduce_sum`` times
``1/N``, since ``reduce_mean`` is disputed on the ANE, docs/internals/mil-format.md §11 rule 12).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...mil import Operation, Var
from ..context import BackwardContext, first_cotangent, static_shape
from ..registry import register_rule

__all__: list[str] = []


@register_rule("layer_norm")
def _layer_norm(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    g = first_cotangent(cots)
    mb = ctx.mb
    xshape = static_shape(op.inputs["x"], f"layer_norm '{op.name}' input x")  # type: ignore[arg-type]
    rank = len(xshape)
    a = ctx.const(op, "axes")
    axes = list(range(rank)) if a is None else sorted({int(i) % rank for i in np.asarray(a).reshape(-1)})
    ax = np.array(axes, np.int32)
    count = float(np.prod([xshape[i] for i in axes]))
    eps = ctx.const(op, "epsilon")
    eps = 1e-5 if eps is None else float(np.asarray(eps).reshape(-1)[0])
    param_shape = tuple(xshape[i] if i in axes else 1 for i in range(rank))

    def mean(v: Var) -> Var:
        return ctx.scale(mb.reduce_sum(x=v, axes=ax, keep_dims=True), 1.0 / count)

    x = ctx.input(op, "x")
    xc = mb.add(x=x, y=ctx.scale(mean(x), -1.0))
    r = mb.pow(x=mb.add(x=mean(mb.mul(x=xc, y=xc)), y=ctx.scalar(eps, x)), y=ctx.scalar(-0.5, x))
    xhat = mb.mul(x=xc, y=r)
    gh = g
    gamma = ctx.const(op, "gamma")
    if gamma is not None:  # a compile-time constant (MIL requires it): folded to the broadcast shape here
        gh = mb.mul(x=g, y=np.ascontiguousarray(np.asarray(gamma).reshape(param_shape)))
    inner = mb.add(
        x=mb.add(x=gh, y=ctx.scale(mean(gh), -1.0)),
        y=ctx.scale(mb.mul(x=xhat, y=mean(mb.mul(x=gh, y=xhat))), -1.0),
    )
    return {"x": mb.mul(x=r, y=inner)}
