"""The example transformer block: its structure, and its numerics against a plain numpy implementation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import anekit
from anekit.examples import transformer_block
from anekit.examples.transformer import MASK_VALUE


def _consts(program: anekit.mil.Program) -> list[np.ndarray]:
    return [op.outputs[0].const_value for op in program.main.operations if op.op_type == "const"]


def _numpy_block(x: np.ndarray, program: anekit.mil.Program, d: int, heads: int, seq: int) -> np.ndarray:
    """The same block written directly in float64 numpy, reading the weights back out of the program."""
    ops = {op.name: op for op in program.main.operations}
    conv_w = [ops[f"conv_{i}"].input_value("weight").astype(np.float64)[:, :, 0, 0] for i in range(4)]
    ln = [ops[f"layer_norm_{i}"] for i in range(2)]
    gb = [(o.input_value("gamma").astype(np.float64), o.input_value("beta").astype(np.float64)) for o in ln]

    def layer_norm(v: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
        mu = v.mean(axis=0, keepdims=True)
        var = ((v - mu) ** 2).mean(axis=0, keepdims=True)
        return (v - mu) / np.sqrt(var + float(np.float16(1e-5))) * g[:, None] + b[:, None]

    xs = x.reshape(d, seq).astype(np.float64)
    h = layer_norm(xs, *gb[0])
    q, k, v = np.split(conv_w[0] @ h, 3, axis=0)
    dh = d // heads
    q, k, v = (t.reshape(heads, dh, seq).transpose(0, 2, 1) for t in (q, k, v))
    scores = q @ k.transpose(0, 2, 1) * float(np.float16(1 / np.sqrt(dh)))
    scores = scores + np.triu(np.full((seq, seq), MASK_VALUE), k=1)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    attn = (p @ v).transpose(0, 2, 1).reshape(d, seq)
    x1 = xs + conv_w[1] @ attn
    up = conv_w[2] @ layer_norm(x1, *gb[1])
    gelu = 0.5 * up * (1 + np.tanh(np.sqrt(2 / np.pi) * (up + 0.044715 * up**3)))
    return (x1 + conv_w[3] @ gelu).reshape(1, d, 1, seq)


def test_block_matches_numpy_in_fp64_and_fp16_stays_close() -> None:
    d, heads, seq = 64, 4, 32
    program = transformer_block(d, heads, seq, seed=3)
    x = np.random.default_rng(0).standard_normal((1, d, 1, seq)).astype(np.float16)
    want = _numpy_block(x, program, d, heads, seq)
    got64 = anekit.reference.run(program, {"x": x}, precision="fp64")["y"]
    np.testing.assert_allclose(got64, want, rtol=1e-9, atol=1e-9)
    got16 = anekit.reference.run(program, {"x": x})["y"].astype(np.float64)
    assert np.max(np.abs(got16 - want)) < 0.05 * np.max(np.abs(want))


def test_block_structure_and_causality() -> None:
    program = transformer_block(32, 2, 16)
    types = [op.op_type for op in program.main.operations]
    for op in ("layer_norm", "conv", "matmul", "softmax", "gelu", "add", "mul", "split", "reshape", "transpose"):
        assert op in types
    x = np.random.default_rng(1).standard_normal((1, 32, 1, 16)).astype(np.float32)
    y = anekit.reference.run(program, {"x": x})["y"]
    x2 = x.copy()
    x2[..., 10:] += 1  # changing later positions must not change earlier outputs (causal mask)
    y2 = anekit.reference.run(program, {"x": x2})["y"]
    np.testing.assert_array_equal(y[..., :10], y2[..., :10])
    assert not np.array_equal(y[..., 10:], y2[..., 10:])


@pytest.mark.parametrize(("args", "match"), [((0, 1, 4), "d must be a positive int"), ((10, 3, 4), "must divide")])
def test_bad_sizes_are_rejected(args: tuple[int, int, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        transformer_block(*args)


def test_demo_command_runs_and_verifies() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "anekit", "demo", "--d", "64", "--heads", "4", "--seq", "32", "--runs", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert any(line.split()[:3] == ["PASS", "y", "1x64x1x32"] for line in res.stdout.splitlines()), res.stdout
    assert "verify PASS: " in res.stdout
    assert "compile" in res.stdout
    timed = [line.split()[0] for line in res.stdout.splitlines() if line.endswith("(median of 2)")]
    assert timed == ["input", "run", "output"]
