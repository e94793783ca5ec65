"""Shape, indexing and layout kernels (tensor_shape.py, tensor_index.py, tensor_layout.py) against numpy,
PyTorch and hand-checked values."""

from __future__ import annotations

import numpy as np
import pytest
from _ref_helpers import call, call1, randn, torch_of

from anekit.errors import MILError

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
I32 = np.int32


def test_reshape_zero_and_minus_one_rules_per_opset():
    assert call1("reshape", x=X, shape=I32([0, -1, 2]), opset="ios16").shape == (2, 6, 2)
    assert call1("reshape", x=X, shape=I32([6, 0]), opset="ios17").shape == (6, 4)  # right-aligned 0
    assert call1("reshape", x=X, shape=I32([0, 0, 0, 0]), opset="ios17").shape == (1, 2, 3, 4)
    with pytest.raises(MILError, match="cannot reshape"):
        call1("reshape", x=X, shape=I32([5, -1]))
    with pytest.raises(MILError, match="length differs"):
        call1("reshape", x=X, shape=I32([0, 12]), opset="ios15")


def test_transpose_expand_squeeze():
    np.testing.assert_array_equal(call1("transpose", x=X, perm=I32([2, 0, 1])), X.transpose(2, 0, 1))
    assert call1("expand_dims", x=X, axes=I32([0, -1])).shape == (1, 2, 3, 4, 1)
    assert call1("squeeze", x=X.reshape(1, 2, 1, 12)).shape == (2, 12)
    assert call1("squeeze", x=X.reshape(1, 2, 1, 12), axes=I32([2])).shape == (1, 2, 12)
    with pytest.raises(MILError, match="cannot squeeze"):
        call1("squeeze", x=X, axes=I32([0]))
    with pytest.raises(MILError, match="not a permutation"):
        call1("transpose", x=X, perm=I32([0, 0, 1]))


def test_concat_interleave_stack_split_tile():
    a, b = X[:, :1], X[:, 1:2]
    np.testing.assert_array_equal(call1("concat", values=(a, b), axis=I32(1)), X[:, :2])
    inter = call1("concat", values=(X, X + 100), axis=I32(1), interleave=np.bool_(True))
    np.testing.assert_array_equal(inter[:, 0::2], X)
    np.testing.assert_array_equal(inter[:, 1::2], X + 100)
    assert call1("stack", values=(X, X), axis=I32(-1)).shape == (2, 3, 4, 2)
    parts = call("split", x=X, axis=I32(2), split_sizes=I32([1, 3]))
    assert [p.shape for p in parts] == [(2, 3, 1), (2, 3, 3)]
    assert [p.shape for p in call("split", x=X, axis=I32(-1), num_splits=I32(2))] == [(2, 3, 2)] * 2
    np.testing.assert_array_equal(call1("tile", x=X, reps=I32([1, 2, 1])), np.tile(X, (1, 2, 1)))
    assert call1("concat", values=(np.float32(1), np.float32(2)), axis=I32(0)).tolist() == [1, 2]


@pytest.mark.parametrize(
    ("mode", "torch_mode"), [("constant", "constant"), ("reflect", "reflect"), ("replicate", "replicate")]
)
def test_pad_modes_match_torch(mode, torch_mode):
    torch = pytest.importorskip("torch")
    x = randn(1, 2, 5, 6, seed=1)
    kwargs = {"constant_val": np.float32(1.5)} if mode == "constant" else {}
    got = call1("pad", x=x, pad=I32([1, 2, 3, 0]), mode=mode, **kwargs)  # last two dims: H (1, 2), W (3, 0)
    ref = torch.nn.functional.pad(
        torch_of(x), (3, 0, 1, 2), mode=torch_mode, **({"value": 1.5} if mode == "constant" else {})
    )
    np.testing.assert_array_equal(got, ref.numpy())


def test_pad_limits_and_the_corpus_pattern():
    x = np.arange(5, dtype=np.float32).reshape(1, 5)
    np.testing.assert_array_equal(call1("pad", x=x, pad=I32([0, 0, 0, 3]), mode="reflect"), [[0, 1, 2, 3, 4, 3, 2, 1]])
    with pytest.raises(MILError, match="reflect pad"):
        call1("pad", x=x, pad=I32([0, 5]), mode="reflect")


