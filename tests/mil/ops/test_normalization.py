"""Normalisation specs."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, i32, i32v, infer

from anekit.errors import MILError
from anekit.mil.ops import OP_REGISTRY, StaticContext


def test_layer_norm() -> None:
    x = T("fp16", 2, None, 64)
    assert infer("layer_norm", {"x": x, "axes": i32v(-1), "gamma": T("fp16", 64)}) == [x]
    assert infer("layer_norm", {"x": T("fp32", 2, 3, 4), "axes": i32v(2, 1), "gamma": T("fp32", 3, 4)}) == [
        T("fp32", 2, 3, 4)
    ]
    assert infer("layer_norm", {"x": x}) == [x]
    with pytest.raises(MILError, match=r"'gamma' shape \[32\] must equal x.shape\[axes\] \[64\]"):
        infer("layer_norm", {"x": x, "axes": i32v(-1), "gamma": T("fp16", 32)})
    with pytest.raises(MILError, match="'epsilon' dtype fp32 must equal x dtype fp16 before ios17"):
        infer("layer_norm", {"x": x, "axes": i32v(-1), "epsilon": np.float32(1e-5)}, opset="ios16")
    with pytest.raises(MILError, match="parameters must share one dtype"):
        infer(
            "layer_norm",
            {"x": x, "axes": i32v(-1), "gamma": T("fp32", 64), "epsilon": np.float16(1e-5)},
        )


def test_epsilon_default() -> None:
    ctx = StaticContext("layer_norm", "ln", "ios17", {"x": T("fp16", 4)})
    eps = OP_REGISTRY["layer_norm"].input_spec("epsilon").default(ctx)
    assert eps.dtype == np.float16
    assert float(eps) == pytest.approx(1e-5, rel=1e-2)


def test_batch_and_instance_norm() -> None:
    x = T("fp16", 1, 8, None)
    assert infer("batch_norm", {"x": x, "mean": T("fp16", 8), "variance": T("fp16", 8)}) == [x]
    with pytest.raises(MILError, match=r"'variance' must have shape \[8\]"):
        infer("batch_norm", {"x": x, "mean": T("fp16", 8), "variance": T("fp16", 4)})
    with pytest.raises(MILError, match="must have rank 3 or 4"):
        infer("instance_norm", {"x": T("fp16", 8, 3)})
    with pytest.raises(MILError, match="rank >= 3"):
        infer("l2_norm", {"x": T("fp16", 8, 3)})
    with pytest.raises(MILError, match="size must be >= 1"):
        infer("local_response_norm", {"x": T("fp16", 1, 8, 3), "size": i32(0)})


def test_rms_norm_is_not_a_mil_op() -> None:
    assert "rms_norm" not in OP_REGISTRY  # docs/internals/mil-format.md §10.4: lowered by coremltools, not an op


def test_layer_norm_default_axes_are_materialised() -> None:
    ctx = StaticContext("layer_norm", "ln", "ios17", {"x": T("fp16", 2, 3, 4)})
    axes = OP_REGISTRY["layer_norm"].input_spec("axes").default(ctx)
    assert axes.dtype == np.int32
    assert axes.tolist() == [0, 1, 2]
