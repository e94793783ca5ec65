"""Fast fp32/fp64 <-> IEEE fp16 conversion (native F16C/AVX2, NEON or scalar; bit-exact with numpy).

These are the reference executor's and the surfaces' hot path. Every function accepts any real numeric
array-like (float16/32/64, ints, bool; either byte order; any memory layout) and returns a new C-contiguous
array of the same shape. Rounding is round-to-nearest-even; values beyond fp16's range become +-inf as in
IEEE 754; subnormals are kept; NaNs stay NaNs with their sign (payload bits as numpy's ``astype`` produces
them).

Inputs are read where they are: strided, transposed, broadcast (zero-stride), misaligned, big-endian and
integer arrays are converted in small per-thread blocks, so the memory a conversion needs is its output plus
a bounded chunk, never a dense copy of the input (``benchmarks/bench_io.py`` measures it). Values in the
other byte order are byte-swapped, never reinterpreted.
"""

from __future__ import annotations

import numpy as np

from . import _core

__all__ = ["round_fp16", "simd_path", "to_fp16", "to_fp32"]


def to_fp16(array: object) -> np.ndarray:
    """Convert to ``float16`` (correctly rounded, also from ``float64``: no double rounding).

    Raises:
        TypeError: the input is not real numeric (e.g. complex, strings, objects, long double).
        MemoryError: the output does not fit in memory.
    """
    return _core.to_fp16(array)


def to_fp32(array: object) -> np.ndarray:
    """Convert to ``float32`` (exact from ``float16``; RNE from ``float64`` and large ints, as numpy's ``astype``).

    Raises:
        TypeError: the input is not real numeric.
        MemoryError: the output does not fit in memory.
    """
    return _core.to_fp32(array)


def round_fp16(array: object, out: np.ndarray | None = None) -> np.ndarray:
    """Round values to fp16 precision and return them as ``float32``: ``float32(float16(x))`` in one pass.

    Args:
        array: values to round.
        out: optional C-contiguous, writeable, native-order ``float32`` array of the same shape to write
            into. It may be ``array`` itself (in-place rounding, no copy); when it overlaps ``array`` any other
            way (shifted, reversed, another dtype over the same bytes) the input is first copied, so the result
            is always what a separate ``out`` would receive.

    Returns:
        ``out`` or a new ``float32`` array.

    Raises:
        TypeError: the input is not real numeric, or ``out`` is not a native ``float32`` ndarray.
        ValueError: ``out`` has another shape, or is not C-contiguous and writeable.
    """
    return _core.round_fp16(array, out)


def simd_path() -> str:
    """The conversion path in use: ``"f16c+avx2"``, ``"neon"`` or ``"scalar"``."""
    return _core.fp16_path()
