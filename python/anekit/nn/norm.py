"""RMSNorm and LayerNorm over the channel axis of ``[1, C, 1, S]``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..mil import Builder, Var
from ._shapes import channels_of
from .weights import fp16_weight

__all__ = ["layer_norm", "rms_norm", "rms_norm_trainable"]


def rms_norm(mb: Builder, x: Var, weight: Any, eps: float = 1e-6, *, name: str = "rms_norm") -> Var:
    """``x / sqrt(mean(x^2) + eps) * weight`` over channels (llama's RMSNorm), safe in fp16.

    Written with ``reduce_sum`` and ``pow(-0.5)`` (docs/internals/mil-format.md §11: ``reduce_mean`` and ``rsqrt`` are
    disputed on the ANE, rules 12 and 16). Squaring ``x`` directly overflows fp16 on real models: SmolLM2's residual
    stream carries ~25000 in one channel at the first position, whose square is far beyond 65504. So each position is
    first divided by ``m = max(max|x|, 1)``: with ``xs = x / m``, ``mean(xs^2) <= 1`` and
    ``y = xs / sqrt(mean(xs^2) + eps / m^2)``, which is exactly ``x / sqrt(mean(x^2) + eps)``. The clamp at 1 keeps
    all-zero (padding) positions finite and leaves small activations unscaled, so they lose no precision.

    ``weight`` is ``[C]`` (numpy or torch, baked), or a Var ``[1, C, 1, 1]`` read at run time (a function input,
    as a training loop passes it).
    """
    c = channels_of(x, name)
    if not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"{name}: eps must be a positive number, got {eps!r}")
    g = _gain(weight, c, name)
    axes = np.array([1], np.int32)
    peak = mb.reduce_max(x=mb.abs(x=x), axes=axes, keep_dims=True)
    inv_m = mb.pow(x=mb.maximum(x=peak, y=np.float16(1.0)), y=np.float16(-1.0))
    xs = mb.mul(x=x, y=inv_m)
    ms = mb.mul(x=mb.reduce_sum(x=mb.mul(x=xs, y=xs), axes=axes, keep_dims=True), y=np.float16(1.0 / c))
    eps_scaled = mb.mul(x=mb.mul(x=inv_m, y=inv_m), y=np.float16(eps))
    inv = mb.pow(x=mb.add(x=ms, y=eps_scaled), y=np.float16(-0.5))
    return mb.mul(x=mb.mul(x=xs, y=inv), y=g)


def rms_norm_trainable(mb: Builder, x: Var, weight: Any, eps: float = 1e-5, *, name: str = "rms_norm") -> Var:
    """``x / sqrt(mean(x^2) + eps) * weight`` over channels, written for a derived backward pass in fp16.

    :func:`rms_norm` computes ``(mean + eps) ** -0.5`` with ``pow``, whose derivative ``-0.5 * v ** -1.5`` overflows
    fp16 (65504) once ``mean(x^2)`` falls below about 6e-4, which a freshly initialised model's residual stream
    (embeddings of standard deviation 0.02) does; its rescaling by the peak adds a gradient path that cancels
    exactly. Here the norm is ``x / sqrt(v)`` (``sqrt`` and ``real_div``), so every intermediate of the backward
    program :func:`anekit.autodiff.vjp` derives stays within ``abs(g) / sqrt(eps)`` (316 times for 1e-5). The price is
    the forward square: the root mean square of ``x`` over channels must stay below 256 (``mean(x^2)`` overflows
    fp16 beyond, and the norm then returns zeros), as it does in a model trained from scratch at these sizes;
    :class:`anekit.train.Trainer` checks it. ``weight`` as in :func:`rms_norm`.
    """
    c = channels_of(x, name)
    if not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"{name}: eps must be a positive number, got {eps!r}")
    g = _gain(weight, c, name)
    axes = np.array([1], np.int32)
    # mean(x^2) as sum((x / sqrt(C))^2): summing x^2 first overflows fp16 at C = 256 once the channels average
    # |x| > 16, far below the per-value limit.
    xc = mb.mul(x=x, y=np.float16(1.0 / np.sqrt(c)))
    ms = mb.reduce_sum(x=mb.mul(x=xc, y=xc), axes=axes, keep_dims=True)
    rms = mb.sqrt(x=mb.add(x=ms, y=np.float16(eps)))
    return mb.mul(x=mb.real_div(x=x, y=rms), y=g)


def _gain(weight: Any, c: int, name: str) -> Var | np.ndarray:
    """The ``[1, C, 1, 1]`` gain: a Var of that shape as given, or an array converted to fp16."""
    if isinstance(weight, Var):
        shape = getattr(weight.type, "shape", None)
        if shape is None or tuple(shape) != (1, c, 1, 1):
            raise ValueError(f"{name}: a weight Var must be [1, {c}, 1, 1], got {weight.type}")
        return weight
    return fp16_weight(weight, f"{name}.weight", (c,)).reshape(1, c, 1, 1)


def layer_norm(mb: Builder, x: Var, weight: Any, bias: Any, eps: float = 1e-5, *, name: str = "layer_norm") -> Var:
    """LayerNorm over channels with the MIL ``layer_norm`` op; ``epsilon`` is fp16 like gamma and beta
    (docs/internals/mil-format.md §11 rule 3)."""
    c = channels_of(x, name)
    if not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"{name}: eps must be a positive number, got {eps!r}")
    g = fp16_weight(weight, f"{name}.weight", (c,))
    b = fp16_weight(bias, f"{name}.bias", (c,))
    return mb.layer_norm(x=x, axes=np.array([1], np.int32), gamma=g, beta=b, epsilon=np.float16(eps))
