"""Shape-changing tensor specs: reshape, transpose, expand/squeeze, concat/stack/split, tile, pad, ..."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, i32, i32v, infer

from anekit.errors import MILError


def test_reshape() -> None:
    x = T("fp16", 2, 3, 4)
    assert infer("reshape", {"x": x, "shape": i32v(-1, 4)}) == [T("fp16", 6, 4)]
    assert infer("reshape", {"x": x, "shape": i32v(4, 0, 2)}, opset="ios15") == [T("fp16", 4, 3, 2)]
    # iOS17: 0 matches x's dims from the right.
    assert infer("reshape", {"x": x, "shape": i32v(0, -1)}) == [T("fp16", 3, 8)]  # 0 -> x dim 1
    assert infer("reshape", {"x": T("fp16", None, 384), "shape": i32v(1, -1, 12, 32)}) == [T("fp16", 1, None, 12, 32)]
    assert infer("reshape", {"x": T("fp16", None, 8), "shape": i32v(2, 0)}) == [T("fp16", 2, 8)]
    with pytest.raises(MILError, match=r"cannot reshape \[2, 3, 4\] \(24 elements\) to \[5, -1\]"):
        infer("reshape", {"x": x, "shape": i32v(5, -1)})
    with pytest.raises(MILError, match="more than one -1"):
        infer("reshape", {"x": x, "shape": i32v(-1, -1)})
    with pytest.raises(MILError, match=r"\[4, 6\] \(24 elements\) to \[5, 5\] \(25\)"):
        infer("reshape", {"x": T("fp16", 4, 6), "shape": i32v(5, 5)})
    with pytest.raises(MILError, match="length must equal rank"):
        infer("reshape", {"x": x, "shape": i32v(0, -1)}, opset="ios16")
    with pytest.raises(MILError, match="'shape' dtype int16 not allowed in ios16"):
        infer("reshape", {"x": x, "shape": np.asarray([24], np.int16)}, opset="ios16")
    with pytest.raises(MILError, match="length of 'shape' must be known"):
        infer("reshape", {"x": x, "shape": T("int32", None)})


def test_transpose_expand_squeeze() -> None:
    assert infer("transpose", {"x": T("fp16", 1, 4, 2), "perm": i32v(-1, 0, 1)}) == [T("fp16", 2, 1, 4)]
    with pytest.raises(MILError, match=r"perm .* must have rank\(x\) = 3 entries"):
        infer("transpose", {"x": T("fp16", 1, 4, 2), "perm": i32v(0, 1)})
    with pytest.raises(MILError, match="repeat an axis"):
        infer("transpose", {"x": T("fp16", 1, 4, 2), "perm": i32v(0, 0, 1)})
    with pytest.raises(MILError, match="perm must be const"):
        infer("transpose", {"x": T("fp16", 1, 4), "perm": T("int32", 2)})
    assert infer("expand_dims", {"x": T("fp16", 3), "axes": i32v(-1)}) == [T("fp16", 3, 1)]
    assert infer("expand_dims", {"x": T("fp16"), "axes": i32v(0)}) == [T("fp16", 1)]
    with pytest.raises(MILError, match="axes 3 out of range for rank 3"):
        infer("expand_dims", {"x": T("fp16", 4, 4), "axes": i32v(3)})
    assert infer("squeeze", {"x": T("fp16", 1)}) == [T("fp16")]
    with pytest.raises(MILError, match="cannot squeeze axis 1 of size 4"):
        infer("squeeze", {"x": T("fp16", 1, 4), "axes": i32v(1)})
    assert infer("squeeze", {"x": T("fp16", 1, None), "axes": i32v(1)}) == [T("fp16", 1)]
    assert infer("squeeze", {"x": T("int8", 1, 2)}, opset="ios17") == [T("int8", 2)]
    with pytest.raises(MILError, match="dtype int8 not allowed in ios16"):
        infer("squeeze", {"x": T("int8", 1, 2)}, opset="ios16")


def test_concat_stack_split() -> None:
    v = (T("fp16", 1, 3, None), T("fp16", 1, 5, 7))
    assert infer("concat", {"values": v, "axis": i32(1)}) == [T("fp16", 1, 8, 7)]
    with pytest.raises(MILError, match=r"dim 2 mismatch: \[1, 3, 6\] vs \[1, 5, 7\]"):
        infer("concat", {"values": (T("fp16", 1, 3, 6), T("fp16", 1, 5, 7)), "axis": i32(1)})
    with pytest.raises(MILError, match="interleave needs identical shapes"):
        infer("concat", {"values": v, "axis": i32(1), "interleave": np.bool_(True)})
    with pytest.raises(MILError, match="values must share one dtype"):
        infer("concat", {"values": (T("fp16", 2), T("fp32", 2)), "axis": i32(0)})
    with pytest.raises(MILError, match="must have rank 0"):
        infer("concat", {"values": v, "axis": i32v(1)})  # the ANE wants a scalar axis (§11 rule 4)
    with pytest.raises(MILError, match="non-empty tuple"):
        infer("concat", {"values": T("fp16", 2), "axis": i32(0)})
    assert infer("stack", {"values": (T("fp16", 2, None), T("fp16", None, 3)), "axis": i32(0)}) == [T("fp16", 2, 2, 3)]
    with pytest.raises(MILError, match="identical shapes"):
        infer("stack", {"values": (T("fp16", 2), T("fp16", 3)), "axis": i32(0)})
    with pytest.raises(MILError, match="num_splits 3 does not divide dim 0 size 4"):
        infer("split", {"x": T("fp16", 4), "num_splits": i32(3), "axis": i32(0)})
    with pytest.raises(MILError, match="sum to dim 0 size 4"):
        infer("split", {"x": T("fp16", 4), "split_sizes": i32v(1, 2), "axis": i32(0)})
    with pytest.raises(MILError, match="one of num_splits or split_sizes is required"):
        infer("split", {"x": T("fp16", 4), "axis": i32(0)})
    assert infer("split", {"x": T("fp16", None, 2), "num_splits": i32(2), "axis": i32(0)}) == [
        T("fp16", None, 2),
        T("fp16", None, 2),
    ]


def test_tile_pad() -> None:
    assert infer("tile", {"x": T("fp16", 2, 3), "reps": T("int32", 2)}) == [T("fp16", None, None)]
    with pytest.raises(MILError, match="reps must have rank\\(x\\) = 2 entries"):
        infer("tile", {"x": T("fp16", 2, 3), "reps": i32v(2)})
    with pytest.raises(MILError, match="reps entries must be >= 1"):
        infer("tile", {"x": T("fp16", 2, 3), "reps": i32v(0, 1)})
    x = T("fp32", 1, 5)
    assert infer("pad", {"x": x, "pad": i32v(1, 2, 3, 4)}) == [T("fp32", 4, 12)]
    assert infer("pad", {"x": x, "pad": T("int32", 4)}) == [T("fp32", None, None)]
    with pytest.raises(MILError, match="non-const pad must have 2\\*rank\\(x\\) = 4 entries"):
        infer("pad", {"x": x, "pad": T("int32", 2)})
    with pytest.raises(MILError, match="reflect pad 5,0 on dim 1 of size 5 exceeds 4"):
        infer("pad", {"x": x, "pad": i32v(5, 0), "mode": "reflect"})
    assert infer("pad", {"x": x, "pad": i32v(5, 0), "mode": "replicate"}) == [T("fp32", 1, 10)]
    with pytest.raises(MILError, match="'mode' must be one of"):
        infer("pad", {"x": x, "pad": i32v(1, 0), "mode": "circular"})
    with pytest.raises(MILError, match="'constant_val' dtype fp16 must equal 'x' dtype fp32"):
        infer("pad", {"x": x, "pad": i32v(1, 0), "constant_val": np.float16(0)})


def test_small_ops() -> None:
    assert infer("shape", {"x": T("fp16", None, None, 384)}) == [T("int32", 3)]
    assert infer("range_1d", {"start": np.float32(1), "end": np.float32(2), "step": np.float32(0.3)}) == [T("fp32", 4)]
    assert infer("range_1d", {"start": i32(5), "end": i32(0), "step": i32(1)}) == [T("int32", 0)]
    with pytest.raises(MILError, match="step must not be 0"):
        infer("range_1d", {"start": i32(0), "end": i32(3), "step": i32(0)})
    with pytest.raises(MILError, match="'start' dtype fp32 must equal 'end' dtype int32"):
        infer("range_1d", {"start": np.float32(0), "end": i32(3), "step": i32(1)})
    assert infer("fill", {"shape": T("int32", 3)}) == [T("fp32", None, None, None)]
    with pytest.raises(MILError, match="rank >= 2"):
        infer("band_part", {"x": T("fp16", 3)})
    with pytest.raises(MILError, match="axis 2 out of range"):
        infer("cumsum", {"x": T("fp32", 2, 2), "axis": i32(2)})


def test_domains_not_widened_in_ios17() -> None:
    # coremltools overrides only some shape ops in iOS17 (reshape, squeeze, transpose ...); tile, split, shape
    # and select keep the iOS15 domain.
    assert infer("transpose", {"x": T("int8", 2, 3), "perm": i32v(1, 0)}, opset="ios18") == [T("int8", 3, 2)]
    with pytest.raises(MILError, match="'x' dtype int8 not allowed in ios18"):
        infer("tile", {"x": T("int8", 2), "reps": i32v(2)}, opset="ios18")
    with pytest.raises(MILError, match="'x' dtype uint16 not allowed in ios18"):
        infer("shape", {"x": T("uint16", 2)}, opset="ios18")
