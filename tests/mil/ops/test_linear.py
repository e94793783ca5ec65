"""linear, matmul and einsum specs."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, infer

from anekit.errors import MILError


def test_linear() -> None:
    assert infer(
        "linear",
        {"x": T("fp16", None, None, 384), "weight": T("fp16", 1536, 384), "bias": T("fp16", 1536)},
        opset="ios18",
    ) == [T("fp16", None, None, 1536)]
    with pytest.raises(MILError, match="x last dim 384 != weight dim 1 512"):
        infer("linear", {"x": T("fp16", 2, 384), "weight": T("fp16", 8, 512)})
    with pytest.raises(MILError, match="bias length 7 != weight dim 0 8"):
        infer("linear", {"x": T("fp16", 2, 4), "weight": T("fp16", 8, 4), "bias": T("fp16", 7)})
    with pytest.raises(MILError, match="weight dtype fp32 must equal x dtype fp16 before ios17"):
        infer("linear", {"x": T("fp16", 2, 4), "weight": T("fp32", 8, 4)}, opset="ios16")
    assert infer("linear", {"x": T("fp16", 2, 4), "weight": T("fp32", 8, 4)}) == [T("fp16", 2, 8)]


def test_matmul_transposes_and_unknown() -> None:
    q = T("fp16", None, 12, None, 32)
    k = T("fp16", None, 12, None, 32)
    assert infer("matmul", {"x": q, "y": k, "transpose_y": np.bool_(True)}) == [T("fp16", None, 12, None, None)]
    assert infer(
        "matmul",
        {"x": T("fp16", 1, 64, 32), "y": T("fp16", 1, 64, 16), "transpose_x": np.bool_(True)},
    ) == [T("fp16", 1, 32, 16)]
    assert infer("matmul", {"x": T("fp32", 4), "y": T("fp32", 4)}) == [T("fp32")]


def test_matmul_errors() -> None:
    with pytest.raises(MILError, match=r"^\[matmul 'mm_0'\] x last dim 64 != y dim -2 32"):
        infer("matmul", {"x": T("fp16", 2, 64), "y": T("fp16", 32, 4)}, name="mm_0")
    with pytest.raises(MILError, match=r"batch dims \[2\] and \[3\] do not broadcast"):
        infer("matmul", {"x": T("fp16", 2, 4, 8), "y": T("fp16", 3, 8, 4)})


def test_matmul_mixed_dtypes() -> None:
    w = np.zeros((8, 4), np.float32)
    # iOS17+: one const operand may differ; the output takes the non-const operand's dtype.
    assert infer("matmul", {"x": T("fp16", 2, 8), "y": w}) == [T("fp16", 2, 4)]
    with pytest.raises(MILError, match="allowed only from ios17 when exactly one is const"):
        infer("matmul", {"x": T("fp16", 2, 8), "y": w}, opset="ios16")
    with pytest.raises(MILError, match="x dtype fp16 != y dtype fp32"):
        infer("matmul", {"x": T("fp16", 2, 8), "y": T("fp32", 8, 4)})


def test_einsum() -> None:
    assert infer(
        "einsum",
        {"values": (T("fp16", 1, 2, 3, 4), T("fp16", 1, 4, 3, 5)), "equation": "nchw,nwhu->nchu"},
    ) == [T("fp16", 1, 2, 3, 5)]
    assert infer("einsum", {"values": (T("fp32", 2, 3), T("fp32", 3, 4)), "equation": "ij,jk->ik"}) == [T("fp32", 2, 4)]
    with pytest.raises(MILError, match="subscript 'j' has sizes 3 and 5"):
        infer("einsum", {"values": (T("fp32", 2, 3), T("fp32", 5, 4)), "equation": "ij,jk->ik"})
    with pytest.raises(MILError, match="explicit '->'"):
        infer("einsum", {"values": (T("fp32", 2, 3), T("fp32", 3, 4)), "equation": "ij,jk"})
