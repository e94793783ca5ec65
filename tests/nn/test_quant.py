"""anekit.nn.quant: GGUF Q4_0 / Q4_1 / Q8_0 blocks kept compressed as MIL constexpr ops, checked bit for bit against
the gguf package's own dequantization (written by llama.cpp's authors, independent of anekit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import anekit
from anekit import mil, nn
from anekit.nn import QuantizedWeight

gguf = pytest.importorskip("gguf")

FORMATS = ["Q4_0", "Q4_1", "Q8_0"]


def _blocks(fmt: str, shape: tuple[int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw GGUF blocks of random weights, and gguf's dequantization of them rounded to fp16 (what baking the
    dequantized weight gives)."""
    w = np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 0.3
    w[0, :32] += 2.0  # one block far from zero: Q4_1's minimum and Q4_0's scale take unusual values
    qtype = getattr(gguf.GGMLQuantizationType, fmt)
    raw = gguf.quants.quantize(w, qtype)
    want = np.asarray(gguf.quants.dequantize(raw, qtype), np.float32).reshape(shape).astype(np.float16)
    return raw, want


def _bits(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.float16).view(np.uint16)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dequantize_equals_gguf_bit_for_bit(fmt: str) -> None:
    raw, want = _blocks(fmt, (48, 96))
    q = QuantizedWeight.from_gguf_blocks(fmt, raw, (48, 96))
    assert q.shape == (48, 96)
    np.testing.assert_array_equal(_bits(q.dequantize()), _bits(want))


