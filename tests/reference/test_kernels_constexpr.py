"""Decompression (constexpr_*) kernels: hand-checked values and bit layouts (docs/internals/mil-format.md §7.4,
§9.5)."""

from __future__ import annotations

import numpy as np
import pytest
from _ref_helpers import call, call1

from anekit.errors import MILError
from anekit.reference.kernels.constexpr import unpack_lsb_first


def test_unpack_is_lsb_first():
    # 0b11_10_01_00 packs the 2-bit values 0, 1, 2, 3 starting at the least significant bits (mil-format §9.5)
    assert unpack_lsb_first(np.uint8([0b11100100]), 2, 4).tolist() == [0, 1, 2, 3]
    assert unpack_lsb_first(np.uint8([0b00000101, 0b1]), 1, 9).tolist() == [1, 0, 1, 0, 0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="fewer"):
        unpack_lsb_first(np.uint8([1]), 4, 3)


def test_affine_dequantize_per_channel():
    q = np.int8([[-128, 0, 127], [10, 20, 30]])
    got = call1(
        "constexpr_affine_dequantize",
        quantized_data=q,
        zero_point=np.int8([0, 10]),
        scale=np.float32([0.5, 2.0]),
        axis=np.int32(0),
    )
    np.testing.assert_array_equal(got, [[-64, 0, 63.5], [0, 20, 40]])
    got = call1(
        "constexpr_affine_dequantize",
        quantized_data=q,
        zero_point=np.float32(1.0),
        scale=np.float32(0.25),
        axis=np.int32(1),
    )
    np.testing.assert_array_equal(got, (q.astype(np.float32) - 1) * 0.25)


def test_constexpr_cast_and_lut_to_dense_ios16():
    assert call1("constexpr_cast", source_val=np.float32([1.5]), output_dtype="fp32").tolist() == [1.5]
    lut = np.float32([-1.0, 0.0, 0.5, 2.0])
    got = call1("constexpr_lut_to_dense", indices=np.uint8([0b11100100, 0b00000001]), lut=lut, shape=np.uint32([5]))
    assert got.tolist() == [-1.0, 0.0, 0.5, 2.0, 0.0]
    with pytest.raises(MILError, match="lut must be 1-D"):
        call1("constexpr_lut_to_dense", indices=np.uint8([0]), lut=np.zeros(3, np.float32), shape=np.uint32([2]))


def test_lut_to_dense_ios18_blocks_and_vectors():
    idx = np.uint8([[0, 1, 1, 0]])  # [1, 4]
    lut = np.float32([[[[10], [11]], [[20], [21]]]])  # [1, 2 blocks, 2 entries, V=1]
    assert call1("constexpr_lut_to_dense", indices=idx, lut=lut).tolist() == [[10, 11, 21, 20]]
    vec = np.float32([[[[1, 2], [3, 4]]]])  # [1, 1, 2 entries, V=2]
    got = call1("constexpr_lut_to_dense", indices=np.uint8([[1, 0]]), lut=vec, vector_axis=np.int32(1))
    assert got.tolist() == [[3, 4, 1, 2]]


def test_sparse_to_dense_both_forms():
    got = call1(
        "constexpr_sparse_to_dense",
        nonzero_data=np.float32([7, 8, 9]),
        mask=np.uint8([0b10010001]),
        shape=np.uint32([2, 4]),
    )
    assert got.tolist() == [[7, 0, 0, 0], [8, 0, 0, 9]]
    got = call1("constexpr_sparse_to_dense", nonzero_data=np.float32([1, 2]), mask=np.uint8([[0, 1], [1, 0]]))
    assert got.tolist() == [[0, 1], [2, 0]]
    with pytest.raises(MILError, match="set bits"):
        call1("constexpr_sparse_to_dense", nonzero_data=np.float32([1]), mask=np.uint8([[1, 1]]))


def test_blockwise_shift_scale_and_sparse_variants():
    data = np.int8([[1, 2, 3, 4], [5, 6, 7, 8]])
    scale = np.float32([[1.0, 10.0], [2.0, 20.0]])  # blocks of 2 along axis 1
    offset = np.int8([[1, 0], [0, 1]])
    got = call1("constexpr_blockwise_shift_scale", data=data, scale=scale, offset=offset)
    assert got.tolist() == [[0, 1, 30, 40], [10, 12, 120, 140]]
    mask, vals = call(
        "constexpr_sparse_blockwise_shift_scale",
        data_mask=np.uint8([[1, 0, 0, 1], [0, 1, 1, 0]]),
        nonzero_data=np.int8([1, 4, 6, 7]),
        scale=scale,
        offset=offset,
    )
    assert mask.tolist() == [[1, 0, 0, 1], [0, 1, 1, 0]]
    assert vals.tolist() == [0, 40, 12, 120]
    mask, vals = call(
        "constexpr_lut_to_sparse",
        indices_mask=np.uint8([[1, 0, 1]]),
        indices_nonzero_data=np.uint8([1, 0]),
        lut=np.float32([[[[5], [6]]]]),
    )
    assert mask.tolist() == [[1, 0, 1]]
    assert vals.tolist() == [6, 5]
