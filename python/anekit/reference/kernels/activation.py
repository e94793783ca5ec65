"""Activation kernels (docs/internals/mil-format.md §10.3; parameters as in coremltools' iOS15 activation definitions).

``alpha``/``beta`` parameters that are per-channel vectors (``prelu``, ``softplus_parametric``) apply along
axis 1, the channel axis of ``[B, C, ...]``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_int, as_str, erfc, norm_axis, sigmoid

__all__: list[str] = []


def _param(x: np.ndarray, v: Any) -> np.ndarray:
    return np.asarray(v, dtype=np.asarray(x).dtype)


def _channel(ctx: KernelContext, x: np.ndarray, v: Any, what: str) -> np.ndarray:
    """A per-channel parameter ``[C]`` reshaped to broadcast along axis 1 of ``x``."""
    p = _param(x, v).reshape(-1)
    if x.ndim < 2 or (p.size != 1 and p.size != x.shape[1]):
        raise ctx.error(f"{what} has {p.size} values; expected 1 or x.shape[1] for x of shape {x.shape}")
    return p.reshape((1, -1) + (1,) * (x.ndim - 2)) if p.size != 1 else p.reshape(())


@kernel("relu")
def relu(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``max(x, 0)``."""
    xa = np.asarray(x)
    return [np.maximum(xa, xa.dtype.type(0))]


