"""Shape ops (``anekit.mil.ops.tensor_shape``): the cotangent is reshaped, transposed back, sliced apart (concat)
or joined (split)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...errors import NotDifferentiableError
from ...mil import Operation, Var
from ..context import BackwardContext, first_cotangent, static_shape
from ..registry import register_rule

__all__: list[str] = []


@register_rule("reshape", "expand_dims", "squeeze")
def _reshape(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    shape = static_shape(op.inputs["x"], f"{op.op_type} '{op.name}' input x")  # type: ignore[arg-type]
    return {"x": ctx.mb.reshape(x=first_cotangent(cots), shape=np.array(shape, np.int32))}


@register_rule("transpose")
def _transpose(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    perm = [int(p) for p in np.asarray(ctx.const(op, "perm")).reshape(-1)]
    rank = len(perm)
    inverse = np.argsort([p % rank for p in perm]).astype(np.int32)
    return {"x": ctx.mb.transpose(x=first_cotangent(cots), perm=inverse)}


@register_rule("concat")
def _concat(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    values = op.inputs["values"]
    if not isinstance(values, tuple):
        raise NotDifferentiableError(f"[concat '{op.name}'] values is not a tuple of variables")
    if bool(np.asarray(ctx.const(op, "interleave") or False)):
        raise NotDifferentiableError(
            f"[concat '{op.name}'] interleave=True has no VJP rule; concatenate without interleaving"
        )
    g = first_cotangent(cots)
    rank = len(static_shape(g))
    axis = int(np.asarray(ctx.const(op, "axis"))) % rank
    # The cotangent of the tuple input "values": one slice per member that needs one (None for the others).
    begin = 0
    parts: list[Var | None] = []
    for v in values:
        shape = static_shape(v) if isinstance(v, Var) else tuple(np.shape(v.data))
        start = [0] * rank
        start[axis] = begin
        if isinstance(v, Var) and ctx.is_differentiable(v):
            size = np.array(shape, np.int32)
            parts.append(ctx.mb.slice_by_size(x=g, begin=np.array(start, np.int32), size=size))
        else:
            parts.append(None)
        begin += shape[axis]
    return {"values": tuple(parts)}  # type: ignore[dict-item]


@register_rule("split")
def _split(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    parts = [g if g is not None else ctx.zeros(v) for g, v in zip(cots, op.outputs, strict=True)]
    rank = len(static_shape(parts[0]))
    axis = int(np.asarray(ctx.const(op, "axis"))) % rank
    if len(parts) == 1:
        return {"x": parts[0]}
    return {"x": ctx.mb.concat(values=tuple(parts), axis=np.int32(axis), interleave=False)}
