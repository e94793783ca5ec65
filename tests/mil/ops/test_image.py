"""Image resizing specs."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, i32, i32v, infer

from anekit.errors import MILError


def test_upsample_and_resize() -> None:
    x = T("fp16", 1, 3, None, 10)
    assert infer(
        "upsample_nearest_neighbor",
        {"x": x, "scale_factor_height": i32(2), "scale_factor_width": i32(3)},
    ) == [T("fp16", 1, 3, None, 30)]
    assert infer("upsample_bilinear", {"x": x, "half_pixel_centers": np.bool_(True)}, opset="ios16") == [x]
    with pytest.raises(MILError, match="'half_pixel_centers' exists from ios16"):
        infer("upsample_bilinear", {"x": x, "half_pixel_centers": np.bool_(True)}, opset="ios15")
    with pytest.raises(MILError, match="'scale_factor_height' dtype fp16 not allowed in ios16"):
        infer(
            "upsample_nearest_neighbor",
            {"x": x, "scale_factor_height": np.float16(2)},
            opset="ios16",
        )
    with pytest.raises(MILError, match="scale_factor_width must be > 0"):
        infer("upsample_nearest_neighbor", {"x": x, "scale_factor_width": np.float32(0)})
    assert infer("resize_bilinear", {"x": x}) == [T("fp16", 1, 3, 1, 1)]
    with pytest.raises(MILError, match="'sampling_mode' must be one of"):
        infer("resize_bilinear", {"x": x, "sampling_mode": "NEAREST"})
    with pytest.raises(MILError, match="rank >= 3"):
        infer(
            "resize_nearest_neighbor",
            {"x": T("fp16", 4, 4), "target_size_height": i32(2), "target_size_width": i32(2)},
        )


def test_crop() -> None:
    with pytest.raises(MILError, match="removes all of dim -1"):
        infer("crop", {"x": T("fp16", 1, 4, 4), "crop_height": i32v(0, 0), "crop_width": i32v(2, 2)})
    assert infer("crop", {"x": T("fp16", 1, None, 4), "crop_height": i32v(1, 1), "crop_width": i32v(0, 1)}) == [
        T("fp16", 1, None, 3)
    ]


def test_resize_ios17() -> None:
    x = T("fp16", 1, 2, 3, 4)
    shape = np.asarray([1, 6, 8], np.int32)
    n = np.uint32(2)
    assert infer("resize", {"x": x, "shape": shape, "resized_dims": n}) == [T("fp16", 1, 2, 6, 8)]
    assert infer("resize", {"x": x, "shape": np.asarray([1, 0, 0], np.int32), "resized_dims": n}) == [x]
    assert infer("resize", {"x": x, "shape": T("int32", 3), "resized_dims": n}) == [T("fp16", 1, 2, None, None)]
    with pytest.raises(MILError, match=r"resized_dims \(4\) <= len\(shape\) \(3\)"):
        infer("resize", {"x": x, "shape": shape, "resized_dims": np.uint32(4)})
    with pytest.raises(MILError, match="not available in opset ios16"):
        infer("resize", {"x": x, "shape": shape, "resized_dims": n}, opset="ios16")
