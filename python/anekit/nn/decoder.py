"""A llama-style pre-norm decoder block: RMSNorm -> q/k/v -> RoPE -> GQA causal attention -> o -> residual ->
RMSNorm -> SwiGLU -> residual.

Two forms share the code: *prefill* attends over the block's own ``S`` positions, *decode* additionally reads a
K/V cache passed as inputs. In decode the new token's K/V are placed into the cache by
``k_cache + k_new * slot`` with ``slot`` a one-hot ``[1, 1, 1, T]`` input (the host keeps that cache column zero),
so no ``concat`` is needed and one program serves every position. The decode token sits in column 0 of a
spatial bucket padded to the safe multiple.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..mil import Builder, Var
from .attention import attention
from .ffn import swiglu
from .linear import linear
from .norm import rms_norm
from .quant import QuantizedWeight
from .rope import apply_rope
from .rules import check_positive
from .weights import as_array

__all__ = ["DecoderDims", "DecoderWeights", "KVCache", "decoder_block"]


@dataclass(frozen=True)
class DecoderDims:
    """Sizes of one decoder block."""

    dim: int
    heads: int
    kv_heads: int
    hidden: int
    eps: float = 1e-5

    def __post_init__(self) -> None:
        check_positive("DecoderDims", dim=self.dim, heads=self.heads, kv_heads=self.kv_heads, hidden=self.hidden)
        if self.dim % self.heads:
            raise ValueError(f"DecoderDims: heads ({self.heads}) must divide dim ({self.dim})")
        if self.heads % self.kv_heads:
            raise ValueError(f"DecoderDims: kv_heads ({self.kv_heads}) must divide heads ({self.heads})")
        if self.head_dim % 2:
            raise ValueError(f"DecoderDims: head_dim (dim / heads = {self.head_dim}) must be even for RoPE")

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim


@dataclass(frozen=True)
class DecoderWeights:
    """One block's weights in PyTorch layout (``[out, in]`` for projections, which may also be kept compressed as
    :class:`~anekit.nn.QuantizedWeight`), or Vars of the program (function inputs: ``[1, in, 1, out]``
    projections and ``[1, C, 1, 1]`` gains, see :func:`~anekit.nn.linear`)."""

    attn_norm: np.ndarray
    wq: np.ndarray | QuantizedWeight
    wk: np.ndarray | QuantizedWeight
    wv: np.ndarray | QuantizedWeight
    wo: np.ndarray | QuantizedWeight
    ffn_norm: np.ndarray
    w_gate: np.ndarray | QuantizedWeight
    w_up: np.ndarray | QuantizedWeight
    w_down: np.ndarray | QuantizedWeight

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, Any], prefix: str) -> DecoderWeights:
        """From Hugging Face ``LlamaDecoderLayer`` names under ``prefix`` (e.g. ``"model.layers.0."``)."""
        names = {
            "attn_norm": "input_layernorm.weight",
            "wq": "self_attn.q_proj.weight",
            "wk": "self_attn.k_proj.weight",
            "wv": "self_attn.v_proj.weight",
            "wo": "self_attn.o_proj.weight",
            "ffn_norm": "post_attention_layernorm.weight",
            "w_gate": "mlp.gate_proj.weight",
            "w_up": "mlp.up_proj.weight",
            "w_down": "mlp.down_proj.weight",
        }
        missing = [prefix + n for n in names.values() if prefix + n not in sd]
        if missing:
            raise KeyError(f"DecoderWeights.from_state_dict: missing {', '.join(missing)}")
        return cls(**{f: as_array(sd[prefix + n], prefix + n) for f, n in names.items()})


@dataclass(frozen=True)
class KVCache:
    """Decode-time cache inputs of one block: ``k``/``v`` ``[1, kv_dim, 1, T]`` and the one-hot ``slot``
    ``[1, 1, 1, T]`` marking the new token's column."""

    k: Var
    v: Var
    slot: Var


def decoder_block(
    mb: Builder,
    x: Var,
    w: DecoderWeights,
    dims: DecoderDims,
    cos: Var,
    sin: Var,
    mask: Var | np.ndarray,
    cache: KVCache | None = None,
    *,
    norm: Callable[..., Var] = rms_norm,
    name: str = "layer",
) -> tuple[Var, Var, Var]:
    """One block: returns ``(y, k, v)``.

    Prefill (``cache=None``): ``x[1, dim, 1, S]``, ``mask`` ``[1, 1, S, S]``; ``k``/``v`` are the block's own
    (rotated) keys and values ``[1, kv_dim, 1, S]`` for the host's cache. Decode: the token is column 0 of
    ``x[1, dim, 1, S]`` (the other columns are padding), ``mask`` ``[1, 1, 1, T]`` covers the cache, and the
    token's keys and values are column 0 of the returned ``k``/``v`` (the host writes them into the cache).

    The weights are arrays (baked) or Vars (function inputs, see :func:`~anekit.nn.linear`); ``norm`` is the
    RMSNorm block (``rms_norm_trainable`` for programs that are differentiated).
    """
    hd = dims.head_dim
    h = norm(mb, x, w.attn_norm, dims.eps, name=f"{name}.attn_norm")
    q = apply_rope(mb, linear(mb, h, w.wq, name=f"{name}.wq"), cos, sin, dims.heads, hd, name=f"{name}.rope_q")
    k = apply_rope(mb, linear(mb, h, w.wk, name=f"{name}.wk"), cos, sin, dims.kv_heads, hd, name=f"{name}.rope_k")
    v = linear(mb, h, w.wv, name=f"{name}.wv")
    if cache is None:
        k_all, v_all = k, v
    else:
        # The token is column 0; the other columns only pad S to the safe multiple (S = 1 kernels are reported
        # to give wrong output on the ANE, validator rule ane-single-token).
        first = {"begin": np.zeros(4, np.int32), "size": np.array([1, dims.kv_dim, 1, 1], np.int32)}
        k_all = mb.add(x=cache.k, y=mb.mul(x=mb.slice_by_size(x=k, **first), y=cache.slot))
        v_all = mb.add(x=cache.v, y=mb.mul(x=mb.slice_by_size(x=v, **first), y=cache.slot))
    a = attention(mb, q, k_all, v_all, mask, dims.heads, dims.kv_heads, hd, name=f"{name}.attention")
    x = mb.add(x=x, y=linear(mb, a, w.wo, name=f"{name}.wo"))
    h = norm(mb, x, w.ffn_norm, dims.eps, name=f"{name}.ffn_norm")
    f = swiglu(mb, h, w.w_gate, w.w_up, w.w_down, name=f"{name}.mlp")
    return mb.add(x=x, y=f), k, v
