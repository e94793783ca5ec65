"""Causal attention with grouped-query heads, written out as matmul + additive mask + softmax + matmul.

``scaled_dot_product_attention`` ignores its mask on the ANE (docs/internals/ane-private-api.md §25.2 #6;
docs/internals/mil-format.md §11 rule 10), so the mask is an explicit ``add``. Grouped-query heads need no repeated K/V:
the ``g = heads / kv_heads`` query heads that share a K/V head (Hugging Face ``repeat_kv`` order: query head ``h`` uses
K/V head ``h // g``) are stacked along the row axis, ``q[1, kv_heads, g*S, head_dim]``, and multiply one K/V head each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..mil import Builder, Var
from ._shapes import channels_of, spatial_of
from .rules import MASK_VALUE, check_positive

__all__ = ["attention", "causal_mask"]

_SWAP = np.array([0, 1, 3, 2], np.int32)


def causal_mask(queries: int, keys: int | None = None, offset: int = 0) -> np.ndarray:
    """Additive fp16 mask ``[1, 1, queries, keys]``.

    Query ``i`` sits at position ``offset + i`` and sees the keys at positions ``<= offset + i``.
    """
    keys = queries if keys is None else keys
    check_positive("causal_mask", queries=queries, keys=keys)
    q = np.arange(queries)[:, None] + offset
    k = np.arange(keys)[None, :]
    return np.where(k <= q, 0.0, MASK_VALUE).astype(np.float16).reshape(1, 1, queries, keys)


def attention(
    mb: Builder,
    q: Var,
    k: Var,
    v: Var,
    mask: Var | Any,
    heads: int,
    kv_heads: int,
    head_dim: int,
    *,
    name: str = "attention",
) -> Var:
    """``softmax(q k^T / sqrt(head_dim) + mask) v`` per head.

    Args:
        mb: the builder.
        q: ``[1, heads*head_dim, 1, S]``.
        k, v: ``[1, kv_heads*head_dim, 1, T]``.
        mask: additive mask broadcastable to ``[1, heads, S, T]`` (a Var or an array, e.g. :func:`causal_mask`).
        heads, kv_heads, head_dim: head counts; ``kv_heads`` must divide ``heads``.
        name: label used in error messages.

    Returns:
        ``[1, heads*head_dim, 1, S]``.
    """
    check_positive(name, heads=heads, kv_heads=kv_heads, head_dim=head_dim)
    if heads % kv_heads:
        raise ValueError(f"{name}: kv_heads ({kv_heads}) must divide heads ({heads})")
    g = heads // kv_heads
    s, t = spatial_of(q, f"{name}.q"), spatial_of(k, f"{name}.k")
    if channels_of(q, f"{name}.q") != heads * head_dim:
        raise ValueError(f"{name}: q must have heads * head_dim = {heads * head_dim} channels, got {q.type}")
    for label, kv in (("k", k), ("v", v)):
        if channels_of(kv, f"{name}.{label}") != kv_heads * head_dim or spatial_of(kv, label) != t:
            raise ValueError(f"{name}: {label} must be [1, {kv_heads * head_dim}, 1, {t}], got {kv.type}")
    # Scale q before the product: the scores then stay in fp16 range for larger |q|·|k|.
    qs = mb.mul(x=q, y=np.float16(1.0 / np.sqrt(head_dim)))
    qh = mb.transpose(x=mb.reshape(x=qs, shape=np.array([1, heads, head_dim, s], np.int32)), perm=_SWAP)
    qg = mb.reshape(x=qh, shape=np.array([1, kv_heads, g * s, head_dim], np.int32))
    kh = mb.reshape(x=k, shape=np.array([1, kv_heads, head_dim, t], np.int32))
    scores = mb.matmul(x=qg, y=kh, transpose_x=False, transpose_y=False)  # [1, kv_heads, g*S, T]
    scores = mb.add(x=mb.reshape(x=scores, shape=np.array([1, heads, s, t], np.int32)), y=mask)
    p = mb.reshape(x=mb.softmax(x=scores, axis=np.int32(-1)), shape=np.array([1, kv_heads, g * s, t], np.int32))
    vh = mb.transpose(x=mb.reshape(x=v, shape=np.array([1, kv_heads, head_dim, t], np.int32)), perm=_SWAP)
    out = mb.matmul(x=p, y=vh, transpose_x=False, transpose_y=False)  # [1, kv_heads, g*S, head_dim]
    out = mb.transpose(x=mb.reshape(x=out, shape=np.array([1, heads, s, head_dim], np.int32)), perm=_SWAP)
    return mb.reshape(x=out, shape=np.array([1, heads * head_dim, 1, s], np.int32))
