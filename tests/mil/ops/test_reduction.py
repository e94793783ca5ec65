"""Reduction specs."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, i32, i32v, infer

from anekit.errors import MILError


def test_axes_and_keep_dims() -> None:
    x = T("fp32", 1, 128, None)
    assert infer("reduce_sum", {"x": x, "axes": i32v(1), "keep_dims": np.bool_(False)}) == [T("fp32", 1, None)]
    assert infer("reduce_mean", {"x": x, "axes": i32v(-1, 0), "keep_dims": np.bool_(True)}) == [T("fp32", 1, 128, 1)]
    assert infer("reduce_max", {"x": x, "keep_dims": np.bool_(True)}) == [T("fp32", 1, 1, 1)]
    assert infer("reduce_prod", {"x": T("int32", 2, 3)}) == [T("int32")]


def test_reduction_errors() -> None:
    with pytest.raises(MILError, match="axes 3 out of range for rank 3"):
        infer("reduce_sum", {"x": T("fp16", 1, 2, 3), "axes": i32v(3)})
    with pytest.raises(MILError, match="repeat an axis"):
        infer("reduce_sum", {"x": T("fp16", 1, 2, 3), "axes": i32v(1, -2)})
    with pytest.raises(MILError, match="axes must be const"):
        infer("reduce_sum", {"x": T("fp16", 1, 2, 3), "axes": T("int32", 1)})
    with pytest.raises(MILError, match="dtype bool not allowed"):
        infer("reduce_min", {"x": T("bool", 3)})


def test_arg_reductions() -> None:
    assert infer(
        "reduce_argmax",
        {
            "x": T("fp16", 1, 1, 1, 1027),
            "axis": i32(-1),
            "keep_dims": np.bool_(True),
            "output_dtype": "int32",
        },
    ) == [T("int32", 1, 1, 1, 1)]
    assert infer("reduce_argmax", {"x": T("fp16", 4, None)}, opset="ios15") == [T("int32", 4)]
    assert infer("reduce_argmin", {"x": T("fp16", 4, 5), "axis": i32(0), "output_dtype": "uint16"}) == [T("uint16", 5)]
    with pytest.raises(MILError, match="'output_dtype' exists from ios17 on, not in ios16"):
        infer("reduce_argmax", {"x": T("fp16", 4), "output_dtype": "int32"}, opset="ios16")
    with pytest.raises(MILError, match="'output_dtype' must be one of 'int32', 'uint16'"):
        infer("reduce_argmax", {"x": T("fp16", 4), "output_dtype": "int8"})
    with pytest.raises(MILError, match="axis 2 out of range"):
        infer("reduce_argmax", {"x": T("fp16", 4, 3), "axis": i32(2)})
