"""Rotary position embeddings (llama / Hugging Face "rotate half" convention).

``rope(x) = x * cos + rotate_half(x) * sin`` per head, with ``rotate_half([a, b]) = [-b, a]``. The rotation is a
baked grouped 1x1 conv (one signed permutation per head), so no ``concat`` is needed (its ANE support is disputed,
docs/internals/mil-format.md §11 rule 16). ``cos`` and ``sin`` are program inputs ``[1, head_dim, 1, S]`` from
:func:`rope_tables`, so one program serves every position (decode steps need no recompile).
"""

from __future__ import annotations

import numpy as np

from ..mil import Builder, Var
from ._shapes import channels_of, spatial_of
from .rules import check_positive

__all__ = ["apply_rope", "rope_tables"]


def rope_tables(
    head_dim: int, positions: np.ndarray | list[int], theta: float = 10000.0
) -> tuple[np.ndarray, np.ndarray]:
    """``cos, sin`` of shape ``[1, head_dim, 1, len(positions)]`` (float32) for :func:`apply_rope`."""
    check_positive("rope_tables", head_dim=head_dim)
    if head_dim % 2:
        raise ValueError(f"rope_tables: head_dim must be even, got {head_dim}")
    if not theta > 0:
        raise ValueError(f"rope_tables: theta must be positive, got {theta!r}")
    pos = np.asarray(positions, dtype=np.float64).reshape(-1)
    inv_freq = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    freqs = np.outer(inv_freq, pos)  # [head_dim/2, S]
    emb = np.concatenate([freqs, freqs], axis=0)
    s = pos.size
    shape = (1, head_dim, 1, s)
    return np.cos(emb).reshape(shape).astype(np.float32), np.sin(emb).reshape(shape).astype(np.float32)


def _rotate_half_weight(heads: int, head_dim: int) -> np.ndarray:
    half = head_dim // 2
    r = np.zeros((head_dim, head_dim), np.float16)
    r[np.arange(half), np.arange(half) + half] = -1  # out[i] = -x[i + half]
    r[np.arange(half) + half, np.arange(half)] = 1  # out[i + half] = x[i]
    return np.tile(r, (heads, 1)).reshape(heads * head_dim, head_dim, 1, 1)


def apply_rope(mb: Builder, x: Var, cos: Var, sin: Var, heads: int, head_dim: int, *, name: str = "rope") -> Var:
    """Rotate ``x[1, heads*head_dim, 1, S]`` by ``cos``/``sin`` ``[1, head_dim, 1, S]``; same shape out."""
    check_positive(name, heads=heads, head_dim=head_dim)
    if head_dim % 2:
        raise ValueError(f"{name}: head_dim must be even, got {head_dim}")
    c, s = channels_of(x, name), spatial_of(x, name)
    if c != heads * head_dim:
        raise ValueError(f"{name}: x has {c} channels, expected heads * head_dim = {heads * head_dim}")
    for label, t in (("cos", cos), ("sin", sin)):
        if channels_of(t, f"{name}.{label}") != head_dim or spatial_of(t, f"{name}.{label}") != s:
            raise ValueError(f"{name}: {label} must be [1, {head_dim}, 1, {s}], got {t.type}")
    rot = mb.conv(x=x, weight=_rotate_half_weight(heads, head_dim), pad_type="valid", groups=np.int32(heads))
    heads_shape = np.array([1, heads, head_dim, s], np.int32)
    table_shape = np.array([1, 1, head_dim, s], np.int32)
    y = mb.add(
        x=mb.mul(x=mb.reshape(x=x, shape=heads_shape), y=mb.reshape(x=cos, shape=table_shape)),
        y=mb.mul(x=mb.reshape(x=rot, shape=heads_shape), y=mb.reshape(x=sin, shape=table_shape)),
    )
    return mb.reshape(x=y, shape=np.array([1, c, 1, s], np.int32))
