"""Activation and softmax specs."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, infer

from anekit.errors import MILError
from anekit.mil.ops import OP_REGISTRY


def test_gelu_modes_and_default() -> None:
    x = T("fp16", None, None, 1536)
    for mode in ("EXACT", "TANH_APPROXIMATION", "SIGMOID_APPROXIMATION"):
        assert infer("gelu", {"x": x, "mode": mode}) == [x]
    assert OP_REGISTRY["gelu"].input_spec("mode").default == "EXACT"
    with pytest.raises(MILError, match="'mode' must be one of 'EXACT'"):
        infer("gelu", {"x": x, "mode": "FAST"})


def test_softmax_axis() -> None:
    x = T("fp16", 1, 1, 1, 1027)
    assert infer("softmax", {"x": x}) == [x]
    assert int(OP_REGISTRY["softmax"].input_spec("axis").default) == -1
    with pytest.raises(MILError, match="axis 4 out of range for rank 4"):
        infer("softmax", {"x": x, "axis": np.int32(4)})
    with pytest.raises(MILError, match="dtype int32 not allowed"):
        infer("softmax", {"x": T("int32", 3)})


def test_alpha_dtype_rule_by_opset() -> None:
    x = T("fp16", 2, 3)
    with pytest.raises(MILError, match="'alpha' dtype fp32 must equal x dtype fp16 before ios17"):
        infer("leaky_relu", {"x": x, "alpha": np.float32(0.1)}, opset="ios15")
    assert infer("leaky_relu", {"x": x, "alpha": np.float32(0.1)}, opset="ios17") == [x]


def test_per_channel_params() -> None:
    x = T("fp32", 1, 8, 5)
    assert infer("prelu", {"x": x, "alpha": np.ones(8, np.float32)}) == [x]
    with pytest.raises(MILError, match=r"'alpha' must have shape \[8\]"):
        infer("prelu", {"x": x, "alpha": np.ones(4, np.float32)})
    with pytest.raises(MILError, match="rank >= 3"):
        infer("prelu", {"x": T("fp32", 8, 5), "alpha": np.ones(5, np.float32)})


def test_required_params() -> None:
    with pytest.raises(MILError, match="missing required input 'beta'"):
        infer("clamped_relu", {"x": T("fp16", 2), "alpha": np.float16(0)})