def test_shape_range_fill_band_cumsum_identity():
    assert call1("shape", x=X).tolist() == [2, 3, 4]
    assert call1("range_1d", start=I32(2), end=I32(9), step=I32(3)).tolist() == [2, 5, 8]
    np.testing.assert_allclose(
        call1("range_1d", start=np.float32(0), end=np.float32(1), step=np.float32(0.25)), [0, 0.25, 0.5, 0.75]
    )
    assert call1("fill", shape=I32([2, 2]), value=np.float32(3)).tolist() == [[3, 3], [3, 3]]
    assert call1("fill_like", ref_tensor=X, value=np.float32(1)).shape == X.shape
    m = np.ones((4, 4), np.float32)
    np.testing.assert_array_equal(call1("band_part", x=m, lower=I32(-1), upper=I32(0)), np.tril(m))
    np.testing.assert_array_equal(call1("band_part", x=m, lower=I32(1), upper=I32(-1)), np.triu(m, -1))
    v = np.float32([1, 2, 3])
    assert call1("cumsum", x=v).tolist() == [1, 3, 6]
    assert call1("cumsum", x=v, exclusive=np.bool_(True)).tolist() == [0, 1, 3]
    assert call1("cumsum", x=v, reverse=np.bool_(True)).tolist() == [6, 5, 3]
    assert call1("cumsum", x=v, exclusive=np.bool_(True), reverse=np.bool_(True)).tolist() == [5, 3, 0]
    np.testing.assert_array_equal(call1("identity", x=X), X)


def test_slice_by_index_masks_like_the_corpus():
    x = randn(1, 258, 4, seed=2)
    # silero: begin [0, 0, 0], end [1, 129, 4], end_mask [true, false, true]
    got = call1(
        "slice_by_index", x=x, begin=I32([0, 0, 0]), end=I32([1, 129, 4]), end_mask=np.array([True, False, True])
    )
    np.testing.assert_array_equal(got, x[:, :129, :])
    got = call1(
        "slice_by_index",
        x=X,
        begin=I32([1, 0, 3]),
        end=I32([0, -1, 0]),
        stride=I32([1, 1, -2]),
        begin_mask=np.array([False, True, False]),
        end_mask=np.array([False, False, True]),
        squeeze_mask=np.array([True, False, False]),
    )
    np.testing.assert_array_equal(got, X[1, :-1, 3::-2])


def test_slice_by_size_and_slice_update():
    np.testing.assert_array_equal(
        call1("slice_by_size", x=X, begin=I32([1, 1, 0]), size=I32([1, -1, 2])), X[1:2, 1:, 0:2]
    )
    with pytest.raises(MILError, match="out of range"):
        call1("slice_by_size", x=X, begin=I32([1, 1, 0]), size=I32([2, 1, 1]))
    upd = np.full((2, 1, 4), -1, np.float32)
    got = call1("slice_update", x=X, update=upd, begin=I32([0, 2, 0]), end=I32([2, 3, 4]))
    ref = X.copy()
    ref[:, 2:3] = -1
    np.testing.assert_array_equal(got, ref)


def test_gather_family_and_bounds_rules():
    idx = I32([[2, 0], [1, 1]])
    np.testing.assert_array_equal(call1("gather", x=X, indices=idx, axis=I32(1)), np.take(X, idx, axis=1))
    np.testing.assert_array_equal(call1("gather", x=X, indices=I32([-1]), axis=I32(0), opset="ios16"), X[[1]])
    with pytest.raises(MILError, match="out of bounds"):
        call1("gather", x=X, indices=I32([-1]), axis=I32(0), opset="ios17")  # iOS17: negatives are invalid
    with pytest.raises(MILError, match="out of bounds"):
        call1("gather", x=X, indices=I32([2]), axis=I32(0))
    bidx = I32([[0, 2], [1, 1]])
    got = call1("gather", x=X, indices=bidx, axis=I32(1), batch_dims=I32(1))
    np.testing.assert_array_equal(got, np.stack([X[0, [0, 2]], X[1, [1, 1]]]))
    tak = I32([[[0, 3]], [[1, 1]]])
    np.testing.assert_array_equal(
        call1("gather_along_axis", x=X[:, :1], indices=tak, axis=I32(2)), np.take_along_axis(X[:, :1], tak, axis=2)
    )
    nd = I32([[1, 2], [0, 0]])
    np.testing.assert_array_equal(call1("gather_nd", x=X, indices=nd), X[[1, 0], [2, 0]])


