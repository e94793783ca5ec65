"""Pure shape helpers of anekit.mil.ops._infer."""

from __future__ import annotations

import pytest

from anekit.mil.ops._infer import (
    InferError,
    broadcast_shapes,
    conv_output_dim,
    conv_transpose_output_dim,
    normalize_axes,
    normalize_axis,
    pool_output_dim,
    promote_dtype,
    same_padding,
    slice_by_index_shape,
    spatial_pads,
)


@pytest.mark.parametrize(
    ("a", "b", "out"),
    [
        ((1, 64, 1, 1), (1, 64, 1, 32), (1, 64, 1, 32)),
        ((1, 1, 1, 32), (1, 64, 1, 32), (1, 64, 1, 32)),
        ((1, 1, 8, 8), (1, 12, 8, 8), (1, 12, 8, 8)),
        ((), (3, 4), (3, 4)),
        ((None, 4), (3, 1), (3, 4)),
        ((None,), (None,), (None,)),
        ((None,), (1,), (None,)),
        ((5,), (None,), (5,)),
    ],
)
def test_broadcast(a: tuple, b: tuple, out: tuple) -> None:
    assert broadcast_shapes(a, b) == out
    assert broadcast_shapes(b, a) == out


def test_broadcast_error() -> None:
    with pytest.raises(InferError, match=r"\[2, 3\] and \[4\] do not broadcast \(dim -1: 3 vs 4\)"):
        broadcast_shapes((2, 3), (4,))


def test_promote() -> None:
    assert promote_dtype("fp16", "fp32") == "fp32"
    assert promote_dtype("int32", "fp16") == "fp16"
    assert promote_dtype("int8", "int32") == "int32"
    assert promote_dtype("bool", "bool") == "bool"
    with pytest.raises(InferError, match="no common type"):
        promote_dtype("string", "fp16")


def test_axes() -> None:
    assert normalize_axis(-1, 4) == 3
    assert normalize_axes([0, -1], 3) == [0, 2]
    with pytest.raises(InferError, match="axis 4 out of range for rank 4"):
        normalize_axis(4, 4)
    with pytest.raises(InferError, match="repeat an axis"):
        normalize_axes([1, -2], 3)


def test_conv_dims() -> None:
    assert conv_output_dim(640, 256, 128, 1, 0, 0) == 4
    assert conv_output_dim(10, 3, 1, 2, 1, 1) == 8
    assert conv_output_dim(None, 3, 1, 1, 0, 0) is None
    with pytest.raises(InferError, match="larger than the padded input"):
        conv_output_dim(2, 3, 1, 1, 0, 0)
    assert same_padding(10, 3, 2, 1, lower=False) == (0, 1)
    assert same_padding(10, 3, 2, 1, lower=True) == (1, 0)
    assert same_padding(9, 4, 1, 1, lower=False) == (1, 2)
    assert same_padding(None, 3, 1, 1, lower=False) is None
    assert spatial_pads("custom", [5, 5], [3, 3], [1, 1], [1, 1], [1, 2, 0, 0]) == [(1, 2), (0, 0)]
    with pytest.raises(InferError, match="pad_type must be one of"):
        spatial_pads("full", [5], [3], [1], [1], None)
    with pytest.raises(InferError, match="2\\*1 = 2 entries"):
        spatial_pads("custom", [5], [3], [1], [1], [1, 1, 1])
    assert conv_transpose_output_dim(5, 3, 2, 1, (0, 0)) == 11
    assert conv_transpose_output_dim(5, 3, 2, 1, (1, 1)) == 9


def test_pool_dims() -> None:
    assert pool_output_dim(8, 2, 2, (0, 0), False) == 4
    assert pool_output_dim(7, 2, 2, (0, 0), True) == 4
    assert pool_output_dim(7, 2, 2, (0, 0), False) == 3
    # coremltools' ceil-mode correction: drop a last window that starts in the padding.
    assert pool_output_dim(5, 2, 2, (1, 1), True) == 3
    assert pool_output_dim(6, 3, 3, (1, 1), True) == 3
    with pytest.raises(InferError, match="not positive"):
        pool_output_dim(1, 3, 1, (0, 0), False)


def test_slice_shape() -> None:
    f = [False] * 3
    assert slice_by_index_shape((1, 258, 4), [0, 0, 0], [1, 129, 4], [1, 1, 1], f, [True, False, True], f) == (
        1,
        129,
        4,
    )
    assert slice_by_index_shape((10,), [-3], [0], [1], [False], [True], [False]) == (3,)
    assert slice_by_index_shape((10,), [0], [0], [2], [True], [True], [False]) == (5,)
    assert slice_by_index_shape((None, 4), None, None, [1, 1], [True, True], [True, True], [False] * 2) == (None, 4)
    assert slice_by_index_shape((5, 4), None, [2, 2], [1, 1], [False, True], [False, False], [False] * 2) == (None, 2)
    with pytest.raises(InferError, match="stride\\[0\\] is 0"):
        slice_by_index_shape((5,), [0], [5], [0], [False], [False], [False])
    with pytest.raises(InferError, match="squeezed index begin\\[0\\] = 5 out of range"):
        slice_by_index_shape((5,), [5], [6], [1], [False], [False], [True])
