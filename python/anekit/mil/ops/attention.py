"""``scaled_dot_product_attention`` (iOS18).

Reference: docs/internals/mil-format.md §10.6 and coremltools ``iOS18/transformers.py``
(output shape ``query.shape[:-1] + [value.shape[-1]]``).
"""

from __future__ import annotations

from ..types import TensorType, Type
from ._base import Op
from ._infer import FLOATS, InferError, broadcast_shapes, dims_equal, fmt_shape
from ._spec import InferContext, InputSpec, register_op

__all__ = ["ScaledDotProductAttention"]


@register_op("scaled_dot_product_attention", category="attention")
class ScaledDotProductAttention(Op):
    """``softmax(Q·Kᵀ/√E + mask)·V`` (fixed scale, no dropout, no is_causal).

    Args:
        query: ``tensor<[B, *, L, E], T>`` (rank ≥ 3).
        key: ``tensor<[B, *, S, E], T>``; value: ``tensor<[B, *, S, EV], T>`` (same rank as query).
        attn_mask: ``tensor<[*, L, S], bool|T>``, optional, broadcastable to ``[B, *, L, S]``; a bool mask
            is 0 where true and −inf where false, a float mask is added.

    Returns:
        ``tensor<[B, *, L, EV], T>``. ANE: the mask is ignored (docs/internals/mil-format.md §11 rule 10); write masked
        attention explicitly.
    """

    inputs = (
        InputSpec("query", FLOATS),
        InputSpec("key", FLOATS, same_dtype_as="query"),
        InputSpec("value", FLOATS, same_dtype_as="query"),
        InputSpec("attn_mask", ("bool", "fp16", "fp32"), optional=True),
    )
    min_opset = "ios18"

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        q, k, v = (cls.tensor(ctx, n) for n in ("query", "key", "value"))
        if q.rank < 3 or k.rank != q.rank or v.rank != q.rank:
            raise InferError(f"query, key, value must share one rank >= 3, got {q.rank}, {k.rank}, {v.rank}")
        if not dims_equal(q.shape[-1], k.shape[-1]):
            raise InferError(f"query last dim {q.shape[-1]} != key last dim {k.shape[-1]}")
        if not dims_equal(k.shape[-2], v.shape[-2]):
            raise InferError(f"key dim -2 {k.shape[-2]} != value dim -2 {v.shape[-2]}")
        batch = broadcast_shapes(broadcast_shapes(q.shape[:-2], k.shape[:-2]), v.shape[:-2])
        scores = (*batch, q.shape[-2], k.shape[-2])
        m = cls.opt_tensor(ctx, "attn_mask")
        if m is not None:
            if m.dtype.name != "bool" and m.dtype != q.dtype:
                raise InferError(f"attn_mask dtype {m.dtype} must be bool or the query dtype {q.dtype}")
            try:
                broadcast_shapes(m.shape, scores)
            except InferError:
                raise InferError(f"attn_mask {fmt_shape(m.shape)} does not broadcast to {fmt_shape(scores)}") from None
        return [TensorType(q.dtype, (*q.shape[:-1], v.shape[-1]))]
