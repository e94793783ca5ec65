"""Elementwise binary specs: broadcasting, dtype domains, comparisons and logical ops."""

from __future__ import annotations

import pytest
from cases import T, infer

from anekit.errors import MILError


def test_broadcast_and_dtype() -> None:
    assert infer("add", {"x": T("fp16", 1, 1, 8, 8), "y": T("fp16", 1, 12, 8, 8)}) == [T("fp16", 1, 12, 8, 8)]
    assert infer("floor_div", {"x": T("int32", 1), "y": T("int32")}) == [T("int32", 1)]
    assert infer("greater_equal", {"x": T("int32", None), "y": T("int32", 1, 1)}) == [T("bool", 1, None)]


def test_unknown_dims_propagate() -> None:
    assert infer("sub", {"x": T("fp32", None, 3), "y": T("fp32", 4, None)}) == [T("fp32", 4, 3)]
    assert infer("mul", {"x": T("fp32", None), "y": T("fp32", None)}) == [T("fp32", None)]


def test_shape_mismatch() -> None:
    with pytest.raises(MILError, match=r"\[add 'op_0'\] shapes \[2, 3\] and \[2, 4\] do not broadcast"):
        infer("add", {"x": T("fp16", 2, 3), "y": T("fp16", 2, 4)})


def test_dtype_rules() -> None:
    with pytest.raises(MILError, match="'y' dtype fp32 must equal 'x' dtype fp16"):
        infer("mul", {"x": T("fp16", 2), "y": T("fp32", 2)})
    with pytest.raises(MILError, match="input 'x' dtype bool not allowed"):
        infer("add", {"x": T("bool", 2), "y": T("bool", 2)})
    with pytest.raises(MILError, match="input 'x' dtype int8 not allowed"):
        infer("maximum", {"x": T("int8", 2), "y": T("int8", 2)})
    with pytest.raises(MILError, match=r"input 'x' dtype fp16 not allowed .* expected one of bool"):
        infer("logical_and", {"x": T("fp16", 2), "y": T("fp16", 2)})


def test_all_opsets() -> None:
    for opset in ("ios15", "ios16", "ios17", "ios18"):
        assert infer("pow", {"x": T("fp32", 3), "y": T("fp32", 1)}, opset=opset) == [T("fp32", 3)]
