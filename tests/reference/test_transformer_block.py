"""A small transformer block built with anekit.mil.Builder, run by the reference executor and by PyTorch.

The same graph as benchmarks/bench_reference.py at test size (d=64, 4 heads, seq 32, ANE layout
[1, C, 1, S]): layer_norm over channels, fused QKV 1×1 conv, causal attention as matmul/scale/mask/softmax/
matmul, output projection, residual, layer_norm, FFN with gelu, residual.
"""

from __future__ import annotations

import numpy as np
import pytest

from anekit import mil
from anekit.reference import Executor, assert_close

D, H, S, FF = 64, 4, 32, 256
DH = D // H


def _weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)

    def w(oc: int, ic: int) -> np.ndarray:
        return (rng.standard_normal((oc, ic, 1, 1)) / np.sqrt(ic)).astype(np.float16)

    return {
        "qkv": w(3 * D, D),
        "o": w(D, D),
        "f1": w(FF, D),
        "f2": w(D, FF),
        "g": (1 + 0.1 * rng.standard_normal(D)).astype(np.float16),
        "b": (0.1 * rng.standard_normal(D)).astype(np.float16),
    }


def _mask() -> np.ndarray:
    return np.triu(np.full((S, S), -65504.0), k=1).astype(np.float16)[None, None]


def _program(w: dict[str, np.ndarray]) -> mil.Program:
    mb = mil.Builder("ios18")
    x = mb.input("x", mil.tensor((1, D, 1, S), "fp16"))
    ax, eps = np.int32([1]), np.float16(1e-5)
    heads, flat, perm = np.int32([1, H, DH, S]), np.int32([1, D, 1, S]), np.int32([0, 1, 3, 2])
    h = mb.layer_norm(x=x, axes=ax, gamma=w["g"], beta=w["b"], epsilon=eps)
    q, k, v = mb.split(x=mb.conv(x=h, weight=w["qkv"]), axis=np.int32(1), num_splits=np.int32(3))
    q = mb.transpose(x=mb.reshape(x=q, shape=heads), perm=perm)
    v = mb.transpose(x=mb.reshape(x=v, shape=heads), perm=perm)
    s = mb.matmul(x=q, y=mb.reshape(x=k, shape=heads), transpose_x=False, transpose_y=False)
    s = mb.add(x=mb.mul(x=s, y=np.float16(1 / np.sqrt(DH))), y=_mask())
    o = mb.matmul(x=mb.softmax(x=s, axis=np.int32(-1)), y=v, transpose_x=False, transpose_y=False)
    x = mb.add(x=x, y=mb.conv(x=mb.reshape(x=mb.transpose(x=o, perm=perm), shape=flat), weight=w["o"]))
    h = mb.layer_norm(x=x, axes=ax, gamma=w["g"], beta=w["b"], epsilon=eps)
    return mb.build(mb.add(x=x, y=mb.conv(x=mb.gelu(x=mb.conv(x=h, weight=w["f1"])), weight=w["f2"])))


def _torch(w: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    t = {k: torch.from_numpy(v.astype(np.float32)) for k, v in w.items()}

    def ln(z):
        return F.layer_norm(z.permute(0, 2, 3, 1), (D,), t["g"], t["b"], 1e-5).permute(0, 3, 1, 2)

    with torch.no_grad():
        xt = torch.from_numpy(x)
        q, k, v = F.conv2d(ln(xt), t["qkv"]).split(D, dim=1)
        q, v = (z.reshape(1, H, DH, S).transpose(2, 3) for z in (q, v))
        scale = float(np.float16(1 / np.sqrt(DH)))
        p = torch.softmax(q @ k.reshape(1, H, DH, S) * scale + torch.from_numpy(_mask().astype(np.float32)), -1)
        xt = xt + F.conv2d((p @ v).transpose(2, 3).reshape(1, D, 1, S), t["o"])
        return (xt + F.conv2d(F.gelu(F.conv2d(ln(xt), t["f1"])), t["f2"])).numpy()


def test_block_matches_torch_in_fp32_and_within_fp16_error_in_ane_precision():
    pytest.importorskip("torch")
    w = _weights()
    prog = _program(w)
    x = np.random.default_rng(1).standard_normal((1, D, 1, S)).astype(np.float16).astype(np.float32)
    ref = _torch(w, x)
    name = prog.main.outputs[0].name
    f32 = Executor(prog, precision="fp32")({"x": x})[name]
    assert_close(f32, ref, rtol=1e-4, atol=1e-4)
    ane = Executor(prog)({"x": x})[name]
    assert ane.dtype == np.float16
    # ~30 fp16 roundings on a path of O(1) values: a few 1e-3 relative to the output scale
    err = np.max(np.abs(ane.astype(np.float32) - ref)) / np.max(np.abs(ref))
    assert 1e-5 < err < 1e-2
