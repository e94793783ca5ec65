"""``scaled_dot_product_attention`` (iOS18, docs/internals/mil-format.md §10.6)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from .activation import softmax_values

__all__: list[str] = []


@kernel("scaled_dot_product_attention")
def scaled_dot_product_attention(
    ctx: KernelContext, query: np.ndarray, key: np.ndarray, value: np.ndarray, attn_mask: Any = None
) -> list[np.ndarray]:
    """``softmax(Q·Kᵀ/√E + mask)·V`` with the fixed scale ``1/√E`` (E = query's last dim).

    A bool mask contributes 0 where true and −inf where false; a float mask is added. A query row whose
    every key is masked out gives NaN (softmax of all −inf), as any IEEE implementation does. The ANE is
    reported to ignore the mask (docs/internals/mil-format.md §11 rule 10); this kernel defines the op's meaning, not
    that defect.
    """
    q, k, v = np.asarray(query), np.asarray(key), np.asarray(value)
    if q.ndim < 3 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ctx.error(f"query/key/value must share a rank >= 3, got {q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ctx.error(f"shapes do not fit: query {q.shape}, key {k.shape}, value {v.shape}")
    scores = np.matmul(q, np.swapaxes(k, -1, -2))
    scores *= q.dtype.type(1.0 / math.sqrt(q.shape[-1]))
    if attn_mask is not None:
        m = np.asarray(attn_mask)
        if m.dtype == np.bool_:
            scores = np.where(m, scores, q.dtype.type(-np.inf))
        else:
            scores = scores + m.astype(q.dtype, copy=False)
    return [np.matmul(softmax_values(scores, -1), v)]