@pytest.mark.parametrize(
    ("mode", "fn"),
    [
        ("update", None),
        ("add", np.add),
        ("sub", np.subtract),
        ("mul", np.multiply),
        ("div", np.divide),
        ("max", np.maximum),
        ("min", np.minimum),
    ],
)
def test_scatter_modes_with_repeated_indices(mode, fn):
    data = np.arange(1, 7, dtype=np.float32).reshape(3, 2)
    upd = np.float32([[10, 20], [30, 40], [50, 60]])
    idx = I32([0, 2, 0])
    got = call1("scatter", data=data, indices=idx, updates=upd, axis=I32(0), mode=mode)
    ref = data.copy()
    for i, k in enumerate(idx):
        ref[k] = upd[i] if fn is None else fn(ref[k], upd[i])
    np.testing.assert_allclose(got, ref)


def test_scatter_along_axis_and_nd():
    data = np.zeros((2, 3), np.float32)
    got = call1(
        "scatter_along_axis",
        data=data,
        indices=I32([[1, 0, 1]]),
        updates=np.float32([[1, 2, 3]]),
        axis=I32(0),
        mode="update",
    )
    assert got.tolist() == [[0, 2, 0], [1, 0, 3]]
    got = call1(
        "scatter_along_axis",
        data=data,
        indices=I32([[2, 0, 0], [1, 1, 1]]),
        updates=np.float32([[1, 2, 3], [4, 5, 6]]),
        axis=I32(1),
        mode="add",
    )
    assert got.tolist() == [[5, 0, 1], [0, 15, 0]]
    got = call1("scatter_nd", data=data, indices=I32([[1, 2], [0, 0], [1, 2]]), updates=np.float32([1, 2, 3]))
    assert got.tolist() == [[2, 0, 0], [0, 0, 4]]


def test_select_topk_argsort():
    c = np.array([True, False, True])
    assert call1("select", cond=c, a=np.float32([1, 2, 3]), b=np.float32([9])).tolist() == [1, 9, 3]
    x = np.float32([[3, 1, 3, 2], [0, 5, 4, 5]])
    v, i = call("topk", x=x, k=I32(2))
    assert v.tolist() == [[3, 3], [5, 5]]
    assert i.tolist() == [[0, 2], [1, 3]]
    v, i = call("topk", x=x, k=I32(2), ascending=np.bool_(True), output_indices_dtype="uint16")
    assert v.tolist() == [[1, 2], [0, 4]]
    assert i.dtype == np.uint16
    assert len(call("topk", x=x, k=I32(-1), return_indices=np.bool_(False))) == 1
    assert call1("argsort", x=x).tolist() == [[0, 2, 3, 1], [1, 3, 2, 0]]
    assert call1("argsort", x=x, ascending=np.bool_(True)).tolist() == [[1, 3, 0, 2], [0, 2, 1, 3]]


def test_layout_ops_match_torch():
    torch = pytest.importorskip("torch")
    x = randn(1, 8, 3, 2, seed=3)
    np.testing.assert_array_equal(
        call1("pixel_shuffle", x=x, upscale_factor=I32(2)), torch.nn.functional.pixel_shuffle(torch_of(x), 2).numpy()
    )
    y = randn(1, 2, 6, 4, seed=4)
    np.testing.assert_array_equal(
        call1("pixel_unshuffle", x=y, downscale_factor=np.uint32(2)),
        torch.nn.functional.pixel_unshuffle(torch_of(y), 2).numpy(),
    )


def test_depth_space_round_trip_and_dcr_order():
    x = np.arange(8, dtype=np.float32).reshape(1, 4, 1, 2)
    d2s = call1("depth_to_space", x=x, block_size=I32(2))
    # DCR: output (h, w) = (i, 2·w0 + j) reads channel (i·2 + j)·C + c with C = 1
    assert d2s[0, 0].tolist() == [[0, 2, 1, 3], [4, 6, 5, 7]]
    np.testing.assert_array_equal(call1("space_to_depth", x=d2s, block_size=I32(2)), x)


def test_flatten_reverse_windows_one_hot_non_zero():
    assert call1("flatten2d", x=X, axis=I32(2)).shape == (6, 4)
    np.testing.assert_array_equal(call1("reverse", x=X, axes=I32([0, 2])), X[::-1, :, ::-1])
    w = call1("sliding_windows", x=np.arange(6, dtype=np.float32), axis=I32(0), size=I32(3), stride=I32(2))
    assert w.tolist() == [[0, 1, 2], [2, 3, 4]]
    oh = call1("one_hot", indices=I32([0, 2, 5]), one_hot_vector_size=I32(3))
    assert oh.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]
    assert call1("one_hot", indices=I32([1]), one_hot_vector_size=I32(2), axis=I32(0)).tolist() == [[0], [1]]
    assert call1("non_zero", x=np.float32([[0, 1], [2, 0]])).tolist() == [[0, 1], [1, 0]]
