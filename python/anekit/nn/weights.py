"""Weights for :mod:`anekit.nn` blocks: numpy arrays or PyTorch tensors, checked and converted to fp16."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .quant import QuantizedWeight

__all__ = ["as_array", "fp16_weight", "state_dict_arrays"]


def as_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a float numpy array; PyTorch tensors are detached and moved to the CPU (bf16 widened), a
    :class:`~anekit.nn.quant.QuantizedWeight` is decompressed (fp16)."""
    if isinstance(value, QuantizedWeight):
        return value.dequantize()
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch.Tensor, without importing torch
        t = value.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        value = t.numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"weight {name!r}: expected a real numeric array, got dtype {arr.dtype}")
    return arr


def fp16_weight(value: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as fp16 of exactly ``shape``; non-finite values or values beyond fp16 range are refused."""
    arr = as_array(value, name)
    if tuple(arr.shape) != tuple(shape):
        raise ValueError(f"weight {name!r}: expected shape {tuple(shape)}, got {tuple(arr.shape)}")
    arr64 = arr.astype(np.float64)
    if not np.all(np.isfinite(arr64)):
        raise ValueError(f"weight {name!r}: contains NaN or infinity")
    if arr64.size and np.max(np.abs(arr64)) > 65504.0:
        raise ValueError(f"weight {name!r}: values exceed the fp16 range (max |w| = {np.max(np.abs(arr64)):g})")
    return arr64.astype(np.float16)


def state_dict_arrays(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """A PyTorch ``state_dict`` (or any name -> array mapping) as name -> numpy array."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict: expected a mapping of name -> tensor, got {type(state_dict).__name__}")
    return {str(k): as_array(v, str(k)) for k, v in state_dict.items()}
