"""scaled_dot_product_attention, pooling and resampling kernels against PyTorch and hand-checked grids."""

from __future__ import annotations

import numpy as np
import pytest
from _ref_helpers import call1, randn, torch_of

from anekit.errors import MILError

I32 = np.int32


@pytest.mark.parametrize("mask", [None, "bool", "float"])
def test_sdpa_matches_torch(mask):
    torch = pytest.importorskip("torch")
    q, k, v = randn(2, 3, 5, 8, seed=1), randn(2, 3, 7, 8, seed=2), randn(2, 3, 7, 4, seed=3)
    m = None
    if mask == "bool":
        m = np.tril(np.ones((5, 7), bool))
    elif mask == "float":
        m = randn(1, 5, 7, seed=4)
    got = call1("scaled_dot_product_attention", query=q, key=k, value=v, **({} if m is None else {"attn_mask": m}))
    ref = torch.nn.functional.scaled_dot_product_attention(
        torch_of(q), torch_of(k), torch_of(v), attn_mask=None if m is None else torch_of(m)
    )
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_sdpa_scale_is_one_over_sqrt_e_and_shapes_are_checked():
    q = np.ones((1, 1, 1, 4), np.float32)
    k = np.float32([[[[1, 1, 1, 1], [0, 0, 0, 0]]]])
    v = np.float32([[[[1.0], [0.0]]]])
    got = call1("scaled_dot_product_attention", query=q, key=k, value=v)
    w = np.exp(4 / 2) / (np.exp(4 / 2) + 1)  # scores 4/√4 and 0
    assert got.item() == pytest.approx(w, rel=1e-6)
    with pytest.raises(MILError, match="shapes do not fit"):
        call1("scaled_dot_product_attention", query=q, key=k[..., :3], value=v)


@pytest.mark.parametrize("ceil", [False, True])
@pytest.mark.parametrize("exclude", [False, True])
def test_pools_match_torch(ceil, exclude):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = randn(1, 2, 7, 8, seed=5)
    kw = {
        "kernel_sizes": I32([3, 2]),
        "strides": I32([2, 2]),
        "pad_type": "custom",
        "pad": I32([1, 1, 0, 0]),
        "ceil_mode": np.bool_(ceil),
    }
    got = call1("avg_pool", x=x, exclude_padding_from_average=np.bool_(exclude), **kw)
    ref = F.avg_pool2d(torch_of(x), (3, 2), (2, 2), (1, 0), ceil_mode=ceil, count_include_pad=not exclude)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-6)
    got = call1("max_pool", x=x, **kw)
    ref = F.max_pool2d(torch_of(x), (3, 2), (2, 2), (1, 0), ceil_mode=ceil)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-6)
    got = call1("l2_pool", x=x[:, :, :6], kernel_sizes=I32([2, 2]), strides=I32([2, 2]), pad_type="valid")
    ref = F.lp_pool2d(torch_of(x[:, :, :6].copy()), 2.0, (2, 2), (2, 2))
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5)


def test_pool_same_padding_1d_and_3d_shapes():
    x = randn(1, 1, 5, seed=6)
    got = call1("max_pool", x=x, kernel_sizes=I32([2]), strides=I32([2]), pad_type="same")
    np.testing.assert_array_equal(got.ravel(), [x[0, 0, 0:2].max(), x[0, 0, 2:4].max(), x[0, 0, 4]])
    assert call1(
        "avg_pool", x=randn(1, 1, 4, 4, 4), kernel_sizes=I32([2, 2, 2]), pad_type="valid", strides=I32([2, 2, 2])
    ).shape == (1, 1, 2, 2, 2)


def test_upsample_and_resize_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = randn(1, 2, 3, 4, seed=7)
    got = call1("upsample_nearest_neighbor", x=x, scale_factor_height=np.float32(2), scale_factor_width=np.float32(3))
    np.testing.assert_array_equal(got, F.interpolate(torch_of(x), scale_factor=(2, 3), mode="nearest").numpy())
    for ac in (True, False):
        got = call1(
            "upsample_bilinear",
            x=x,
            scale_factor_height=np.float32(2),
            scale_factor_width=np.float32(2),
            align_corners=np.bool_(ac),
        )
        ref = F.interpolate(torch_of(x), scale_factor=(2, 2), mode="bilinear", align_corners=ac)
        np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-6)
    got = call1("resize_nearest_neighbor", x=x, target_size_height=I32(6), target_size_width=I32(5))
    np.testing.assert_array_equal(got, F.interpolate(torch_of(x), size=(6, 5), mode="nearest").numpy())
    got = call1(
        "resize_bilinear", x=x, target_size_height=I32(5), target_size_width=I32(7), sampling_mode="UNALIGN_CORNERS"
    )
    ref = F.interpolate(torch_of(x), size=(5, 7), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-6)


def test_resize_bilinear_grids_from_the_mil_documentation():
    x = np.float32([[[0.0, 1.0]]])  # Xin = 2 along the width; the values are the sample positions
    doc = {
        "UNALIGN_CORNERS": [0.0, 0.1, 0.5, 0.9, 1.0],
        "ALIGN_CORNERS": [0.0, 0.25, 0.5, 0.75, 1.0],
        "DEFAULT": [0.0, 0.4, 0.8, 1.0, 1.0],
        "OFFSET_CORNERS": [0.1, 0.3, 0.5, 0.7, 0.9],
    }
    for mode, grid in doc.items():
        got = call1("resize_bilinear", x=x, target_size_height=I32(1), target_size_width=I32(5), sampling_mode=mode)
        np.testing.assert_allclose(got.ravel(), grid, atol=1e-6, err_msg=mode)


def test_crop():
    x = np.arange(20, dtype=np.float32).reshape(1, 4, 5)
    np.testing.assert_array_equal(call1("crop", x=x, crop_height=I32([1, 2]), crop_width=I32([0, 3])), x[:, 1:2, 0:2])
    with pytest.raises(MILError, match="crop"):
        call1("crop", x=x, crop_height=I32([2, 2]), crop_width=I32([0, 0]))


def test_resize_generalises_the_2d_resizes():
    x = randn(1, 2, 3, 4, seed=8)
    lin = call1("resize", x=x, shape=I32([1, 5, 7]), resized_dims=np.uint32(2), sampling_mode="ALIGN_CORNERS")
    ref = call1(
        "resize_bilinear", x=x, target_size_height=I32(5), target_size_width=I32(7), sampling_mode="ALIGN_CORNERS"
    )
    np.testing.assert_allclose(lin, ref, rtol=1e-6, atol=1e-7)
    nn = call1("resize", x=x, shape=I32([6, 0]), resized_dims=np.uint32(2), interpolation_mode="NEAREST_NEIGHBOR")
    np.testing.assert_array_equal(
        nn, call1("resize_nearest_neighbor", x=x, target_size_height=I32(6), target_size_width=I32(4))
    )
    one = call1("resize", x=x, shape=I32([8]), resized_dims=np.uint32(1), sampling_mode="UNALIGN_CORNERS")
    torch = pytest.importorskip("torch")
    ref = torch.nn.functional.interpolate(torch_of(x.reshape(1, 6, 4)), size=8, mode="linear", align_corners=False)
    np.testing.assert_allclose(one.reshape(1, 6, 8), ref.numpy(), rtol=1e-5, atol=1e-6)
