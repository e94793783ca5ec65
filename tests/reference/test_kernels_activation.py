"""Activation kernels against PyTorch functional ops and hand-checked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _ref_helpers import call1, randn, torch_of

from anekit.errors import MILError

X = randn(3, 5, 7, seed=1, scale=3.0)


@pytest.mark.parametrize(
    ("op", "kwargs", "torch_fn"),
    [
        ("relu", {}, lambda t, F: F.relu(t)),
        ("relu6", {}, lambda t, F: F.relu6(t)),
        ("sigmoid", {}, lambda t, F: t.sigmoid()),
        ("silu", {}, lambda t, F: F.silu(t)),
        ("softsign", {}, lambda t, F: F.softsign(t)),
        ("softplus", {}, lambda t, F: F.softplus(t)),
        ("leaky_relu", {"alpha": np.float32(0.2)}, lambda t, F: F.leaky_relu(t, 0.2)),
        ("elu", {"alpha": np.float32(1.5)}, lambda t, F: F.elu(t, 1.5)),
        ("sigmoid_hard", {"alpha": np.float32(1 / 6), "beta": np.float32(0.5)}, lambda t, F: F.hardsigmoid(t)),
        ("gelu", {"mode": "EXACT"}, lambda t, F: F.gelu(t)),
        ("gelu", {"mode": "TANH_APPROXIMATION"}, lambda t, F: F.gelu(t, approximate="tanh")),
        ("scaled_tanh", {"alpha": np.float32(2.0), "beta": np.float32(0.5)}, lambda t, F: 2.0 * (0.5 * t).tanh()),
        ("softmax", {"axis": np.int32(1)}, lambda t, F: F.softmax(t, dim=1)),
        ("softmax", {}, lambda t, F: F.softmax(t, dim=-1)),
        ("thresholded_relu", {"alpha": np.float32(0.7)}, lambda t, F: F.threshold(t, 0.7, 0.0)),
    ],
)
def test_activation_matches_torch(op, kwargs, torch_fn):
    torch = pytest.importorskip("torch")
    got = call1(op, x=X, **kwargs)
    ref = torch_fn(torch_of(X), torch.nn.functional).numpy()
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=2e-6)


def test_gelu_modes_follow_their_exact_formulas_in_fp64():
    x = np.linspace(-6, 6, 241)
    erf = np.vectorize(math.erf)
    exact = 0.5 * x * (1 + erf(x / math.sqrt(2)))
    tanh = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    sig = x / (1 + np.exp(-1.702 * x))
    for mode, ref in (("EXACT", exact), ("TANH_APPROXIMATION", tanh), ("SIGMOID_APPROXIMATION", sig)):
        np.testing.assert_allclose(call1("gelu", x=x, mode=mode, float_dtype=np.float64), ref, rtol=1e-14, atol=1e-15)
    with pytest.raises(MILError, match="gelu mode"):
        call1("gelu", x=x, mode="FAST")


def test_float32_gelu_exact_is_within_a_few_ulp_of_the_fp64_definition():
    x = np.linspace(-8, 8, 100001).astype(np.float32)
    ref = call1("gelu", x=x.astype(np.float64), float_dtype=np.float64)
    got = call1("gelu", x=x).astype(np.float64)
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-3)) < 2e-6


def test_sigmoid_and_softplus_do_not_overflow():
    x = np.array([-1e4, -100, 0, 100, 1e4], np.float32)
    with np.errstate(all="raise"):
        np.testing.assert_allclose(call1("sigmoid", x=x), [0, math.exp(-100), 0.5, 1, 1], rtol=1e-5, atol=1e-45)
        sp = call1("softplus", x=x)
    np.testing.assert_allclose(sp, [0, 0, math.log(2), 100, 1e4], atol=1e-30)


def test_softmax_of_a_fully_masked_row_is_nan_and_large_values_are_stable():
    x = np.array([[1000.0, 1000.0], [-np.inf, -np.inf]], np.float32)
    y = call1("softmax", x=x)
    np.testing.assert_array_equal(y[0], [0.5, 0.5])
    assert np.isnan(y[1]).all()


def test_channel_parameter_activations_by_hand():
    x = np.array([[[-2.0, 3.0], [-4.0, 5.0]]], np.float32)  # [1, C=2, 2]
    prelu = call1("prelu", x=x, alpha=np.array([0.5, 0.25], np.float32))
    np.testing.assert_array_equal(prelu, [[[-1.0, 3.0], [-1.0, 5.0]]])
    sp = call1(
        "softplus_parametric", x=x, alpha=np.array([1.0, 2.0], np.float32), beta=np.array([1.0, 0.5], np.float32)
    )
    ref = np.array([1.0, 2.0])[None, :, None] * np.log1p(np.exp(np.array([1.0, 0.5])[None, :, None] * x))
    np.testing.assert_allclose(sp, ref, rtol=1e-6)
    with pytest.raises(MILError, match="alpha has 3 values"):
        call1("prelu", x=x, alpha=np.ones(3, np.float32))


def test_clamped_relu_and_linear_activation_by_hand():
    x = np.array([-3.0, -1.0, 0.0, 2.0, 9.0], np.float32)
    np.testing.assert_allclose(
        call1("clamped_relu", x=x, alpha=np.float32(0.5), beta=np.float32(4.0)), [-1.5, -0.5, 0.0, 2.0, 4.0]
    )
    np.testing.assert_allclose(call1("linear_activation", x=x, alpha=np.float32(2.0), beta=np.float32(1.0)), 2 * x + 1)
