"""The ANE rules every :mod:`anekit.nn` block applies by construction.

* Spatial sizes (S of ``[1, C, 1, S]``) are padded to :data:`SAFE_SPATIAL` (docs/internals/mil-format.md §11 rule 22,
  docs/internals/ane-private-api.md §25.3 item 3).
* Run-time channel counts stay at or below :data:`MAX_CHANNELS` (libane's graph API limit, docs/internals/mil-format.md
  §11
  rule 8); wider outputs, such as a 49152-wide LM head, are split into chunks, one program output each.
* The additive attention mask uses :data:`MASK_VALUE`, the most negative finite fp16 (docs/internals/mil-format.md
  §8.6):
  ``scaled_dot_product_attention`` ignores its mask on the ANE (docs/internals/ane-private-api.md §25.2 #6).
"""

from __future__ import annotations

__all__ = ["MASK_VALUE", "MAX_CHANNELS", "SAFE_SPATIAL", "channel_chunks", "check_positive", "pad_spatial"]

#: S a multiple of 32 is the safe spatial size (docs/internals/ane-private-api.md §25.3 item 3;
#: docs/internals/mil-format.md §11 rule 14 for matmul inner dimensions, which the attention's ``p @ v`` takes along S).
SAFE_SPATIAL = 32
#: libane's graph API limits C to 16384; the validator warns above it (docs/internals/mil-format.md §11 rule 8).
MAX_CHANNELS = 16384
#: Most negative finite fp16: exp() of it underflows to 0 after the softmax's max subtraction.
MASK_VALUE = -65504.0


def check_positive(owner: str, **sizes: int) -> None:
    """Raise ``ValueError`` naming ``owner`` and the size when a size is not a positive int."""
    for label, v in sizes.items():
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{owner}: {label} must be a positive int, got {v!r}")


def pad_spatial(length: int, multiple: int = SAFE_SPATIAL) -> int:
    """The smallest multiple of ``multiple`` that holds ``length`` positions."""
    check_positive("pad_spatial", length=length, multiple=multiple)
    return -(-length // multiple) * multiple


def channel_chunks(channels: int, limit: int = MAX_CHANNELS) -> list[tuple[int, int]]:
    """``(start, size)`` pieces of ``channels`` of near-equal size, each at most ``limit`` wide."""
    check_positive("channel_chunks", channels=channels, limit=limit)
    n = -(-channels // limit)
    base, extra = divmod(channels, n)
    out, start = [], 0
    for i in range(n):
        size = base + (1 if i < extra else 0)
        out.append((start, size))
        start += size
    return out
