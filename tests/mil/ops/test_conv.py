"""conv and conv_transpose specs: channels/groups, padding modes, defaults, unknown dims."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, i32, i32v, infer

from anekit.errors import MILError
from anekit.mil.ops import OP_REGISTRY, StaticContext


def test_defaults_materialise_like_coremltools() -> None:
    spec = OP_REGISTRY["conv"]
    ctx = StaticContext("conv", "c", "ios17", {"x": T("fp16", 1, 4, 8, 8), "weight": T("fp16", 4, 4, 3, 3)})
    assert spec.input_spec("strides").default(ctx).tolist() == [1, 1]
    assert spec.input_spec("dilations").default(ctx).tolist() == [1, 1]
    assert spec.input_spec("pad").default(ctx).tolist() == [0, 0, 0, 0]
    assert spec.input_spec("pad").default(ctx).dtype == np.int32
    assert spec.input_spec("pad_type").default == "valid"
    assert int(spec.input_spec("groups").default) == 1


def test_padding_modes() -> None:
    x, w = T("fp32", 1, 3, 10, 10), T("fp32", 8, 3, 3, 3)
    s2 = i32v(2, 2)
    assert infer("conv", {"x": x, "weight": w, "strides": s2}) == [T("fp32", 1, 8, 4, 4)]
    assert infer("conv", {"x": x, "weight": w, "strides": s2, "pad_type": "same"}) == [T("fp32", 1, 8, 5, 5)]
    assert infer("conv", {"x": x, "weight": w, "pad_type": "custom", "pad": i32v(1, 1, 0, 2)}) == [
        T("fp32", 1, 8, 10, 10)
    ]
    # pad is ignored unless pad_type is custom.
    assert infer("conv", {"x": x, "weight": w, "pad_type": "valid", "pad": i32v(5, 5, 5, 5)}) == [T("fp32", 1, 8, 8, 8)]
    with pytest.raises(MILError, match="'same_lower' exists from ios16"):
        infer("conv", {"x": x, "weight": w, "pad_type": "same_lower"}, opset="ios15")
    with pytest.raises(MILError, match="'pad_type' must be one of"):
        infer("conv", {"x": x, "weight": w, "pad_type": "full"})


def test_channel_checks() -> None:
    with pytest.raises(MILError, match=r"weight dim 1 3 != x channels 6 / groups 1"):
        infer("conv", {"x": T("fp16", 1, 6, 8), "weight": T("fp16", 4, 3, 3)})
    with pytest.raises(MILError, match="x channels 6 not divisible by groups 4"):
        infer("conv", {"x": T("fp16", 1, 6, 8), "weight": T("fp16", 4, 3, 3), "groups": i32(4)})
    with pytest.raises(MILError, match="bias length 5 != output channels 4"):
        infer("conv", {"x": T("fp16", 1, 3, 8), "weight": T("fp16", 4, 3, 3), "bias": T("fp16", 5)})
    with pytest.raises(MILError, match="strides must have 2 entries"):
        infer(
            "conv",
            {"x": T("fp16", 1, 3, 8, 8), "weight": T("fp16", 4, 3, 3, 3), "strides": i32v(1)},
        )
    with pytest.raises(MILError, match="must have rank 3 or 4 or 5"):
        infer("conv", {"x": T("fp16", 3, 8), "weight": T("fp16", 4, 3, 3)})
    with pytest.raises(MILError, match="larger than the padded input"):
        infer("conv", {"x": T("fp16", 1, 3, 2), "weight": T("fp16", 4, 3, 3)})


def test_unknown_dims() -> None:
    out = infer("conv", {"x": T("fp32", 1, 1, None), "weight": T("fp32", 257, 1, 512), "strides": i32v(160)})
    assert out == [T("fp32", 1, 257, None)]
    out = infer("conv", {"x": T("fp32", None, None, 16), "weight": T("fp32", 8, 4, 3), "groups": i32(2)})
    assert out == [T("fp32", None, 8, 14)]


def test_weight_dtype_by_opset() -> None:
    x, w = T("fp16", 1, 3, 8), T("fp32", 4, 3, 3)
    with pytest.raises(MILError, match="weight dtype fp32 must equal x dtype fp16 before ios17"):
        infer("conv", {"x": x, "weight": w}, opset="ios16")
    assert infer("conv", {"x": x, "weight": w}) == [T("fp16", 1, 4, 6)]


def test_conv_transpose() -> None:
    x, w = T("fp32", 1, 8, 5), T("fp32", 8, 2, 4)
    assert infer("conv_transpose", {"x": x, "weight": w, "strides": i32v(2), "groups": i32(2)}) == [T("fp32", 1, 4, 12)]
    assert infer("conv_transpose", {"x": x, "weight": w, "pad_type": "custom", "pad": i32v(1, 1)}) == [
        T("fp32", 1, 2, 6)
    ]
    assert infer("conv_transpose", {"x": x, "weight": w, "output_shape": i32v(1, 2, 9)}) == [T("fp32", 1, 2, 9)]
    with pytest.raises(MILError, match="weight dim 0 4 != x channels 8"):
        infer("conv_transpose", {"x": x, "weight": T("fp32", 4, 2, 4)})


def test_conv_transpose_output_shape_must_match_batch_and_channels() -> None:
    x, w = T("fp32", 1, 8, 5), T("fp32", 8, 2, 4)
    with pytest.raises(MILError, match=r"output_shape \[1, 3, 9\] must start with \[N, C_out\] = \[1, 2\]"):
        infer("conv_transpose", {"x": x, "weight": w, "output_shape": i32v(1, 3, 9)})


def test_const_requirements_by_opset() -> None:
    conv, convt = OP_REGISTRY["conv"], OP_REGISTRY["conv_transpose"]
    assert conv.requires_const("bias", "ios16")
    assert not conv.requires_const("bias", "ios17")
    assert not conv.requires_const("weight", "ios15")  # runtime-weight conv is legal (ANE: not grouped)
    assert convt.requires_const("weight", "ios16")
    assert not convt.requires_const("weight", "ios18")
    assert conv.requires_const("strides", "ios18")
    assert OP_REGISTRY["linear"].requires_const("weight", "ios18")
