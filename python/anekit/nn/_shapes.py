"""Shape checks shared by the :mod:`anekit.nn` blocks (the ``[1, C, 1, S]`` layout)."""

from __future__ import annotations

from ..mil import Var

__all__ = ["channels_of", "spatial_of"]


def _layout(x: Var, owner: str) -> tuple[int, ...]:
    shape = getattr(getattr(x, "type", None), "shape", None)
    if shape is None or len(shape) != 4 or shape[0] != 1 or shape[2] != 1:
        raise ValueError(f"{owner}: expected a [1, C, 1, S] tensor Var, got {getattr(x, 'type', x)!r}")
    if not all(isinstance(d, int) for d in shape):
        raise ValueError(f"{owner}: expected a static [1, C, 1, S] shape, got {shape}")
    return tuple(shape)


def channels_of(x: Var, owner: str) -> int:
    """C of a ``[1, C, 1, S]`` Var; ``ValueError`` naming ``owner`` for any other layout."""
    return _layout(x, owner)[1]


def spatial_of(x: Var, owner: str) -> int:
    """S of a ``[1, C, 1, S]`` Var; ``ValueError`` naming ``owner`` for any other layout."""
    return _layout(x, owner)[3]
