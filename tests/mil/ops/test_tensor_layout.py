"""Layout specs: pixel_shuffle & friends, flatten2d, reverse, sliding_windows, one_hot, non_zero."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, i32, i32v, infer

from anekit.errors import MILError


def test_block_ops() -> None:
    assert infer("pixel_shuffle", {"x": T("fp16", 1, 8, None, 3), "upscale_factor": i32(2)}) == [
        T("fp16", 1, 2, None, 6)
    ]
    with pytest.raises(MILError, match="channels 6 not divisible by upscale_factor² = 4"):
        infer("pixel_shuffle", {"x": T("fp16", 1, 6, 2, 2), "upscale_factor": i32(2)})
    with pytest.raises(MILError, match="rank 4"):
        infer("depth_to_space", {"x": T("fp16", 8, 2, 2), "block_size": i32(2)})
    with pytest.raises(MILError, match="width 5 not divisible by block_size 2"):
        infer("space_to_depth", {"x": T("fp16", 1, 2, 4, 5), "block_size": i32(2)})


def test_misc_layout() -> None:
    assert infer("flatten2d", {"x": T("fp32", 2, 3, None)}) == [T("fp32", 2, None)]
    assert infer("flatten2d", {"x": T("fp32", 3), "axis": i32(1)}) == [T("fp32", 3, 1)]
    with pytest.raises(MILError, match="axes 2 out of range"):
        infer("reverse", {"x": T("fp32", 3, 4), "axes": i32v(2)})
    with pytest.raises(MILError, match="window size 4 exceeds dim 0 of size 3"):
        infer("sliding_windows", {"x": T("fp32", 3), "axis": i32(0), "size": i32(4)})
    assert infer(
        "one_hot",
        {
            "indices": T("int32", 2, 3),
            "one_hot_vector_size": T("int32"),
            "axis": i32(0),
            "on_value": np.float32(1),
            "off_value": np.float32(0),
        },
    ) == [T("fp32", None, 2, 3)]
    with pytest.raises(MILError, match="'off_value' dtype int32 must equal 'on_value' dtype fp32"):
        infer(
            "one_hot",
            {
                "indices": T("int32", 2),
                "one_hot_vector_size": i32(3),
                "on_value": np.float32(1),
                "off_value": i32(0),
            },
        )
    assert infer("non_zero", {"x": T("fp32", 4, 5)}) == [T("int32", None, 2)]