def _linear_program(weight: object, c_in: int) -> mil.Program:
    @mil.program(inputs={"x": mil.tensor((1, c_in, 1, 32), "fp16")})
    def prog(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        return {"y": nn.linear(mb, x, weight, name="proj")}

    return prog


@pytest.mark.parametrize("fmt", FORMATS)
def test_constexpr_program_decompresses_gguf_values_and_survives_save_and_load(fmt: str, tmp_path: Path) -> None:
    raw, want = _blocks(fmt, (40, 64), seed=1)
    q = QuantizedWeight.from_gguf_blocks(fmt, raw, (40, 64))
    prog = _linear_program(q, 64)
    ops = {op.op_type for op in prog.main.operations}
    assert ("constexpr_lut_to_dense" if fmt == "Q4_1" else "constexpr_blockwise_shift_scale") in ops
    assert not [d for d in mil.validate(prog) if d.severity == "error"]
    x = {"x": np.random.default_rng(2).standard_normal((1, 64, 1, 32)).astype(np.float16)}
    res = anekit.reference.run(prog, x, trace=True)
    deq = next(op for op in prog.main.operations if op.op_type.startswith("constexpr"))
    weight = res.trace[deq.outputs[0].name]
    np.testing.assert_array_equal(_bits(weight[:, :, 0, 0]), _bits(want))
    # The same program with the weight baked as fp16 computes the same bits.
    dense = anekit.reference.run(_linear_program(want.astype(np.float32), 64), x)["y"]
    np.testing.assert_array_equal(_bits(res.outputs["y"]), _bits(dense))
    # Written (uint4 packed two per byte, int8, fp16 tables) and read back, it still does.
    loaded = mil.load(prog.save(tmp_path / "m"))
    np.testing.assert_array_equal(_bits(anekit.reference.run(loaded, x)["y"]), _bits(dense))
    # The weight file is smaller than the fp16 weight's 40 * 64 * 2 bytes by the format's ratio.
    size = sum(len(b) for b in prog.weights().values())
    assert size < {"Q4_0": 0.45, "Q4_1": 0.85, "Q8_0": 0.7}[fmt] * 40 * 64 * 2 + 1024, size


@pytest.mark.parametrize("fmt", FORMATS)
def test_rows_and_concatenation_keep_the_values(fmt: str) -> None:
    raw, want = _blocks(fmt, (12, 64), seed=3)
    q = QuantizedWeight.from_gguf_blocks(fmt, raw, (12, 64))
    order = np.array([5, 0, 11, 3])
    np.testing.assert_array_equal(_bits(q.take_rows(order).dequantize()), _bits(want[order]))
    both = QuantizedWeight.concat_rows([q.take_rows(slice(0, 4)), q.take_rows(slice(4, 12))])
    np.testing.assert_array_equal(_bits(both.dequantize()), _bits(want))


def test_swiglu_fuses_quantized_gate_and_up_without_decompressing() -> None:
    gate = QuantizedWeight.from_gguf_blocks("Q4_1", _blocks("Q4_1", (64, 32), 4)[0], (64, 32))
    up = QuantizedWeight.from_gguf_blocks("Q4_1", _blocks("Q4_1", (64, 32), 5)[0], (64, 32))
    down = QuantizedWeight.from_gguf_blocks("Q8_0", _blocks("Q8_0", (32, 64), 6)[0], (32, 64))

    @mil.program(inputs={"x": mil.tensor((1, 32, 1, 32), "fp16")})
    def prog(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        return {"y": nn.swiglu(mb, x, gate, up, down)}

    kinds = [op.op_type for op in prog.main.operations if op.op_type.startswith("constexpr")]
    assert kinds == ["constexpr_lut_to_dense", "constexpr_blockwise_shift_scale"]

    @mil.program(inputs={"x": mil.tensor((1, 32, 1, 32), "fp16")})
    def dense(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        return {"y": nn.swiglu(mb, x, gate.dequantize(), up.dequantize(), down.dequantize())}

    x = {"x": np.random.default_rng(7).standard_normal((1, 32, 1, 32)).astype(np.float16)}
    np.testing.assert_array_equal(
        _bits(anekit.reference.run(prog, x)["y"]), _bits(anekit.reference.run(dense, x)["y"])
    )


def test_bad_blocks_are_refused() -> None:
    raw, _ = _blocks("Q4_0", (4, 64))
    with pytest.raises(ValueError, match="not one of"):
        QuantizedWeight.from_gguf_blocks("Q4_K", raw, (4, 64))
    with pytest.raises(ValueError, match="bytes are not"):
        QuantizedWeight.from_gguf_blocks("Q4_0", raw, (4, 96))
    with pytest.raises(ValueError, match="4-bit"):
        QuantizedWeight("Q4_0", np.full((1, 32), 16, np.uint8), scale=np.ones((1, 1), np.float16))
    with pytest.raises(ValueError, match="fp16 lut"):
        QuantizedWeight("Q4_1", np.zeros((1, 32), np.uint8), scale=np.ones((1, 1), np.float16))
    with pytest.raises(ValueError, match="multiple of 32"):
        QuantizedWeight("Q8_0", np.zeros((1, 16), np.int8), scale=np.ones((1, 1), np.float16))
    with pytest.raises(ValueError, match="codes must be int8"):
        QuantizedWeight("Q8_0", np.zeros((1, 32), np.uint8), scale=np.ones((1, 1), np.float16))
    with pytest.raises(ValueError, match="one format"):
        QuantizedWeight.concat_rows([])
    with pytest.raises(ValueError, match=r"weight must be \[OUT, 32\]"):
        _linear_program(QuantizedWeight.from_gguf_blocks("Q4_0", raw, (4, 64)), 32)


def test_two_quantized_layers_with_one_name_and_the_opset_rule() -> None:
    raw, want = _blocks("Q8_0", (32, 32), seed=8)
    q = QuantizedWeight.from_gguf_blocks("Q8_0", raw, (32, 32))

    @mil.program(inputs={"x": mil.tensor((1, 32, 1, 32), "fp16")})
    def twice(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        return {"y": nn.linear(mb, nn.linear(mb, x, q), q)}  # both named "linear"

    x = {"x": np.random.default_rng(9).standard_normal((1, 32, 1, 32)).astype(np.float16)}
    dense = _linear_program(want.astype(np.float32), 32)
    once = anekit.reference.run(dense, x)["y"]
    np.testing.assert_array_equal(
        _bits(anekit.reference.run(twice, x)["y"]), _bits(anekit.reference.run(dense, {"x": once})["y"])
    )
    with pytest.raises(anekit.errors.MILError, match="needs opset ios18"):

        @mil.program(inputs={"x": mil.tensor((1, 32, 1, 32), "fp16")}, opset="ios17")
        def old(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
            return {"y": nn.linear(mb, x, q, name="proj")}
