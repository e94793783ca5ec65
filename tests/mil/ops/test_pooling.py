"""Pooling specs."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, i32v, infer

from anekit.errors import MILError
from anekit.mil.ops import OP_REGISTRY


def test_pools() -> None:
    x = T("fp16", 1, 8, 9, None)
    args = {"x": x, "kernel_sizes": i32v(3, 3), "strides": i32v(2, 2), "pad_type": "valid"}
    assert infer("max_pool", args) == [T("fp16", 1, 8, 4, None)]
    assert infer("avg_pool", {**args, "exclude_padding_from_average": np.bool_(True)}) == [T("fp16", 1, 8, 4, None)]
    assert infer(
        "avg_pool",
        {**args, "pad_type": "custom", "pad": i32v(1, 1, 1, 1), "ceil_mode": np.bool_(True)},
    ) == [T("fp16", 1, 8, 5, None)]


def test_pool_errors() -> None:
    x = T("fp32", 1, 2, 6, 6)
    with pytest.raises(MILError, match="missing required input 'pad_type'"):
        infer("max_pool", {"x": x, "kernel_sizes": i32v(2, 2)})
    with pytest.raises(MILError, match="kernel_sizes must be 2 const entries"):
        infer("max_pool", {"x": x, "kernel_sizes": i32v(2), "pad_type": "valid"})
    with pytest.raises(MILError, match="ceil_mode applies only to pad_type valid or custom"):
        infer(
            "l2_pool",
            {"x": x, "kernel_sizes": i32v(2, 2), "pad_type": "same", "ceil_mode": np.bool_(True)},
        )
    # Only avg_pool averages, so only it has exclude_padding_from_average.
    assert OP_REGISTRY["max_pool"].input_spec("exclude_padding_from_average") is None
    assert OP_REGISTRY["avg_pool"].input_spec("exclude_padding_from_average") is not None


def test_ceil_mode_and_l2_rules() -> None:
    x = T("fp32", 1, 2, 6, 6)
    with pytest.raises(MILError, match=r"ceil_mode needs symmetric padding, got pad \[1, 0, 0, 0\]"):
        infer(
            "max_pool",
            {
                "x": x,
                "kernel_sizes": i32v(2, 2),
                "pad_type": "custom",
                "pad": i32v(1, 0, 0, 0),
                "ceil_mode": np.bool_(True),
            },
        )
    x3 = T("fp32", 1, 2, 4, 4, 4)
    with pytest.raises(MILError, match="ceil_mode is supported for 1-D and 2-D pooling only"):
        infer("avg_pool", {"x": x3, "kernel_sizes": i32v(2, 2, 2), "pad_type": "valid", "ceil_mode": np.bool_(True)})
    with pytest.raises(MILError, match="l2_pool supports up to 2-D pooling, got 3-D"):
        infer("l2_pool", {"x": x3, "kernel_sizes": i32v(2, 2, 2), "pad_type": "valid"})
    assert infer("max_pool", {"x": x3, "kernel_sizes": i32v(2, 2, 2), "pad_type": "valid"}) == [
        T("fp32", 1, 2, 3, 3, 3)
    ]
