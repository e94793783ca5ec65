"""Rounding float values to fp16 precision, the reference executor's hot path.

``precision="ane"`` stores every fp16-typed value on the fp16 grid (docs/internals/architecture.md §7), so every op
output of an fp16 program passes through :func:`round_fp16`. The native converter ``anekit.fp16.round_fp16`` (C++ with
F16C) is used when it can be imported; otherwise the numpy fallback, which is bit-identical: both implement
IEEE 754 binary16 round-to-nearest-even with overflow to ±inf, gradual underflow to subnormals (smallest
2^-24, docs/internals/mil-format.md §10.10), signed zeros and NaN propagation.

The native module is imported lazily, on the first call, because ``anekit.reference`` must never import the
extension (``anekit._core``) at module import time (docs/internals/architecture.md §2 layout rules).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable

import numpy as np

__all__ = ["round_fp16", "round_fp16_backend", "round_fp16_numpy"]

RoundFn = Callable[[np.ndarray], np.ndarray]


def round_fp16_numpy(a: np.ndarray) -> np.ndarray:
    """Round a float32 array to fp16 precision with numpy's (IEEE, round-to-nearest-even) conversion.

    Args:
        a: values; converted to float32 first.

    Returns:
        A new float32 array of the same shape whose values are exactly representable in fp16.
    """
    with np.errstate(over="ignore"):  # overflow to ±inf is the defined IEEE result, not a warning
        return np.asarray(a, dtype=np.float32).astype(np.float16).astype(np.float32)


@functools.cache
def _resolve() -> tuple[str, RoundFn]:
    """Pick the implementation once per process: the native converter if importable, else numpy."""
    try:
        native = importlib.import_module("anekit.fp16")
    except ImportError:
        # The extension is optional for the reference executor (pure Python + numpy by design); the numpy
        # path computes the same bits, only slower.
        return "numpy", round_fp16_numpy
    fn = getattr(native, "round_fp16", None)
    if fn is None:
        return "numpy", round_fp16_numpy
    return "native", fn


def round_fp16_backend() -> str:
    """Name of the implementation :func:`round_fp16` uses in this process: ``"native"`` or ``"numpy"``."""
    return _resolve()[0]


def round_fp16(a: np.ndarray) -> np.ndarray:
    """Round values to fp16 precision, returning float32 (see the module docstring).

    Args:
        a: a numpy array (any float dtype; converted to contiguous float32 first) or a scalar.

    Returns:
        A float32 array of ``a``'s shape holding the fp16-rounded values.
    """
    # Not np.ascontiguousarray: it returns at least 1-d, which turned fp16 scalars (rank-0 results of
    # reductions and of any op on a scalar) into shape (1,).
    arr = np.asarray(a, dtype=np.float32, order="C")
    name, fn = _resolve()
    if name == "numpy" or arr.ndim == 0:
        return round_fp16_numpy(arr)
    out = fn(arr)  # a new C-contiguous float32 array of arr's shape (anekit.fp16.round_fp16)
    return out if out.shape == arr.shape else out.reshape(arr.shape)
