"""conv / conv_transpose kernels against PyTorch and against a naive loop implementation."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from _ref_helpers import call1, randn, torch_of

from anekit.errors import MILError


def naive_conv(x, w, b, strides, pads, dil, groups):
    """Direct-definition N-D grouped convolution with explicit (before, after) pads (float64 loops)."""
    x = np.pad(x.astype(np.float64), [(0, 0), (0, 0), *pads])
    n, _cin = x.shape[:2]
    cout, cg = w.shape[:2]
    ks = w.shape[2:]
    nsp = len(ks)
    outs = [(x.shape[2 + i] - ((ks[i] - 1) * dil[i] + 1)) // strides[i] + 1 for i in range(nsp)]
    y = np.zeros((n, cout, *outs))
    og = cout // groups
    for bn, co in itertools.product(range(n), range(cout)):
        g = co // og
        for pos in itertools.product(*(range(o) for o in outs)):
            acc = 0.0
            for ci in range(cg):
                for k in itertools.product(*(range(s) for s in ks)):
                    idx = tuple(pos[i] * strides[i] + k[i] * dil[i] for i in range(nsp))
                    acc += x[(bn, g * cg + ci, *idx)] * w[(co, ci, *k)]
            y[(bn, co, *pos)] = acc + (0.0 if b is None else b[co])
    return y


@pytest.mark.parametrize(
    ("shape", "wshape", "strides", "dil", "groups"),
    [
        ((1, 4, 9), (6, 4, 3), (1,), (1,), 1),
        ((2, 4, 10), (4, 2, 4), (2,), (1,), 2),
        ((1, 3, 7, 6), (5, 3, 2, 3), (2, 1), (1, 2), 1),
        ((1, 4, 6, 5), (4, 1, 3, 3), (1, 2), (1, 1), 4),  # depthwise
        ((1, 2, 4, 5, 4), (3, 2, 2, 3, 2), (1, 2, 1), (1, 1, 2), 1),  # 3-D
    ],
)
@pytest.mark.parametrize("pad_type", ["valid", "same", "same_lower", "custom"])
def test_conv_matches_naive_definition(shape, wshape, strides, dil, groups, pad_type):
    x = randn(*shape, seed=1)
    w = randn(*wshape, seed=2)
    b = randn(wshape[0], seed=3)
    nsp = len(shape) - 2
    custom = [1, 2, 0, 1, 2, 0][: 2 * nsp]
    y = call1(
        "conv",
        x=x,
        weight=w,
        bias=b,
        strides=np.int32(strides),
        pad_type=pad_type,
        pad=np.int32(custom),
        dilations=np.int32(dil),
        groups=np.int32(groups),
    )
    if pad_type == "valid":
        pads = [(0, 0)] * nsp
    elif pad_type == "custom":
        pads = [(custom[2 * i], custom[2 * i + 1]) for i in range(nsp)]
    else:
        pads = []
        for i in range(nsp):
            dk = (wshape[2 + i] - 1) * dil[i] + 1
            d = shape[2 + i]
            total = max(0, (math.ceil(d / strides[i]) - 1) * strides[i] + dk - d)
            lo, hi = total // 2, total - total // 2
            pads.append((lo, hi) if pad_type == "same" else (hi, lo))
        assert y.shape[2:] == tuple(math.ceil(shape[2 + i] / strides[i]) for i in range(nsp))
    ref = naive_conv(x, w, b, strides, pads, dil, groups)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_same_padding_puts_the_odd_element_after_and_same_lower_before():
    # D=6, K=3, s=2: d_out=3, total pad 1 -> same: (0, 1), same_lower: (1, 0) (docs/internals/mil-format.md §10.1).
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    w = np.ones((1, 1, 3), np.float32)
    same = call1("conv", x=x, weight=w, strides=np.int32([2]), pad_type="same")
    lower = call1("conv", x=x, weight=w, strides=np.int32([2]), pad_type="same_lower")
    np.testing.assert_array_equal(same.ravel(), [0 + 1 + 2, 2 + 3 + 4, 4 + 5 + 0])
    np.testing.assert_array_equal(lower.ravel(), [0 + 0 + 1, 1 + 2 + 3, 3 + 4 + 5])


def _against_torch(
    op: str, torch_fn: Callable[..., Any], x: np.ndarray, w: np.ndarray, b: np.ndarray, groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """``op`` and its torch counterpart on the same operands with strides 2, dilations (1, 2, 2)[:nsp] and
    1 element of padding on every side; returns (anekit result, torch result)."""
    nsp = x.ndim - 2
    st, dl, pd = (2,) * nsp, (1,) + (2,) * (nsp - 1), (1,) * nsp
    y = call1(
        op,
        x=x,
        weight=w,
        bias=b,
        strides=np.int32(st),
        dilations=np.int32(dl),
        pad_type="custom",
        pad=np.int32([p for p in pd for _ in range(2)]),
        groups=np.int32(groups),
    )
    ref = torch_fn(torch_of(x), torch_of(w), torch_of(b), stride=st, padding=pd, dilation=dl, groups=groups)
    return y, ref.numpy()


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv_matches_torch(nsp, groups):
    torch = pytest.importorskip("torch")
    f = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d, 3: torch.nn.functional.conv3d}[nsp]
    spatial = (9, 7, 5)[:nsp]
    x = randn(2, 4, *spatial, seed=4)
    w = randn(6, 4 // groups, *(3,) * nsp, seed=5)
    b = randn(6, seed=6)
    y, ref = _against_torch("conv", f, x, w, b, groups)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
def test_conv_same_matches_torch_same_for_even_kernels():
    torch = pytest.importorskip("torch")
    x = randn(1, 3, 11, 8, seed=7)
    w = randn(5, 3, 4, 2, seed=8)
    y = call1("conv", x=x, weight=w, pad_type="same", dilations=np.int32([1, 3]))
    ref = torch.nn.functional.conv2d(torch_of(x), torch_of(w), padding="same", dilation=(1, 3)).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_pointwise_conv_on_ane_layout_is_a_matmul():
    x = randn(1, 64, 1, 32, seed=9)
    w = randn(48, 64, 1, 1, seed=10)
    y = call1("conv", x=x, weight=w)
    np.testing.assert_allclose(y[0, :, 0, :], w[:, :, 0, 0] @ x[0, :, 0, :], rtol=1e-5, atol=1e-5)


def test_conv_rejects_bad_groups_and_channels():
    x = randn(1, 4, 8, seed=1)
    with pytest.raises(MILError, match="groups 3"):
        call1("conv", x=x, weight=randn(6, 1, 3), groups=np.int32(3))
    with pytest.raises(MILError, match="input channels per group"):
        call1("conv", x=x, weight=randn(6, 3, 3))
    with pytest.raises(MILError, match="pad_type"):
        call1("conv", x=x, weight=randn(6, 4, 3), pad_type="full")


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv_transpose_matches_torch(nsp, groups):
    torch = pytest.importorskip("torch")
    f = {
        1: torch.nn.functional.conv_transpose1d,
        2: torch.nn.functional.conv_transpose2d,
        3: torch.nn.functional.conv_transpose3d,
    }[nsp]
    spatial = (5, 4, 3)[:nsp]
    x = randn(2, 4, *spatial, seed=11)
    w = randn(4, 6 // groups, *(3,) * nsp, seed=12)
    b = randn(6, seed=13)
    y, ref = _against_torch("conv_transpose", f, x, w, b, groups)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_conv_transpose_output_sizes_per_pad_type():
    x = randn(1, 2, 5, seed=14)
    w = randn(2, 3, 4, seed=15)
    full = call1("conv_transpose", x=x, weight=w, strides=np.int32([2]))
    assert full.shape == (1, 3, (5 - 1) * 2 + 4)
    same = call1("conv_transpose", x=x, weight=w, strides=np.int32([2]), pad_type="same")
    assert same.shape == (1, 3, 10)
    np.testing.assert_array_equal(same, full[:, :, 1:11])  # excess 2 split 1 before, 1 after
    shaped = call1("conv_transpose", x=x, weight=w, strides=np.int32([2]), output_shape=np.int32([1, 3, 13]))
    np.testing.assert_array_equal(shaped[:, :, :12], full)
    np.testing.assert_array_equal(shaped[:, :, 12], 0)


def _repeat_tail(x: np.ndarray, distinct: int) -> np.ndarray:
    """``x [1, C, 1, S]`` with columns ``distinct..S-1`` replaced by copies of column ``distinct``."""
    out = x.copy()
    out[..., distinct + 1 :] = out[..., distinct : distinct + 1]
    return out


@pytest.mark.parametrize("distinct", [0, 1, 5, 30])
def test_conv_1x1_identical_columns_give_identical_outputs(distinct: int) -> None:
    # A 1x1 conv's output column depends on its input column alone, so repeated input columns must give
    # bit-identical outputs (decode's 32 padded copies of one token rely on it). One GEMM over all columns
    # does not: OpenBLAS sums some column panels in another order. Sizes as SmolLM2's projections.
    x = _repeat_tail(randn(1, 576, 1, 32, seed=4), distinct)
    w = randn(192, 576, 1, 1, seed=5)
    y = call1("conv", x=x, weight=w)
    for j in range(distinct + 1, 32):
        np.testing.assert_array_equal(y[..., j], y[..., distinct])
    want = np.einsum("oi,is->os", w[:, :, 0, 0].astype(np.float64), x[0, :, 0, :].astype(np.float64))
    np.testing.assert_allclose(y[0, :, 0, :], want, rtol=1e-5, atol=1e-4)


def test_conv_1x1_repeated_non_finite_columns_keep_ieee_results() -> None:
    # Columns are matched by their bits, so a repeated column holding inf is shared too; its outputs must still
    # be what the product gives (0 * inf = NaN, inf + finite = inf) in every copy.
    x = _repeat_tail(randn(1, 8, 1, 6, seed=6), 2)
    x[0, 0, 0, 2:] = np.inf
    w = randn(3, 8, 1, 1, seed=7)
    w[0, 0] = 0.0
    with np.errstate(invalid="ignore"):  # 0 * inf: the executor runs kernels under this errstate too
        y = call1("conv", x=x, weight=w)
    assert np.isnan(y[0, 0, 0, 2:]).all() and np.isinf(y[0, 1:, 0, 2:]).all()
    assert np.isfinite(y[..., :2]).all()
