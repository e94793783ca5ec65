"""Indexing specs: slices, gathers, scatters, select, topk, argsort."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, i32, i32v, infer

from anekit.errors import MILError


def test_slice_by_index() -> None:
    x = T("fp16", 1, 258, 4)
    assert infer("slice_by_index", {"x": x, "begin": i32v(0, 129, 0), "end": i32v(1, 258, 4)}) == [T("fp16", 1, 129, 4)]
    assert infer(
        "slice_by_index",
        {
            "x": x,
            "begin": T("int32", 3),
            "end": T("int32", 3),
            "begin_mask": np.array([True, False, True]),
            "end_mask": np.array([True, False, True]),
        },
    ) == [T("fp16", 1, None, 4)]
    assert infer(
        "slice_by_index",
        {
            "x": x,
            "begin": i32v(0, -1, 0),
            "end": i32v(0, 0, 0),
            "squeeze_mask": np.array([True, True, True]),
        },
    ) == [T("fp16")]
    with pytest.raises(MILError, match="'end' must be a vector of rank\\(x\\) = 3 entries"):
        infer("slice_by_index", {"x": x, "begin": i32v(0, 0, 0), "end": i32v(1, 2)})
    with pytest.raises(MILError, match="'begin' dtype int16 not allowed in ios16"):
        infer(
            "slice_by_index",
            {"x": x, "begin": np.zeros(3, np.int16), "end": i32v(1, 2, 3)},
            opset="ios16",
        )
    assert infer(
        "slice_by_index",
        {"x": x, "begin": np.zeros(3, np.int16), "end": np.asarray([1, 2, 3], np.int16)},
        opset="ios17",
    ) == [T("fp16", 1, 2, 3)]


def test_slice_by_size_and_update() -> None:
    x = T("fp16", 1, 64, 1, 96)
    assert infer("slice_by_size", {"x": x, "begin": T("int32", 4), "size": i32v(1, 64, 1, 32)}) == [
        T("fp16", 1, 64, 1, 32)
    ]
    assert infer("slice_by_size", {"x": x, "begin": T("int32", 4), "size": i32v(1, 64, 1, -1)}) == [
        T("fp16", 1, 64, 1, None)
    ]
    with pytest.raises(MILError, match=r"slice \[80, 112\) exceeds dim 3 of size 96"):
        infer("slice_by_size", {"x": x, "begin": i32v(0, 0, 0, 80), "size": i32v(1, 64, 1, 32)})
    with pytest.raises(MILError, match="update shape \\[1, 3, 16\\] != slice shape \\[1, 2, 16\\]"):
        infer(
            "slice_update",
            {
                "x": T("fp16", 1, 8, 16),
                "update": T("fp16", 1, 3, 16),
                "begin": i32v(0, 2, 0),
                "end": i32v(1, 4, 16),
            },
            opset="ios18",
        )


def test_gather_family() -> None:
    x = T("fp16", 30522, 384)
    assert infer("gather", {"x": x, "indices": T("uint16", None, None)}, opset="ios18") == [T("fp16", None, None, 384)]
    assert infer("gather", {"x": T("fp32", 3, 4), "indices": T("int32", 5), "axis": i32(-1)}) == [T("fp32", 3, 5)]
    with pytest.raises(MILError, match="'indices' dtype int16 not allowed in ios15"):
        infer("gather", {"x": x, "indices": T("int16", 2)}, opset="ios15")
    with pytest.raises(MILError, match="'batch_dims' exists from ios16"):
        infer("gather", {"x": x, "indices": T("int32", 2), "batch_dims": i32(0)}, opset="ios15")
    with pytest.raises(MILError, match="'x' dtype int16 not allowed in ios16"):
        infer("gather", {"x": T("int16", 4), "indices": T("int32", 2)}, opset="ios16")
    with pytest.raises(MILError, match=r"indices out of bounds \[0, 4\) with validate_indices"):
        infer("gather", {"x": T("fp16", 4), "indices": i32v(-1), "validate_indices": np.bool_(True)})
    with pytest.raises(MILError, match="batch dim 0: x 2 != indices 3"):
        infer(
            "gather",
            {
                "x": T("fp16", 2, 4),
                "indices": T("int32", 3, 1),
                "axis": i32(1),
                "batch_dims": i32(1),
            },
        )
    with pytest.raises(MILError, match="dim 0: indices 2 != x 3"):
        infer("gather_along_axis", {"x": T("fp16", 3, 4), "indices": T("int32", 2, 4), "axis": i32(1)})
    with pytest.raises(MILError, match="indices rank 1 must equal x rank 2"):
        infer("gather_along_axis", {"x": T("fp16", 3, 4), "indices": T("int32", 2)})
    with pytest.raises(MILError, match="exceeds rank\\(x\\) 2"):
        infer("gather_nd", {"x": T("fp16", 3, 4), "indices": T("int32", 5, 3)})


def test_scatter_family() -> None:
    with pytest.raises(MILError, match=r"updates shape \[3, 4\] != expected \[2, 4\]"):
        infer(
            "scatter",
            {"data": T("fp32", 5, 4), "indices": T("int32", 2), "updates": T("fp32", 3, 4)},
        )
    with pytest.raises(MILError, match="'mode' must be one of"):
        infer(
            "scatter",
            {
                "data": T("fp32", 5, 4),
                "indices": T("int32", 2),
                "updates": T("fp32", 2, 4),
                "mode": "avg",
            },
        )
    with pytest.raises(MILError, match="'updates' dtype fp16 must equal 'data' dtype fp32"):
        infer(
            "scatter_nd",
            {"data": T("fp32", 5), "indices": T("int32", 2, 1), "updates": T("fp16", 2)},
        )


def test_select() -> None:
    assert infer("select", {"cond": T("bool", 4, 1), "a": T("fp16", 1, 5), "b": T("fp16")}) == [T("fp16", 4, 5)]
    with pytest.raises(MILError, match="'cond' dtype fp16 not allowed"):
        infer("select", {"cond": T("fp16", 4), "a": T("fp16", 4), "b": T("fp16", 4)})
    with pytest.raises(MILError, match="do not broadcast"):
        infer("select", {"cond": T("bool", 3), "a": T("fp16", 4), "b": T("fp16", 4)})


def test_topk() -> None:
    x = T("fp32", 3, 10)
    assert infer("topk", {"x": x}) == [T("fp32", 3, 1), T("int32", 3, 1)]
    assert infer("topk", {"x": x, "k": i32(4), "return_indices": np.bool_(False)}) == [T("fp32", 3, 4)]
    assert infer("topk", {"x": x, "k": i32(-1)}) == [T("fp32", 3, 10), T("int32", 3, 10)]
    with pytest.raises(MILError, match="k 11 > size 10 of axis 1"):
        infer("topk", {"x": x, "k": i32(11)})
    with pytest.raises(MILError, match="k must be >= 1"):
        infer("topk", {"x": x, "k": i32(-1)}, opset="ios16")
    with pytest.raises(MILError, match="output_indices_dtype can only be set when return_indices is true"):
        infer("topk", {"x": x, "return_indices": np.bool_(False), "output_indices_dtype": "int32"})
    with pytest.raises(MILError, match="'sort' exists from ios16"):
        infer("topk", {"x": x, "sort": np.bool_(True)}, opset="ios15")
    assert infer("topk", {"x": T("fp32", 5, None), "k": i32(2), "axis": i32(0)}) == [
        T("fp32", 2, None),
        T("int32", 2, None),
    ]
