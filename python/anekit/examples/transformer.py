"""A pre-norm transformer block in the ANE's ``[1, C, 1, S]`` layout, built with :mod:`anekit.mil`.

LayerNorm -> QKV (one 1x1 conv) -> causal attention written out as matmul / scale / mask / softmax / matmul
(``scaled_dot_product_attention`` ignores its mask on the ANE, docs/internals/mil-format.md §11 rule 10, so the recipe
of §8.6 is used) -> output projection -> residual -> LayerNorm -> FFN (1x1 conv, gelu, 1x1 conv) -> residual.
At d=768, 12 heads, seq=256 these are the Stories110M / GPT-2-small shapes.
"""

from __future__ import annotations

import numpy as np

from .. import mil

__all__ = ["transformer_block"]

#: Additive mask value above the diagonal: the most negative finite fp16 (docs/internals/mil-format.md §8.6).
MASK_VALUE = -65504.0


def transformer_block(
    d: int = 768,
    heads: int = 12,
    seq: int = 256,
    ffn: int | None = None,
    *,
    opset: str = "ios18",
    seed: int = 0,
    gelu_mode: str = "TANH_APPROXIMATION",
) -> mil.Program:
    """Build one transformer block ``x[1, d, 1, seq] -> y[1, d, 1, seq]`` with random fp16 weights.

    Args:
        d: model width (channels).
        heads: attention heads; must divide ``d``.
        seq: sequence length (the spatial axis S).
        ffn: hidden width of the feed-forward network (default ``4 * d``).
        opset: MIL opset of the function (``ios18`` emits dialect A, ``ios15``-``ios17`` dialect B).
        seed: seed of the random weights.
        gelu_mode: ``EXACT``, ``TANH_APPROXIMATION`` or ``SIGMOID_APPROXIMATION``.

    Raises:
        ValueError: non-positive sizes, or ``heads`` not dividing ``d``.
    """
    ffn = 4 * d if ffn is None else ffn
    for label, v in (("d", d), ("heads", heads), ("seq", seq), ("ffn", ffn)):
        if not isinstance(v, int) or v <= 0:
            raise ValueError(f"transformer_block: {label} must be a positive int, got {v!r}")
    if d % heads:
        raise ValueError(f"transformer_block: heads ({heads}) must divide d ({d})")
    dh = d // heads
    rng = np.random.default_rng(seed)

    def weight(out_c: int, in_c: int) -> np.ndarray:
        return (rng.standard_normal((out_c, in_c, 1, 1)) / np.sqrt(in_c)).astype(np.float16)

    def norm_params() -> tuple[np.ndarray, np.ndarray]:
        gamma = (1 + 0.1 * rng.standard_normal(d)).astype(np.float16)
        beta = (0.1 * rng.standard_normal(d)).astype(np.float16)
        return gamma, beta

    g1, b1 = norm_params()
    w_qkv = weight(3 * d, d)
    w_out = weight(d, d)
    g2, b2 = norm_params()
    w_up = weight(ffn, d)
    w_down = weight(d, ffn)
    mask = np.triu(np.full((seq, seq), MASK_VALUE, np.float16), k=1).reshape(1, 1, seq, seq)
    eps = np.float16(1e-5)  # same dtype as gamma/beta (docs/internals/mil-format.md §11 rule 3)
    scale = np.float16(1 / np.sqrt(dh))

    @mil.program(inputs={"x": mil.tensor((1, d, 1, seq), "fp16")}, opset=opset)
    def block(mb: mil.Builder, x: mil.Var) -> mil.Var:
        h = mb.layer_norm(x=x, axes=np.array([1], np.int32), gamma=g1, beta=b1, epsilon=eps)
        qkv = mb.conv(x=h, weight=w_qkv, pad_type="valid")
        q, k, v = mb.split(x=qkv, num_splits=3, axis=1)
        heads_shape = np.array([1, heads, dh, seq], np.int32)
        perm = np.array([0, 1, 3, 2], np.int32)
        q = mb.transpose(x=mb.reshape(x=q, shape=heads_shape), perm=perm)  # [1, H, S, dh]
        k = mb.transpose(x=mb.reshape(x=k, shape=heads_shape), perm=perm)
        v = mb.transpose(x=mb.reshape(x=v, shape=heads_shape), perm=perm)
        scores = mb.matmul(x=q, y=k, transpose_x=False, transpose_y=True)  # [1, H, S, S]
        scores = mb.add(x=mb.mul(x=scores, y=scale), y=mask)
        attn = mb.matmul(x=mb.softmax(x=scores, axis=-1), y=v, transpose_x=False, transpose_y=False)
        attn = mb.reshape(x=mb.transpose(x=attn, perm=perm), shape=np.array([1, d, 1, seq], np.int32))
        x1 = mb.add(x=x, y=mb.conv(x=attn, weight=w_out, pad_type="valid"))
        h2 = mb.layer_norm(x=x1, axes=np.array([1], np.int32), gamma=g2, beta=b2, epsilon=eps)
        up = mb.gelu(x=mb.conv(x=h2, weight=w_up, pad_type="valid"), mode=gelu_mode)
        return {"y": mb.add(x=x1, y=mb.conv(x=up, weight=w_down, pad_type="valid"))}

    return block
