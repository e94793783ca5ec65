"""Normalisation kernels (docs/internals/mil-format.md §10.4): layer_norm, batch_norm, instance_norm, l2_norm,
local_response_norm.

Statistics are computed in the compute dtype (float32 for ``precision="ane"``) with the population variance
(÷N); only the op's output is stored as fp16.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_int, epsilon_value, norm_axes

__all__: list[str] = []


def _normalize(x: np.ndarray, axes: tuple[int, ...], eps: np.ndarray) -> np.ndarray:
    mean = np.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = np.mean(np.square(centred), axis=axes, keepdims=True)
    var += eps
    np.sqrt(var, out=var)
    centred /= var
    return centred


def _per_channel(ctx: KernelContext, v: Any, x: np.ndarray, what: str) -> np.ndarray:
    p = np.asarray(v, dtype=x.dtype).reshape(-1)
    if p.size != x.shape[1]:
        raise ctx.error(f"{what} has {p.size} values; expected C = {x.shape[1]} for x of shape {x.shape}")
    return p.reshape((1, -1) + (1,) * (x.ndim - 2))


@kernel("layer_norm")
def layer_norm(
    ctx: KernelContext,
    x: np.ndarray,
    axes: Any = None,
    gamma: Any = None,
    beta: Any = None,
    epsilon: Any = None,
) -> list[np.ndarray]:
    """``gamma · (x − mean) / sqrt(var + epsilon) + beta`` over ``axes`` (default: all), epsilon default 1e-5.

    ``gamma``/``beta`` have the shape ``x.shape[axes]`` (axes in increasing order) and broadcast over the other
    dims; e.g. ``axes=[1]`` on ``[1, C, 1, S]`` normalises over channels with a ``[C]`` gamma.
    """
    xa = np.asarray(x)
    ax = norm_axes(ctx, axes, xa.ndim)
    y = _normalize(xa, ax, epsilon_value(ctx, epsilon, 1e-5))
    norm_shape = tuple(xa.shape[i] if i in ax else 1 for i in range(xa.ndim))
    for v, what in ((gamma, "gamma"), (beta, "beta")):
        if v is None:
            continue
        p = np.asarray(v, dtype=y.dtype)
        if p.size != math.prod(norm_shape):
            raise ctx.error(f"{what} shape {p.shape} does not match x.shape[axes] for x {xa.shape}, axes {list(ax)}")
        p = p.reshape(norm_shape)
        if what == "gamma":
            y *= p
        else:
            y += p
    return [y]


@kernel("batch_norm")
def batch_norm(
    ctx: KernelContext,
    x: np.ndarray,
    mean: Any,
    variance: Any,
    gamma: Any = None,
    beta: Any = None,
    epsilon: Any = None,
) -> list[np.ndarray]:
    """``gamma_c · (x − mean_c) / sqrt(variance_c + epsilon) + beta_c`` along the channel axis 1."""
    xa = np.asarray(x)
    m = _per_channel(ctx, mean, xa, "mean")
    v = _per_channel(ctx, variance, xa, "variance")
    y = (xa - m) / np.sqrt(v + epsilon_value(ctx, epsilon, 1e-5))
    if gamma is not None:
        y = y * _per_channel(ctx, gamma, xa, "gamma")
    if beta is not None:
        y = y + _per_channel(ctx, beta, xa, "beta")
    return [y]


@kernel("instance_norm")
def instance_norm(
    ctx: KernelContext, x: np.ndarray, gamma: Any = None, beta: Any = None, epsilon: Any = None
) -> list[np.ndarray]:
    """Normalise each ``[n, c]`` slice over the spatial dims, then per-channel ``gamma``/``beta``."""
    xa = np.asarray(x)
    if xa.ndim < 3:
        raise ctx.error(f"x must be [N, C, *D] with at least one spatial dim, got shape {xa.shape}")
    y = _normalize(xa, tuple(range(2, xa.ndim)), epsilon_value(ctx, epsilon, 1e-5))
    if gamma is not None:
        y *= _per_channel(ctx, gamma, xa, "gamma")
    if beta is not None:
        y += _per_channel(ctx, beta, xa, "beta")
    return [y]


@kernel("l2_norm")
def l2_norm(ctx: KernelContext, x: np.ndarray, epsilon: Any = None) -> list[np.ndarray]:
    """``x / sqrt(Σ x² + epsilon)`` over the last three dims (leading dims are batch); epsilon default 1e-6."""
    xa = np.asarray(x)
    if xa.ndim < 3:
        raise ctx.error(f"x must have rank >= 3, got shape {xa.shape}")
    ss = np.sum(np.square(xa), axis=(-3, -2, -1), keepdims=True)
    return [xa / np.sqrt(ss + epsilon_value(ctx, epsilon, 1e-6))]


@kernel("local_response_norm")
def local_response_norm(
    ctx: KernelContext,
    x: np.ndarray,
    size: Any,
    alpha: Any = 1e-4,
    beta: Any = 0.75,
    k: Any = 1.0,
) -> list[np.ndarray]:
    """``x_c / (k + alpha/size · Σ_j x_j²)^beta`` over the channel window
    ``j ∈ [c − floor(size/2), c + floor((size−1)/2)]`` (zero outside), as in PyTorch and Caffe."""
    xa = np.asarray(x)
    n = as_int(size)
    if n < 1 or xa.ndim < 3:
        raise ctx.error(f"size must be >= 1 and x rank >= 3; got size {n}, x {xa.shape}")
    sq = np.square(xa)
    padded = np.pad(sq, [(0, 0), (n // 2, (n - 1) // 2)] + [(0, 0)] * (xa.ndim - 2))
    c = xa.shape[1]
    window = np.zeros_like(sq)
    for i in range(n):  # the window is small (typically 3-5); a direct sum avoids cumsum cancellation
        window += padded[:, i : i + c]
    t = xa.dtype.type
    denom = np.power(t(np.asarray(k)) + t(np.asarray(alpha)) / t(n) * window, t(np.asarray(beta)))
    return [xa / denom]
