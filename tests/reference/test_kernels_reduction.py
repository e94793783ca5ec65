"""Reduction kernels against numpy definitions (float64 oracle) and PyTorch for logsumexp."""

from __future__ import annotations

import numpy as np
import pytest
from _ref_helpers import call1, randn

X = randn(3, 4, 5, seed=1) + 2.0

REF = {
    "reduce_sum": np.sum,
    "reduce_mean": np.mean,
    "reduce_max": np.max,
    "reduce_min": np.min,
    "reduce_prod": np.prod,
    "reduce_l1_norm": lambda v, axis, keepdims: np.sum(np.abs(v), axis=axis, keepdims=keepdims),
    "reduce_l2_norm": lambda v, axis, keepdims: np.sqrt(np.sum(v * v, axis=axis, keepdims=keepdims)),
    "reduce_log_sum": lambda v, axis, keepdims: np.log(np.sum(v, axis=axis, keepdims=keepdims)),
    "reduce_log_sum_exp": lambda v, axis, keepdims: np.log(np.sum(np.exp(v), axis=axis, keepdims=keepdims)),
    "reduce_sum_square": lambda v, axis, keepdims: np.sum(v * v, axis=axis, keepdims=keepdims),
}


@pytest.mark.parametrize("op", sorted(REF))
@pytest.mark.parametrize(("axes", "keep"), [(None, False), ([1], True), ([-1, 0], False)])
def test_reductions(op, axes, keep):
    kwargs = {} if axes is None else {"axes": np.int32(axes)}
    got = call1(op, x=X, keep_dims=np.bool_(keep), **kwargs)
    ax = None if axes is None else tuple(a % 3 for a in axes)
    ref = REF[op](X.astype(np.float64), axis=ax, keepdims=keep)
    np.testing.assert_allclose(got, ref, rtol=2e-6)


def test_log_sum_exp_is_stable_for_large_values():
    x = np.float32([[1000.0, 1000.0], [-1000.0, -np.inf]])
    np.testing.assert_allclose(
        call1("reduce_log_sum_exp", x=x, axes=np.int32([1])), [1000 + np.log(2), -1000], rtol=1e-6
    )


def test_arg_reductions_take_the_first_extreme_and_honour_output_dtype():
    x = np.float32([[1, 5, 5, 0], [7, 7, -1, -1]])
    assert call1("reduce_argmax", x=x).tolist() == [1, 0]
    assert call1("reduce_argmin", x=x, axis=np.int32(0), keep_dims=np.bool_(True)).tolist() == [[0, 0, 1, 1]]
    out = call1("reduce_argmax", x=x, output_dtype="uint16")
    assert out.dtype == np.uint16


def test_integer_mean_truncates():
    x = np.int32([[1, 2], [3, 5]])
    assert call1("reduce_sum", x=x, axes=np.int32([1])).tolist() == [3, 8]
    assert call1("reduce_mean", x=x, axes=np.int32([1])).astype(np.int32).tolist() == [1, 4]
