"""A llama decoder block whose weights are function inputs, in MIL and in PyTorch, for the autodiff tests.

The MIL side composes :mod:`anekit.nn` (``attention``, ``apply_rope``, ``causal_mask``) with runtime-weight
projections and :func:`anekit.nn.rms_norm` with its gain an input Var (the ``max|x|`` rescaling included), since a
training loop feeds every weight as an input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from anekit import mil, nn

DIM, HEADS, KV_HEADS, HIDDEN, SEQ = 64, 4, 2, 128, 32
HEAD_DIM = DIM // HEADS
EPS = 1e-5
#: name -> [OUT, IN] (projections) or [C] (norm gains), PyTorch layout.
WEIGHTS = {
    "attn_norm": (DIM,),
    "wq": (DIM, DIM),
    "wk": (KV_HEADS * HEAD_DIM, DIM),
    "wv": (KV_HEADS * HEAD_DIM, DIM),
    "wo": (DIM, DIM),
    "ffn_norm": (DIM,),
    "w_gate": (HIDDEN, DIM),
    "w_up": (HIDDEN, DIM),
    "w_down": (DIM, HIDDEN),
}


def input_shape(name: str) -> tuple[int, ...]:
    """Program layout: projections ``[OUT, IN, 1, 1]`` (a runtime-weight 1x1 conv), gains ``[1, C, 1, 1]``."""
    shape = WEIGHTS[name]
    return (1, shape[0], 1, 1) if len(shape) == 1 else (*shape, 1, 1)


def linear_var(mb: mil.Builder, x: mil.Var, w: mil.Var) -> mil.Var:
    """``W x`` with ``W`` a runtime ``[OUT, IN, 1, 1]`` input: a 1x1 conv."""
    return mb.conv(x=x, weight=w, pad_type="valid")


def linear_matmul(mb: mil.Builder, x: mil.Var, w: mil.Var) -> mil.Var:
    """``W x`` with ``W`` a runtime ``[1, IN, 1, OUT]`` input: the reshape/transpose/matmul form of
    :func:`anekit.nn.dynamic_linear` (docs/internals/ane-private-api.md §20.2)."""
    c_in, s = x.type.shape[1], x.type.shape[3]
    out = w.type.shape[3]
    swap = np.array([0, 1, 3, 2], np.int32)
    xt = mb.transpose(x=mb.reshape(x=x, shape=np.array([1, 1, c_in, s], np.int32)), perm=swap)
    w4 = mb.reshape(x=w, shape=np.array([1, 1, c_in, out], np.int32))
    y = mb.transpose(x=mb.matmul(x=xt, y=w4), perm=swap)
    return mb.reshape(x=y, shape=np.array([1, out, 1, s], np.int32))


def block_program() -> mil.Program:
    """``y = block(x)``; inputs ``x``, ``cos``, ``sin`` and every weight of :data:`WEIGHTS`."""
    mb = mil.Builder("ios18")
    x = mb.input("x", mil.tensor((1, DIM, 1, SEQ), "fp16"))
    cos = mb.input("cos", mil.tensor((1, HEAD_DIM, 1, SEQ), "fp16"))
    sin = mb.input("sin", mil.tensor((1, HEAD_DIM, 1, SEQ), "fp16"))
    w = {k: mb.input(k, mil.tensor(input_shape(k), "fp16")) for k in WEIGHTS}
    h = nn.rms_norm(mb, x, w["attn_norm"], EPS)
    q = nn.apply_rope(mb, linear_var(mb, h, w["wq"]), cos, sin, HEADS, HEAD_DIM)
    k = nn.apply_rope(mb, linear_var(mb, h, w["wk"]), cos, sin, KV_HEADS, HEAD_DIM)
    v = linear_var(mb, h, w["wv"])
    a = nn.attention(mb, q, k, v, nn.causal_mask(SEQ), HEADS, KV_HEADS, HEAD_DIM)
    x = mb.add(x=x, y=linear_var(mb, a, w["wo"]))
    h = nn.rms_norm(mb, x, w["ffn_norm"], EPS)
    g, u = linear_var(mb, h, w["w_gate"]), linear_var(mb, h, w["w_up"])
    f = linear_var(mb, mb.mul(x=mb.mul(x=g, y=mb.sigmoid(x=g)), y=u), w["w_down"])
    return mb.build({"y": mb.add(x=x, y=f)})


def feeds(seed: int = 0) -> dict[str, np.ndarray]:
    """fp16-representable inputs: activations ~N(0, 1), projections ~N(0, 1/IN), gains near 1."""
    rng = np.random.default_rng(seed)
    cos, sin = nn.rope_tables(HEAD_DIM, np.arange(SEQ))
    out: dict[str, np.ndarray] = {"x": rng.standard_normal((1, DIM, 1, SEQ)), "cos": cos, "sin": sin}
    for k, shape in WEIGHTS.items():
        if len(shape) == 1:
            w = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            w = rng.standard_normal(shape) / np.sqrt(shape[1])
        out[k] = w.reshape(input_shape(k))
    return {k: v.astype(np.float16).astype(np.float64) for k, v in out.items()}


def torch_block(**t: Any) -> Any:
    """The same block in PyTorch (float64), on ``[C, S]`` views of the ``[1, C, 1, S]`` tensors."""
    import torch

    def rms(x: Any, g: Any) -> Any:
        return x / torch.sqrt((x * x).mean(0, keepdim=True) + EPS) * g.reshape(-1, 1)

    def lin(name: str, x: Any) -> Any:
        return t[name].reshape(t[name].shape[0], -1) @ x

    def rope(x: Any, heads: int) -> Any:
        xh = x.reshape(heads, HEAD_DIM, SEQ)
        rot = torch.cat([-xh[:, HEAD_DIM // 2 :], xh[:, : HEAD_DIM // 2]], 1)
        cos, sin = t["cos"].reshape(1, HEAD_DIM, SEQ), t["sin"].reshape(1, HEAD_DIM, SEQ)
        return (xh * cos + rot * sin).reshape(heads * HEAD_DIM, SEQ)

    x = t["x"].reshape(DIM, SEQ)
    h = rms(x, t["attn_norm"])
    q = rope(lin("wq", h), HEADS).reshape(HEADS, HEAD_DIM, SEQ).transpose(1, 2)  # [H, S, hd]
    k = rope(lin("wk", h), KV_HEADS).reshape(KV_HEADS, HEAD_DIM, SEQ)  # [KV, hd, S]
    v = lin("wv", h).reshape(KV_HEADS, HEAD_DIM, SEQ).transpose(1, 2)  # [KV, S, hd]
    rep = HEADS // KV_HEADS
    k, v = k.repeat_interleave(rep, 0), v.repeat_interleave(rep, 0)
    mask = torch.tensor(nn.causal_mask(SEQ).astype(np.float64)).reshape(SEQ, SEQ)
    scores = (q * (1.0 / np.sqrt(HEAD_DIM))) @ k + mask
    a = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(DIM, SEQ)
    x = x + lin("wo", a)
    h = rms(x, t["ffn_norm"])
    g, u = lin("w_gate", h), lin("w_up", h)
    y = x + lin("w_down", g * torch.sigmoid(g) * u)
    return y.reshape(1, DIM, 1, SEQ)
