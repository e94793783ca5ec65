"""MIL op specs, one module per category; importing this package registers every op exactly once.

Use :func:`ops` (or call the package itself: ``anekit.mil.ops()``) to list the registered op names and
:func:`get_spec` to look one up (optionally checking that it exists in an opset). Conventions shared by all
specs are documented in :mod:`anekit.mil.ops._base` and /work/notes/ops_status.md.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from . import (  # noqa: F401  (importing a category module registers its ops)
    activation,
    attention,
    constexpr,
    conv,
    elementwise,
    image,
    linear,
    normalization,
    pool,
    quantization,
    recurrent,
    reduction,
    state,
    tensor_create,
    tensor_index,
    tensor_layout,
    tensor_select,
    tensor_shape,
    unary,
)
from ._context import StaticContext
from ._spec import (
    OP_REGISTRY,
    OPSETS,
    InferContext,
    InputSpec,
    OpSpec,
    get_spec,
    opset_index,
    register_op,
)

__all__ = [
    "OPSETS",
    "OP_REGISTRY",
    "InferContext",
    "InputSpec",
    "OpSpec",
    "StaticContext",
    "get_spec",
    "ops",
    "opset_index",
    "register_op",
]


def ops(opset: str | None = None, category: str | None = None) -> list[str]:
    """Sorted names of the registered MIL ops.

    Args:
        opset: keep only ops available in this opset (``"ios15"`` … ``"ios18"``).
        category: keep only ops of this category file (``"elementwise"``, ``"conv"`` …).

    Raises:
        MILError: unknown opset.
    """
    names = []
    for name, spec in OP_REGISTRY.items():
        if opset is not None and not spec.available_in(opset):
            continue
        if category is not None and spec.category != category:
            continue
        names.append(name)
    return sorted(names)


class _CallableModule(types.ModuleType):
    """This package's module type: calling ``anekit.mil.ops(...)`` is :func:`ops` (the package stays a module,
    so ``anekit.mil.ops.get_spec`` and ``import anekit.mil.ops as o`` keep working)."""

    def __call__(self, *args: Any, **kwargs: Any) -> list[str]:
        return ops(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
