"""Elementwise binary kernels: numpy broadcasting semantics, integer rules, comparisons and logic."""

from __future__ import annotations

import operator

import numpy as np
import pytest
from _ref_helpers import call1, randn

from anekit.errors import MILError

A = randn(1, 4, 1, 6, seed=1)
B = randn(1, 4, 1, 1, seed=2) + 3.0  # the ANE broadcast pattern [1, C, 1, 1] x [1, C, 1, S]


@pytest.mark.parametrize(
    ("op", "fn"),
    [
        ("add", operator.add),
        ("sub", operator.sub),
        ("mul", operator.mul),
        ("real_div", operator.truediv),
        ("maximum", np.maximum),
        ("minimum", np.minimum),
        ("floor_div", operator.floordiv),
        ("mod", operator.mod),
        ("pow", lambda a, b: np.abs(a) ** b),
        ("equal", operator.eq),
        ("not_equal", operator.ne),
        ("less", operator.lt),
        ("less_equal", operator.le),
        ("greater", operator.gt),
        ("greater_equal", operator.ge),
    ],
)
def test_binary_ops_broadcast_like_numpy(op, fn):
    x = np.abs(A) if op == "pow" else A
    got = call1(op, x=x, y=B)
    ref = fn(A, B)
    assert got.shape == (1, 4, 1, 6)
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_logical_ops():
    x = np.array([True, True, False, False])
    y = np.array([True, False, True, False])
    assert call1("logical_and", x=x, y=y).tolist() == [True, False, False, False]
    assert call1("logical_or", x=x, y=y).tolist() == [True, True, True, False]
    assert call1("logical_xor", x=x, y=y).tolist() == [False, True, True, False]


def test_integer_division_rules():
    x = np.array([7, -7, 7, -7], np.int32)
    y = np.array([2, 2, -2, -2], np.int32)
    assert call1("real_div", x=x, y=y).tolist() == [3, -3, -3, 3]  # truncation toward zero
    assert call1("floor_div", x=x, y=y).tolist() == [3, -4, -4, 3]  # Python //
    assert call1("mod", x=x, y=y).tolist() == [1, 1, -1, -1]  # sign of the divisor
    for op in ("real_div", "floor_div", "mod"):
        with pytest.raises(MILError, match="by zero"):
            call1(op, x=x, y=np.zeros(4, np.int32))
    with pytest.raises(MILError, match="negative exponent"):
        call1("pow", x=x, y=np.array([-1], np.int32))


def test_float_division_by_zero_is_ieee():
    got = call1("real_div", x=np.float32([1.0, -1.0, 0.0]), y=np.float32([0.0, 0.0, 0.0]))
    assert got[0] == np.inf
    assert got[1] == -np.inf
    assert np.isnan(got[2])
    assert np.isnan(call1("pow", x=np.float32([-8.0]), y=np.float32([1 / 3]))).all()
