"""const, read_state and write_state specs."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, infer

from anekit.errors import MILError
from anekit.mil.types import StateType


def test_const_types() -> None:
    assert infer("const", {}, attrs={"val": np.arange(6, dtype=np.int32).reshape(2, 3)}) == [T("int32", 2, 3)]
    assert infer("const", {}, attrs={"val": np.bool_(True)}) == [T("bool")]
    assert infer("const", {"val": T("uint4", 8)}, attrs={"val": np.zeros(8, np.uint8)}) == [T("uint4", 8)]
    with pytest.raises(MILError, match="val is float64"):
        infer("const", {}, attrs={"val": np.zeros(2)})
    with pytest.raises(MILError, match="missing 'val'"):
        infer("const", {})


def test_state_ops() -> None:
    s = StateType(T("fp16", 1, 4))
    assert infer("read_state", {"input": s}, opset="ios18") == [T("fp16", 1, 4)]
    assert infer("write_state", {"input": s, "data": T("fp16", 1, 4)}, opset="ios18") == []
    with pytest.raises(MILError, match="must be a state"):
        infer("read_state", {"input": T("fp16", 1, 4)}, opset="ios18")
    with pytest.raises(MILError, match="data tensor<fp32, \\[1, 4\\]> must match the state's tensor"):
        infer("write_state", {"input": s, "data": T("fp32", 1, 4)}, opset="ios18")
    with pytest.raises(MILError, match="not available in opset ios17"):
        infer("read_state", {"input": s}, opset="ios17")