@kernel("relu6")
def relu6(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``min(max(x, 0), 6)``."""
    xa = np.asarray(x)
    return [np.minimum(np.maximum(xa, xa.dtype.type(0)), xa.dtype.type(6))]


@kernel("leaky_relu")
def leaky_relu(ctx: KernelContext, x: np.ndarray, alpha: Any = 0.01) -> list[np.ndarray]:
    """``x if x >= 0 else alpha * x`` (alpha default 0.01 as in coremltools)."""
    xa = np.asarray(x)
    return [np.where(xa >= 0, xa, _param(xa, alpha) * xa)]


@kernel("sigmoid")
def sigmoid_(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``1 / (1 + exp(-x))``, evaluated without overflow."""
    return [sigmoid(np.asarray(x))]


@kernel("sigmoid_hard")
def sigmoid_hard(ctx: KernelContext, x: np.ndarray, alpha: Any = 0.2, beta: Any = 0.5) -> list[np.ndarray]:
    """``min(max(alpha * x + beta, 0), 1)``."""
    xa = np.asarray(x)
    y = _param(xa, alpha) * xa + _param(xa, beta)
    return [np.clip(y, xa.dtype.type(0), xa.dtype.type(1))]


@kernel("silu")
def silu(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``x * sigmoid(x)`` (computed in one step, then stored once)."""
    xa = np.asarray(x)
    return [xa * sigmoid(xa)]


_GELU_MODES = ("EXACT", "TANH_APPROXIMATION", "SIGMOID_APPROXIMATION")


@kernel("gelu")
def gelu(ctx: KernelContext, x: np.ndarray, mode: Any = "EXACT") -> list[np.ndarray]:
    """GELU in one of MIL's three modes (docs/internals/mil-format.md §10.3):

    * ``EXACT``: ``0.5·x·(1 + erf(x/√2))``;
    * ``TANH_APPROXIMATION``: ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``;
    * ``SIGMOID_APPROXIMATION``: ``x·sigmoid(1.702·x)``.
    """
    m = as_str(mode)
    xa = np.asarray(x)
    t = xa.dtype.type
    if m == "EXACT":
        # 1 + erf(x/√2) == erfc(−x/√2): the erfc form keeps the negative tail accurate in relative terms.
        return [t(0.5) * xa * erfc(xa * t(-1.0 / math.sqrt(2.0)))]
    if m == "TANH_APPROXIMATION":
        inner = t(math.sqrt(2.0 / math.pi)) * (xa + t(0.044715) * xa * xa * xa)
        return [t(0.5) * xa * (t(1) + np.tanh(inner))]
    if m == "SIGMOID_APPROXIMATION":
        return [xa * sigmoid(t(1.702) * xa)]
    raise ctx.error(f"gelu mode {m!r} is not one of {', '.join(_GELU_MODES)}")


def softmax_values(x: np.ndarray, axis: int) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (max subtracted first), in ``x``'s dtype.

    A slice whose maximum is -inf (fully masked) gives NaN, as ``exp(-inf - -inf)`` does on any IEEE unit.
    """
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        e = np.exp(x - m)
        s = np.sum(e, axis=axis, keepdims=True)
        e /= s
    return e


@kernel("softmax")
def softmax(ctx: KernelContext, x: np.ndarray, axis: Any = -1) -> list[np.ndarray]:
    """``exp(x - max) / Σ exp(x - max)`` along ``axis`` (default -1)."""
    xa = np.asarray(x)
    return [softmax_values(xa, norm_axis(ctx, as_int(axis), xa.ndim))]


@kernel("softplus")
def softplus(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``log(1 + exp(x))``, evaluated as ``log1p(exp(-|x|)) + max(x, 0)`` to avoid overflow."""
    xa = np.asarray(x)
    with np.errstate(under="ignore"):
        return [np.log1p(np.exp(-np.abs(xa))) + np.maximum(xa, xa.dtype.type(0))]


@kernel("softplus_parametric")
def softplus_parametric(ctx: KernelContext, x: np.ndarray, alpha: Any, beta: Any) -> list[np.ndarray]:
    """``alpha_c · log(1 + exp(beta_c · x))`` with per-channel (axis 1) alpha and beta."""
    xa = np.asarray(x)
    a = _channel(ctx, xa, alpha, "alpha")
    b = _channel(ctx, xa, beta, "beta")
    z = b * xa
    with np.errstate(under="ignore"):
        return [a * (np.log1p(np.exp(-np.abs(z))) + np.maximum(z, xa.dtype.type(0)))]


@kernel("softsign")
def softsign(ctx: KernelContext, x: np.ndarray) -> list[np.ndarray]:
    """``x / (1 + |x|)``."""
    xa = np.asarray(x)
    return [xa / (xa.dtype.type(1) + np.abs(xa))]


@kernel("elu")
def elu(ctx: KernelContext, x: np.ndarray, alpha: Any = 1.0) -> list[np.ndarray]:
    """``x if x > 0 else alpha·(exp(x) − 1)``."""
    xa = np.asarray(x)
    with np.errstate(over="ignore"):
        neg = _param(xa, alpha) * np.expm1(np.minimum(xa, xa.dtype.type(0)))
    return [np.where(xa > 0, xa, neg)]


@kernel("clamped_relu")
def clamped_relu(ctx: KernelContext, x: np.ndarray, alpha: Any, beta: Any) -> list[np.ndarray]:
    """``min(beta, x)`` for ``x >= 0``, ``min(beta, alpha·x)`` otherwise."""
    xa = np.asarray(x)
    a, b = _param(xa, alpha), _param(xa, beta)
    return [np.minimum(np.where(xa >= 0, xa, a * xa), b)]


@kernel("prelu")
def prelu(ctx: KernelContext, x: np.ndarray, alpha: Any) -> list[np.ndarray]:
    """``x if x > 0 else alpha_c · x`` with per-channel (axis 1) alpha."""
    xa = np.asarray(x)
    a = _channel(ctx, xa, alpha, "alpha")
    return [np.where(xa > 0, xa, a * xa)]


@kernel("scaled_tanh")
def scaled_tanh(ctx: KernelContext, x: np.ndarray, alpha: Any = 1.0, beta: Any = 1.0) -> list[np.ndarray]:
    """``alpha · tanh(beta · x)``."""
    xa = np.asarray(x)
    return [_param(xa, alpha) * np.tanh(_param(xa, beta) * xa)]


@kernel("linear_activation")
def linear_activation(ctx: KernelContext, x: np.ndarray, alpha: Any, beta: Any = 0.0) -> list[np.ndarray]:
    """``alpha · x + beta``."""
    xa = np.asarray(x)
    return [_param(xa, alpha) * xa + _param(xa, beta)]


@kernel("thresholded_relu")
def thresholded_relu(ctx: KernelContext, x: np.ndarray, alpha: Any = 1.0) -> list[np.ndarray]:
    """``x if x >= alpha else 0``."""
    xa = np.asarray(x)
    return [np.where(xa >= _param(xa, alpha), xa, xa.dtype.type(0))]
