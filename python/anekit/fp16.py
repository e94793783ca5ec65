"""Fast fp32/fp64 <-> IEEE fp16 conversion (native F16C/AVX2, NEON or scalar; bit-exact with numpy).

These are the reference executor's and the surfaces' hot path. Every function accepts any real numeric
array-like (float16/32/64, ints, bool; any memory layout) and returns a new C-contiguous array of the same
shape. Rounding is round-to-nearest-even; values beyond fp16's range become +-inf as in IEEE 754; subnormals
are kept; NaNs stay NaNs with their sign (payload bits as numpy's ``astype`` produces them).
"""

from __future__ import annotations

import numpy as np

from . import _core

__all__ = ["round_fp16", "simd_path", "to_fp16", "to_fp32"]


def to_fp16(array: object) -> np.ndarray:
    """Convert to ``float16`` (correctly rounded, also from ``float64``: no double rounding).

    Raises:
        TypeError: the input is not real numeric (e.g. complex, strings, objects).
    """
    return _core.to_fp16(array)


def to_fp32(array: object) -> np.ndarray:
    """Convert to ``float32`` (exact from ``float16``; RNE from ``float64``; exact from small ints)."""
    return _core.to_fp32(array)


def round_fp16(array: object, out: np.ndarray | None = None) -> np.ndarray:
    """Round values to fp16 precision and return them as ``float32``: ``float32(float16(x))`` in one pass.

    Args:
        array: values to round.
        out: optional C-contiguous ``float32`` array of the same shape to write into; it may be ``array``
            itself for in-place rounding.

    Returns:
        ``out`` or a new ``float32`` array.
    """
    return _core.round_fp16(array, out)


def simd_path() -> str:
    """The conversion path in use: ``"f16c+avx2"``, ``"neon"`` or ``"scalar"``."""
    return _core.fp16_path()
