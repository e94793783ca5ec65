"""Normalisation kernels against PyTorch functional ops."""

from __future__ import annotations

import numpy as np
import pytest
from _ref_helpers import call1, randn, torch_of

from anekit.errors import MILError

X = randn(2, 6, 3, 5, seed=1, scale=2.0) + 1.0


def test_layer_norm_last_axes_matches_torch():
    torch = pytest.importorskip("torch")
    g, b = randn(3, 5, seed=2), randn(3, 5, seed=3)
    got = call1("layer_norm", x=X, axes=np.int32([-2, -1]), gamma=g, beta=b, epsilon=np.float32(1e-3))
    ref = torch.nn.functional.layer_norm(torch_of(X), (3, 5), torch_of(g), torch_of(b), 1e-3).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_layer_norm_over_channels_of_the_ane_layout():
    torch = pytest.importorskip("torch")
    x = randn(1, 16, 1, 8, seed=4)
    g, b = randn(16, seed=5), randn(16, seed=6)
    got = call1("layer_norm", x=x, axes=np.int32([1]), gamma=g, beta=b)
    ref = torch.nn.functional.layer_norm(torch_of(x).permute(0, 2, 3, 1), (16,), torch_of(g), torch_of(b), 1e-5)
    np.testing.assert_allclose(got, ref.permute(0, 3, 1, 2).numpy(), rtol=1e-5, atol=1e-5)


def test_layer_norm_default_axes_are_all_dims_and_gamma_shape_is_checked():
    got = call1("layer_norm", x=X)
    ref = (X - X.mean()) / np.sqrt(X.var() + 1e-5)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(MILError, match="gamma shape"):
        call1("layer_norm", x=X, axes=np.int32([1]), gamma=np.ones(5, np.float32))


def test_batch_and_instance_norm_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    m, v, g, b = randn(6, seed=7), np.abs(randn(6, seed=8)) + 0.5, randn(6, seed=9), randn(6, seed=10)
    got = call1("batch_norm", x=X, mean=m, variance=v, gamma=g, beta=b, epsilon=np.float32(1e-3))
    ref = F.batch_norm(torch_of(X), torch_of(m), torch_of(v), torch_of(g), torch_of(b), False, 0.0, 1e-3)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-5, atol=1e-5)
    got = call1("instance_norm", x=X, gamma=g, beta=b)
    ref = F.instance_norm(torch_of(X), weight=torch_of(g), bias=torch_of(b), eps=1e-5)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-4, atol=1e-5)


def test_l2_norm_and_local_response_norm():
    torch = pytest.importorskip("torch")
    got = call1("l2_norm", x=X, epsilon=np.float32(1e-6))
    ref = X / np.sqrt((X.astype(np.float64) ** 2).sum(axis=(1, 2, 3), keepdims=True) + 1e-6)
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    got = call1(
        "local_response_norm", x=X, size=np.int32(3), alpha=np.float32(1e-2), beta=np.float32(0.75), k=np.float32(2.0)
    )
    ref = torch.nn.functional.local_response_norm(torch_of(X), 3, alpha=1e-2, beta=0.75, k=2.0).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
