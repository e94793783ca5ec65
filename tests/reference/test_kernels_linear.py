"""matmul / linear / einsum kernels against PyTorch and numpy."""

from __future__ import annotations

import numpy as np
import pytest
from _ref_helpers import call1, randn, torch_of

from anekit.errors import MILError


@pytest.mark.parametrize(
    ("xs", "ys", "tx", "ty"),
    [
        ((4, 8), (8, 5), False, False),
        ((8, 4), (8, 5), True, False),
        ((4, 8), (5, 8), False, True),
        ((2, 1, 8, 4), (3, 8, 5), True, False),  # batch broadcasting
        ((1, 12, 16, 8), (1, 12, 16, 8), False, True),  # attention scores Q·Kᵀ
        ((8,), (8, 3), True, False),  # 1-D: the transpose flag has no effect
        ((2, 3, 8), (8,), False, True),
    ],
)
def test_matmul_matches_torch(xs, ys, tx, ty):
    torch = pytest.importorskip("torch")
    x, y = randn(*xs, seed=1), randn(*ys, seed=2)
    got = call1("matmul", x=x, y=y, transpose_x=np.bool_(tx), transpose_y=np.bool_(ty))
    tx_, ty_ = torch_of(x), torch_of(y)
    if tx and x.ndim >= 2:
        tx_ = tx_.transpose(-1, -2)
    if ty and y.ndim >= 2:
        ty_ = ty_.transpose(-1, -2)
    np.testing.assert_allclose(got, torch.matmul(tx_, ty_).numpy(), rtol=1e-5, atol=1e-5)


def test_matmul_int32_and_shape_errors():
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    assert call1("matmul", x=x, y=x.T.copy()).tolist() == (x @ x.T).tolist()
    with pytest.raises(MILError, match="inner dimensions"):
        call1("matmul", x=x, y=x)


def test_linear_matches_torch():
    torch = pytest.importorskip("torch")
    x, w, b = randn(2, 3, 16, seed=3), randn(10, 16, seed=4), randn(10, seed=5)
    got = call1("linear", x=x, weight=w, bias=b)
    np.testing.assert_allclose(
        got, torch.nn.functional.linear(torch_of(x), torch_of(w), torch_of(b)).numpy(), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(call1("linear", x=x, weight=w), x @ w.T, rtol=1e-5, atol=1e-5)
    with pytest.raises(MILError, match="weight"):
        call1("linear", x=x, weight=randn(10, 15))


def test_einsum_follows_numpy():
    a, b = randn(2, 3, 4, seed=6), randn(2, 4, 5, seed=7)
    got = call1("einsum", values=(a, b), equation="bij,bjk->bik")
    np.testing.assert_allclose(got, np.einsum("bij,bjk->bik", a, b), rtol=1e-5)
    with pytest.raises(MILError, match="einsum equation"):
        call1("einsum", values=(a, b), equation="ij,jk->ik")


@pytest.mark.parametrize(("runs", "k", "n"), [((32, 32, 32), 64, 128), ((1, 31, 32, 32), 128, 64), ((5, 1, 2), 16, 8)])
def test_matmul_repeated_rows_give_identical_output_rows(runs: tuple[int, ...], k: int, n: int) -> None:
    # Output row i depends on row i of x alone: repeated rows (a decode step's padded queries) must give
    # bit-identical rows. numpy's batched product over all rows does not: some rows come out in another order.
    rng = np.random.default_rng(len(runs))
    x = np.concatenate([np.repeat(rng.standard_normal((1, 3, 1, k)), r, axis=2) for r in runs], axis=2)
    x = x.astype(np.float32)
    y = rng.standard_normal((1, 3, k, n)).astype(np.float32)
    got = call1("matmul", x=x, y=y)
    start = 0
    for r in runs:
        for i in range(start + 1, start + r):
            np.testing.assert_array_equal(got[:, :, i], got[:, :, start])
        start += r
    np.testing.assert_allclose(got, np.matmul(x.astype(np.float64), y), rtol=1e-5, atol=1e-4)


def test_matmul_rows_repeated_in_one_batch_only_are_not_shared() -> None:
    x = np.ones((2, 4, 3), np.float32)
    x[1, 2] = 5.0  # batch 1's row 2 differs from its row 1
    y = np.arange(6, dtype=np.float32).reshape(3, 2)
    got = call1("matmul", x=x, y=y)
    np.testing.assert_array_equal(got, np.matmul(x, y))
