"""Unary kernels: numpy/math definitions, epsilon defaults, cast rounding and saturation, erf accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _ref_helpers import call1, randn

from anekit.errors import MILError
from anekit.mil.types import tensor
from anekit.reference.kernels import KERNELS, KernelContext
from anekit.reference.kernels._util import erf, erfc

U = np.linspace(-0.95, 0.95, 39).astype(np.float32)  # inside every domain
P = np.linspace(0.05, 4.0, 40).astype(np.float32)  # positive


@pytest.mark.parametrize(
    ("op", "x", "ref"),
    [
        ("abs", U, np.abs),
        ("acos", U, np.arccos),
        ("asin", U, np.arcsin),
        ("atan", U * 5, np.arctan),
        ("atanh", U, np.arctanh),
        ("ceil", U * 5, np.ceil),
        ("cos", U * 5, np.cos),
        ("cosh", U * 5, np.cosh),
        ("exp", U * 5, np.exp),
        ("exp2", U * 5, np.exp2),
        ("floor", U * 5, np.floor),
        ("sin", U * 5, np.sin),
        ("sinh", U * 5, np.sinh),
        ("sqrt", P, np.sqrt),
        ("square", U * 5, np.square),
        ("tan", U, np.tan),
        ("tanh", U * 5, np.tanh),
        ("sign", U * 5, np.sign),
        ("erf", U * 5, np.vectorize(math.erf)),
    ],
)
def test_unary_matches_the_math_library(op, x, ref):
    np.testing.assert_allclose(call1(op, x=x), ref(x.astype(np.float64)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        call1(op, x=x.astype(np.float64), float_dtype=np.float64), ref(x.astype(np.float64)), rtol=1e-15, atol=1e-15
    )


def test_round_is_half_to_even_and_int_exp2_truncates():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], np.float32)
    np.testing.assert_array_equal(call1("round", x=x), [-2, -2, -0, 0, 2, 2])
    np.testing.assert_array_equal(call1("exp2", x=np.array([-1, 0, 3], np.int32)), [0, 1, 8])


def test_epsilon_ops_use_the_mil_defaults():
    x = np.array([0.0, 1.0, 4.0], np.float32)
    np.testing.assert_allclose(call1("rsqrt", x=x), 1 / np.sqrt(x.astype(np.float64) + 1e-12), rtol=1e-6)
    np.testing.assert_allclose(call1("inverse", x=x), 1 / (x + 1e-4), rtol=1e-6)
    np.testing.assert_allclose(call1("log", x=x)[1:], np.log(x[1:]), rtol=1e-6)
    assert call1("log", x=x)[0] == pytest.approx(math.log(1.4e-45), rel=1e-2)  # 1e-45 is float32's 2^-149
    assert call1("rsqrt", x=x, epsilon=np.float32(0.25))[0] == 2.0


def test_fp16_storage_turns_tiny_default_epsilons_into_zero():
    # docs/internals/mil-format.md §10.3: 1e-12 (rsqrt) and 1e-45 (log) are 0 in fp16, so rsqrt(0) is inf on the device.
    ctx = KernelContext("rsqrt", out_types=(tensor((1,), "fp16"),), fp16_storage=True)
    assert np.isinf(KERNELS["rsqrt"](ctx, x=np.zeros(1, np.float32))[0][0])
    ctx32 = KernelContext("rsqrt", out_types=(tensor((1,), "fp32"),), fp16_storage=True)
    assert KERNELS["rsqrt"](ctx32, x=np.zeros(1, np.float32))[0][0] == pytest.approx(1e6)


def test_ieee_domain_errors_give_nan_and_inf():
    np.testing.assert_array_equal(np.isnan(call1("sqrt", x=np.float32([-1.0]))), [True])
    assert call1("log", x=np.float32([0.0]), epsilon=np.float32(0.0))[0] == -np.inf


def test_clip_and_logical_not():
    x = np.array([-np.inf, -2.0, 0.5, 7.0, np.nan], np.float32)
    np.testing.assert_array_equal(
        call1("clip", x=x, alpha=np.float32(-np.inf), beta=np.float32(6.0))[:4], [-np.inf, -2.0, 0.5, 6.0]
    )
    np.testing.assert_array_equal(call1("logical_not", x=np.array([True, False])), [False, True])


def test_cast_truncates_toward_zero_and_saturates():
    x = np.array([-300.7, -1.9, -0.5, 0.5, 1.9, 300.7, np.nan, np.inf], np.float32)
    np.testing.assert_array_equal(call1("cast", x=x, dtype="int8"), [-128, -1, 0, 0, 1, 127, 0, 127])
    np.testing.assert_array_equal(call1("cast", x=x, dtype="uint8"), [0, 0, 0, 0, 1, 255, 0, 255])
    np.testing.assert_array_equal(call1("cast", x=x[:6], dtype="int32"), [-300, -1, 0, 0, 1, 300])
    np.testing.assert_array_equal(
        call1("cast", x=np.array([0.0, -2.0, np.nan], np.float32), dtype="bool"), [False, True, True]
    )
    np.testing.assert_array_equal(call1("cast", x=np.array([70000], np.int32), dtype="int16"), [32767])
    assert call1("cast", x=np.array([True, False]), dtype="fp32").tolist() == [1.0, 0.0]
    with pytest.raises(MILError, match="cast dtype"):
        call1("cast", x=x, dtype="int64")


def test_float32_erf_and_erfc_against_the_c_library():
    x = np.linspace(-9, 9, 180001).astype(np.float32)
    ref = np.array([math.erf(float(v)) for v in x])
    refc = np.array([math.erfc(float(v)) for v in x])
    got, gotc = erf(x).astype(np.float64), erfc(x).astype(np.float64)
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-38)) < 5e-7
    big = refc > 1e-30
    assert np.max(np.abs(gotc - refc)[big] / refc[big]) < 1e-5
    tiny = np.float32([1e-30, 1e-10, 1e-5])
    np.testing.assert_allclose(erf(tiny), [math.erf(float(v)) for v in tiny], rtol=3e-7)
    assert np.isnan(erf(np.float32([np.nan]))).all()


def test_unary_ops_keep_shape():
    x = randn(2, 3, 4, seed=3)
    for op in ("exp", "tanh", "abs", "square"):
        assert call1(op, x=x).shape == x.shape
