"""Feed-forward networks: SwiGLU (llama) and GELU (GPT-2 / BERT)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..mil import Builder, Var
from .linear import linear
from .quant import QuantizedWeight
from .weights import as_array

__all__ = ["gelu_ffn", "swiglu"]


def swiglu(mb: Builder, x: Var, w_gate: Any, w_up: Any, w_down: Any, *, name: str = "swiglu") -> Var:
    """``down(silu(gate(x)) * up(x))``; gate and up run as one conv and are split after.

    SiLU is ``x * sigmoid(x)`` (docs/internals/mil-format.md §11 recommended defaults). With weight Vars
    (``[1, IN, 1, OUT]`` function inputs, see :func:`~anekit.nn.linear`) the three projections run as three
    runtime-weight matmuls.
    """
    vars_given = [isinstance(w, Var) for w in (w_gate, w_up, w_down)]
    if any(vars_given):
        if not all(vars_given):
            raise ValueError(f"{name}: pass w_gate, w_up and w_down all as Vars or all as arrays, not a mix")
        g = linear(mb, x, w_gate, name=f"{name}.gate")
        u = linear(mb, x, w_up, name=f"{name}.up")
        act = mb.mul(x=mb.mul(x=g, y=mb.sigmoid(x=g)), y=u)
        return linear(mb, act, w_down, name=f"{name}.down")
    both_kept = all(isinstance(w, QuantizedWeight) for w in (w_gate, w_up)) and w_gate.source == w_up.source
    if both_kept:
        gate, up = w_gate, w_up
    else:
        gate, up = as_array(w_gate, f"{name}.w_gate"), as_array(w_up, f"{name}.w_up")
    if gate.shape != up.shape:
        raise ValueError(f"{name}: w_gate {gate.shape} and w_up {up.shape} must have the same shape")
    hidden = int(gate.shape[0])
    fused = QuantizedWeight.concat_rows([gate, up]) if both_kept else np.concatenate([gate, up], axis=0)
    both = linear(mb, x, fused, name=f"{name}.gate_up")
    g, u = mb.split(x=both, split_sizes=np.array([hidden, hidden], np.int32), axis=np.int32(1))
    act = mb.mul(x=mb.mul(x=g, y=mb.sigmoid(x=g)), y=u)
    return linear(mb, act, w_down, name=f"{name}.down")


def gelu_ffn(
    mb: Builder,
    x: Var,
    w_up: Any,
    b_up: Any,
    w_down: Any,
    b_down: Any,
    *,
    mode: str = "TANH_APPROXIMATION",
    name: str = "gelu_ffn",
) -> Var:
    """``down(gelu(up(x)))`` with optional biases (``None`` for none); ``mode`` is MIL's gelu mode."""
    if mode not in ("EXACT", "TANH_APPROXIMATION", "SIGMOID_APPROXIMATION"):
        raise ValueError(f"{name}: mode must be EXACT, TANH_APPROXIMATION or SIGMOID_APPROXIMATION, got {mode!r}")
    h = mb.gelu(x=linear(mb, x, w_up, b_up, name=f"{name}.up"), mode=mode)
    return linear(mb, h, w_down, b_down, name=f"{name}.down")
