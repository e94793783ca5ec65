"""anekit.mil: build, parse, validate and write MIL programs (text + weight blobs)."""

from __future__ import annotations

from . import ops as _ops  # noqa: F401  (registers every op spec once)
from .types import DType, StateType, TensorType, dtype, tensor

__all__ = ["DType", "StateType", "TensorType", "dtype", "tensor"]
