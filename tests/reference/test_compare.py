"""anekit.reference.compare: shape, then dtype, then values with per-dtype tolerances."""

from __future__ import annotations

import numpy as np
import pytest

from anekit.reference import assert_close, compare_outputs


def test_shape_is_checked_before_dtype_and_values():
    with pytest.raises(AssertionError, match="shape"):
        assert_close(np.zeros((2, 3), np.float32), np.zeros((3, 2), np.float16))
    with pytest.raises(AssertionError, match="dtype float32 != expected float16"):
        assert_close(np.zeros(3, np.float32), np.zeros(3, np.float16))
    assert_close(np.zeros(3, np.float32), np.zeros(3, np.float16), check_dtype=False)


def test_fp16_tolerance_is_a_few_ulps():
    e = np.float16([1.0, 100.0, 0.0])
    assert_close(e + np.float16([2 * 2.0**-10, 0.25, 0.003]), e)
    with pytest.raises(AssertionError, match=r"1 of 3 elements"):
        assert_close(e + np.float16([0.01, 0.0, 0.0]), e)


def test_nan_and_inf_rules_and_exact_integers():
    assert_close(np.float32([np.nan, np.inf]), np.float32([np.nan, np.inf]))
    with pytest.raises(AssertionError):
        assert_close(np.float32([np.inf]), np.float32([-np.inf]))
    with pytest.raises(AssertionError, match="exact"):
        assert_close(np.int32([1, 2]), np.int32([1, 3]))
    assert_close(np.float64([1.0]), np.float64([1.0 + 1e-13]))


def test_compare_outputs_checks_names():
    a = {"y": np.float32([1.0])}
    compare_outputs(a, {"y": np.float32([1.0])})
    with pytest.raises(AssertionError, match="output names"):
        compare_outputs(a, {"z": np.float32([1.0])})
    with pytest.raises(AssertionError, match="y:"):
        compare_outputs(a, {"y": np.float32([2.0])})
