"""Program-structure kernels: ``const`` and the iOS18 state ops (docs/internals/mil-format.md §7.2, §7.7, §10.6).

The executor evaluates ``const`` itself (once, when it prepares a function) and owns the state variables:
``read_state`` receives the state's current tensor and ``write_state`` returns the tensor to store, which the
executor writes back into the state (the op itself has no MIL outputs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import KernelContext, kernel

__all__: list[str] = []


@kernel("const", preserves_values=True)
def const(ctx: KernelContext, val: Any) -> list[Any]:
    """The literal value."""
    return [val]


@kernel("read_state", preserves_values=True)
def read_state(ctx: KernelContext, input: np.ndarray) -> list[np.ndarray]:
    """A copy of the tensor the state holds now."""
    return [np.array(input, copy=True)]


@kernel("write_state")
def write_state(ctx: KernelContext, input: np.ndarray, data: np.ndarray) -> list[np.ndarray]:
    """The new state value (``data``; it must have the state's shape). See the module docstring."""
    d = np.asarray(data)
    if d.shape != np.shape(input):
        raise ctx.error(f"data shape {d.shape} != state shape {np.shape(input)}")
    return [np.array(d, copy=True)]
