"""Indexing ops (``anekit.mil.ops.tensor_index``).

Slices: the cotangent is placed back into zeros with ``concat`` (:meth:`~anekit.autodiff.context.BackwardContext.
embed`); only contiguous (stride 1) slices have a rule.

``gather`` (an embedding lookup, ``axis=0``): the table's cotangent is ``onehot(indices)^T @ g``, a ``matmul``
with a one-hot matrix built from ``equal`` against a constant ``0..V-1`` row and ``select``. The alternative, a
scatter-add (``scatter`` with ``mode="add"``), is not among the ops the ANE documentation shows running, while
``matmul`` is (docs/internals/mil-format.md §8.5, §10.1); the one-hot product costs ``2·N·V·D`` FLOPs, which the
ANE's matmul throughput absorbs for training-sized vocabularies, and its inner dimension is the token count ``N``
(keep it a multiple of 32, docs/internals/mil-format.md §11 rule 14). The one-hot itself needs a comparison
(``equal``/``select`` are not documented ANE ops either); an arithmetic one-hot in fp16 such as
``relu(1 - (id - v)^2)`` would be exact only for ids below 2048, fp16's last exact integer spacing.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ...errors import NotDifferentiableError
from ...mil import Operation, Var
from ..context import BackwardContext, first_cotangent, static_shape
from ..registry import register_rule

__all__: list[str] = []


@register_rule("slice_by_size")
def _slice_by_size(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    shape = static_shape(op.inputs["x"], f"slice_by_size '{op.name}' input x")  # type: ignore[arg-type]
    begin = ctx.const(op, "begin")
    if begin is None:
        raise NotDifferentiableError(
            f"[slice_by_size '{op.name}'] output {op.output.name}: a run-time begin has no VJP rule; make begin a const"
        )
    start = [int(b) % d if d else 0 for b, d in zip(np.asarray(begin).reshape(-1), shape, strict=True)]
    return {"x": ctx.embed(first_cotangent(cots), shape, start)}


@register_rule("slice_by_index")
def _slice_by_index(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    shape = static_shape(op.inputs["x"], f"slice_by_index '{op.name}' input x")  # type: ignore[arg-type]
    rank = len(shape)
    begin, end = ctx.const(op, "begin"), ctx.const(op, "end")
    if begin is None or end is None:
        raise NotDifferentiableError(
            f"[slice_by_index '{op.name}'] output {op.output.name}: run-time begin/end have no VJP rule; make them "
            "consts"
        )
    begin_l, end_l = [int(i) for i in np.asarray(begin).reshape(-1)], [int(i) for i in np.asarray(end).reshape(-1)]
    stride = ctx.const_ints(op, "stride", rank, 1)
    begin_mask = ctx.const_ints(op, "begin_mask", rank, False)
    end_mask = ctx.const_ints(op, "end_mask", rank, False)
    squeeze_mask = ctx.const_ints(op, "squeeze_mask", rank, False)
    start, box = [], []
    for i, d in enumerate(shape):
        if squeeze_mask[i]:
            picked = [begin_l[i] % d]
        else:
            sl = slice(None if begin_mask[i] else begin_l[i], None if end_mask[i] else end_l[i], stride[i])
            picked = list(range(d))[sl]
        if len(picked) > 1 and any(b - a != 1 for a, b in itertools.pairwise(picked)):
            raise NotDifferentiableError(
                f"[slice_by_index '{op.name}'] output {op.output.name}: only contiguous slices (stride 1) have a "
                f"VJP rule; axis {i} takes {picked[:4]}..."
            )
        start.append(picked[0] if picked else 0)
        box.append(len(picked))
    g = first_cotangent(cots)
    if static_shape(g) != tuple(box):
        g = ctx.mb.reshape(x=g, shape=np.array(box, np.int32))
    return {"x": ctx.embed(g, shape, start)}


@register_rule("gather")
def _gather(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    table = op.inputs["x"]
    shape = static_shape(table, f"gather '{op.name}' input x")  # type: ignore[arg-type]
    axis = int(ctx.const_ints(op, "axis", 1, 0)[0]) % len(shape)
    batch_dims = int(ctx.const_ints(op, "batch_dims", 1, 0)[0])
    if axis != 0 or batch_dims != 0:
        raise NotDifferentiableError(
            f"[gather '{op.name}'] output {op.output.name}: only axis=0, batch_dims=0 (an embedding lookup) has a "
            f"VJP rule, got axis={axis}, batch_dims={batch_dims}; transpose the table so the gathered axis is first"
        )
    mb, g = ctx.mb, first_cotangent(cots)
    vocab = shape[0]
    rest = int(np.prod(shape[1:], dtype=np.int64))
    idx = ctx.input(op, "indices")
    n = int(np.prod(static_shape(idx), dtype=np.int64))
    idx_col = mb.reshape(x=idx, shape=np.array([n, 1], np.int32))
    if idx_col.type.dtype.name != "int32":  # type: ignore[union-attr]
        idx_col = mb.cast(x=idx_col, dtype="int32")
    # Negative indices count from the end, as the reference's gather allows: compare against both spellings.
    row = np.arange(vocab, dtype=np.int32).reshape(1, vocab)
    hit = mb.logical_or(x=mb.equal(x=idx_col, y=row), y=mb.equal(x=idx_col, y=row - np.int32(vocab)))
    one = ctx.scalar(1.0, g)
    onehot = mb.select(cond=hit, a=one, b=ctx.scalar(0.0, g))  # [N, V]
    g2 = mb.reshape(x=g, shape=np.array([n, rest], np.int32))
    dt = mb.matmul(x=onehot, y=g2, transpose_x=True, transpose_y=False)  # [V, rest]
    return {"x": mb.reshape(x=dt, shape=np.array(shape, np.int32))}
