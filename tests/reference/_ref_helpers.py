"""Helpers shared by the reference-kernel tests (imported as a plain module; pytest puts this folder on
sys.path)."""

from __future__ import annotations

from typing import Any

import numpy as np

from anekit.reference.kernels import KERNELS, KernelContext

RNG_SEED = 20261127


def rng(offset: int = 0) -> np.random.Generator:
    """A deterministic generator (tests never depend on global random state)."""
    return np.random.default_rng(RNG_SEED + offset)


def randn(*shape: int, seed: int = 0, scale: float = 1.0, dtype: Any = np.float32) -> np.ndarray:
    return (rng(seed).standard_normal(shape) * scale).astype(dtype)


def call(op: str, *, float_dtype: Any = np.float32, opset: str = "ios18", **inputs: Any) -> list[np.ndarray]:
    """Call the registered kernel of ``op`` directly, without a program."""
    ctx = KernelContext(op, name=f"{op}_test", float_dtype=np.dtype(float_dtype), opset=opset)
    return list(KERNELS[op](ctx, **inputs))


def call1(op: str, **kwargs: Any) -> np.ndarray:
    """The single output of :func:`call`."""
    out = call(op, **kwargs)
    assert len(out) == 1
    return np.asarray(out[0])


def torch_of(a: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(a))
