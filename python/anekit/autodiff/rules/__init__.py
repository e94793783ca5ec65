"""VJP rules, one module per op family (mirroring :mod:`anekit.mil.ops`); importing this package registers them."""

from __future__ import annotations

from . import (  # noqa: F401  (importing a family module registers its rules)
    activation,
    conv,
    elementwise,
    linear,
    normalization,
    reduction,
    tensor_create,
    tensor_index,
    tensor_select,
    tensor_shape,
    unary,
)
