"""constexpr_* and quantize/dequantize specs, in both constexpr spellings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cases import T, i32, infer

from anekit.errors import MILError
from anekit.mil import read_blob


def _affine(**over: object) -> dict:
    attrs = {
        "quantized_data": np.zeros((128, 129, 3), np.int8),
        "zero_point": np.zeros(128, np.int8),
        "scale": np.ones(128, np.float16),
        "axis": i32(0),
    }
    attrs.update(over)
    return attrs


def test_affine_dequantize_attributes() -> None:
    assert infer("constexpr_affine_dequantize", {}, opset="ios16", attrs=_affine()) == [T("fp16", 128, 129, 3)]
    # Still valid in ios18 (docs/internals/mil-format.md §7.4: the ANE accepts it there), with scalar scale / zero
    # point.
    assert infer(
        "constexpr_affine_dequantize",
        {},
        opset="ios18",
        attrs=_affine(scale=np.float16(0.125), zero_point=np.int8(0)),
    ) == [T("fp16", 128, 129, 3)]
    with pytest.raises(MILError, match=r"'scale' must be a scalar or a vector of length 128, got \[3\]"):
        infer(
            "constexpr_affine_dequantize",
            {},
            opset="ios16",
            attrs=_affine(scale=np.ones(3, np.float16)),
        )
    with pytest.raises(MILError, match="zero_point dtype uint8 must equal quantized_data dtype int8"):
        infer(
            "constexpr_affine_dequantize",
            {},
            opset="ios16",
            attrs=_affine(zero_point=np.zeros(128, np.uint8)),
        )
    attrs = _affine()
    del attrs["axis"]
    with pytest.raises(MILError, match="missing required operand 'axis'"):
        infer("constexpr_affine_dequantize", {}, opset="ios16", attrs=attrs)


def test_lut_to_dense_ios16() -> None:
    attrs = {
        "indices": np.zeros(6, np.uint8),
        "lut": np.zeros(16, np.float16),
        "shape": np.asarray([3, 4], np.uint32),
    }
    assert infer("constexpr_lut_to_dense", {}, opset="ios16", attrs=attrs) == [T("fp16", 3, 4)]
    with pytest.raises(MILError, match=r"indices has 5 bytes; 12 elements of 4 bits need 6"):
        infer(
            "constexpr_lut_to_dense",
            {},
            opset="ios16",
            attrs={**attrs, "indices": np.zeros(5, np.uint8)},
        )
    with pytest.raises(MILError, match="lut must have 2, 4, 16, 64 or 256 entries"):
        infer(
            "constexpr_lut_to_dense",
            {},
            opset="ios16",
            attrs={**attrs, "lut": np.zeros(3, np.float16)},
        )
    with pytest.raises(MILError, match="'vector_axis' exists from ios18"):
        infer("constexpr_lut_to_dense", {}, opset="ios17", attrs={**attrs, "vector_axis": i32(0)})


def test_lut_to_dense_ios18() -> None:
    assert infer(
        "constexpr_lut_to_dense",
        {"indices": T("uint2", 6, 2), "lut": T("fp16", 2, 1, 4, 1)},
        opset="ios18",
    ) == [T("fp16", 6, 2)]
    with pytest.raises(MILError, match="lut dim -2 must be 2\\^2 = 4 for uint2 indices"):
        infer(
            "constexpr_lut_to_dense",
            {"indices": T("uint2", 6, 2), "lut": T("fp16", 1, 1, 16, 1)},
            opset="ios18",
        )
    with pytest.raises(MILError, match="vector_axis is required"):
        infer(
            "constexpr_lut_to_dense",
            {"indices": T("uint1", 2, 2), "lut": T("fp16", 1, 1, 2, 3)},
            opset="ios18",
        )
    with pytest.raises(MILError, match="'shape' is an iOS16/17 operand"):
        infer(
            "constexpr_lut_to_dense",
            {
                "indices": T("uint2", 6, 2),
                "lut": T("fp16", 1, 1, 4, 1),
                "shape": np.asarray([6, 2], np.uint32),
            },
            opset="ios18",
        )
    with pytest.raises(MILError, match="'indices' dtype uint2 not allowed in ios17"):
        infer(
            "constexpr_lut_to_dense",
            {"indices": T("uint2", 6, 2), "lut": T("fp16", 1, 1, 4, 1)},
            opset="ios17",
        )


def test_sparse_to_dense() -> None:
    attrs = {
        "mask": np.asarray([0b00000111, 0b1], np.uint8),
        "nonzero_data": np.zeros(4, np.float16),
        "shape": np.asarray([3, 3], np.uint32),
    }
    assert infer("constexpr_sparse_to_dense", {}, opset="ios16", attrs=attrs) == [T("fp16", 3, 3)]
    with pytest.raises(MILError, match="'mask' has 4 set bits but nonzero_data has 5 entries"):
        infer(
            "constexpr_sparse_to_dense",
            {},
            opset="ios16",
            attrs={**attrs, "nonzero_data": np.zeros(5, np.float16)},
        )
    with pytest.raises(MILError, match=r"mask must be uint8\[ceil\(9/8\)\] = \[2\]"):
        infer(
            "constexpr_sparse_to_dense",
            {},
            opset="ios16",
            attrs={**attrs, "mask": np.zeros(3, np.uint8)},
        )


def test_blockwise_shift_scale() -> None:
    args = {"data": T("int4", 64, 32), "scale": T("fp16", 64, 2), "offset": T("int4", 64, 2)}
    assert infer("constexpr_blockwise_shift_scale", args, opset="ios18") == [T("fp16", 64, 32)]
    with pytest.raises(MILError, match="data dim 1 \\(32\\) is not a multiple of scale dim 1 \\(3\\)"):
        infer(
            "constexpr_blockwise_shift_scale",
            {**args, "scale": T("fp16", 64, 3), "offset": T("int4", 64, 3)},
            opset="ios18",
        )
    with pytest.raises(MILError, match="offset dtype int8 must be a float or equal data dtype int4"):
        infer("constexpr_blockwise_shift_scale", {**args, "offset": T("int8", 64, 2)}, opset="ios18")
    with pytest.raises(MILError, match="scale rank 1 must equal data rank 2"):
        infer(
            "constexpr_blockwise_shift_scale",
            {"data": T("int8", 4, 4), "scale": T("fp16", 4)},
            opset="ios18",
        )
    with pytest.raises(MILError, match="not available in opset ios17"):
        infer("constexpr_blockwise_shift_scale", args, opset="ios17")


def test_quantize_dequantize() -> None:
    x = T("fp16", None, 1, 1, None)
    assert infer("quantize", {"input": x, "scale": np.float16(0.1), "output_dtype": "uint8"}) == [
        T("uint8", None, 1, 1, None)
    ]
    with pytest.raises(MILError, match="'scale' dtype fp32 must equal 'input' dtype fp16"):
        infer("quantize", {"input": x, "scale": np.float32(0.1), "output_dtype": "int8"})
    with pytest.raises(MILError, match="'scale' is a vector, so 'axis' is required"):
        infer(
            "quantize",
            {"input": T("fp16", 2, 3), "scale": np.ones(3, np.float16), "output_dtype": "int8"},
        )
    with pytest.raises(MILError, match="zero_point dtype uint8 must equal output_dtype int8"):
        infer(
            "quantize",
            {"input": x, "scale": np.float16(1), "zero_point": np.uint8(3), "output_dtype": "int8"},
        )
    with pytest.raises(MILError, match="'output_dtype' must be one of 'int8', 'uint8'"):
        infer("quantize", {"input": x, "scale": np.float16(1), "output_dtype": "int4"})
    assert infer(
        "dequantize",
        {
            "input": T("uint8", 2, 3),
            "scale": np.ones(3, np.float32),
            "zero_point": np.zeros(3, np.uint8),
            "axis": i32(-1),
        },
    ) == [T("fp32", 2, 3)]
    with pytest.raises(MILError, match="not available in opset ios16"):
        infer("dequantize", {"input": T("int8", 2), "scale": np.float16(1)}, opset="ios16")


DATA = Path(__file__).resolve().parents[2] / "data" / "mil"


def test_real_sparse_and_palette_blobs() -> None:
    """The iOS16 constexpr rules hold on the real Silero VAD weights (docs/internals/mil-format.md §13)."""
    pruned = DATA / "silero_vad_pruned_int8_ios16.mlmodelc" / "weights" / "weight.bin"
    palette = DATA / "silero_vad_palette2bit_ios16.mlmodelc" / "weights" / "weight.bin"
    if not pruned.exists() or not palette.exists():
        pytest.skip(f"corpus copies not found under {DATA}")
    raw = pruned.read_bytes()
    # Offsets and sizes from the model.mil statement `encoder_layers_6_weight_to_fp16_sparsified`.
    mask = read_blob(raw, 176256, "uint8", (3072,))
    nonzero = read_blob(raw, 155648, "fp16", (10246,))
    shape = np.asarray([128, 64, 3], np.uint32)
    attrs = {"mask": mask, "nonzero_data": nonzero, "shape": shape}
    assert infer("constexpr_sparse_to_dense", {}, opset="ios16", attrs=attrs) == [T("fp16", 128, 64, 3)]
    with pytest.raises(MILError, match="'mask' has 10246 set bits but nonzero_data has 10245 entries"):
        infer("constexpr_sparse_to_dense", {}, opset="ios16", attrs={**attrs, "nonzero_data": nonzero[:-1]})
    indices = read_blob(palette.read_bytes(), 64, "uint8", (16512,))
    attrs = {"indices": indices, "lut": np.zeros(4, np.float16), "shape": np.asarray([258, 1, 256], np.uint32)}
    assert infer("constexpr_lut_to_dense", {}, opset="ios16", attrs=attrs) == [T("fp16", 258, 1, 256)]
