"""RMSNorm and LayerNorm over the channel axis of ``[1, C, 1, S]``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..mil import Builder, Var
from ._shapes import channels_of
from .weights import fp16_weight

__all__ = ["layer_norm", "rms_norm"]


def rms_norm(mb: Builder, x: Var, weight: Any, eps: float = 1e-6, *, name: str = "rms_norm") -> Var:
    """``x / sqrt(mean(x^2) + eps) * weight`` over channels (llama's RMSNorm).

    Written as ``reduce_sum`` of pre-scaled squares and ``pow(-0.5)`` (mil-format.md §11: ``reduce_mean`` and
    ``rsqrt`` are disputed on the ANE, rules 12 and 16). ``x`` is multiplied by ``1/sqrt(C)`` *before* squaring
    so the sum is the mean directly and cannot overflow fp16 (576 channels of |x| = 20 already sum past 65504).
    """
    c = channels_of(x, name)
    if not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"{name}: eps must be a positive number, got {eps!r}")
    g = fp16_weight(weight, f"{name}.weight", (c,)).reshape(1, c, 1, 1)
    xs = mb.mul(x=x, y=np.float16(1.0 / np.sqrt(c)))
    ms = mb.reduce_sum(x=mb.mul(x=xs, y=xs), axes=np.array([1], np.int32), keep_dims=True)
    inv = mb.pow(x=mb.add(x=ms, y=np.float16(eps)), y=np.float16(-0.5))
    return mb.mul(x=mb.mul(x=x, y=inv), y=g)


def layer_norm(mb: Builder, x: Var, weight: Any, bias: Any, eps: float = 1e-5, *, name: str = "layer_norm") -> Var:
    """LayerNorm over channels with the MIL ``layer_norm`` op; ``epsilon`` is fp16 like gamma and beta
    (mil-format.md §11 rule 3)."""
    c = channels_of(x, name)
    if not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"{name}: eps must be a positive number, got {eps!r}")
    g = fp16_weight(weight, f"{name}.weight", (c,))
    b = fp16_weight(bias, f"{name}.bias", (c,))
    return mb.layer_norm(x=x, axes=np.array([1], np.int32), gamma=g, beta=b, epsilon=np.float16(eps))
