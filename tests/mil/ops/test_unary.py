"""Unary math, clip and cast specs."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, infer

from anekit.errors import MILError
from anekit.mil.ops import OP_REGISTRY, StaticContext


def test_same_type_out() -> None:
    assert infer("sqrt", {"x": T("fp16", 1, None)}) == [T("fp16", 1, None)]
    assert infer("abs", {"x": T("int32", 3)}) == [T("int32", 3)]
    with pytest.raises(MILError, match="input 'x' dtype int32 not allowed"):
        infer("exp", {"x": T("int32", 3)})


def test_epsilon_dtype_by_opset() -> None:
    # Before iOS17 epsilon shares x's type domain; from iOS17 it may have its own float dtype.
    with pytest.raises(MILError, match="epsilon dtype fp32 must equal x dtype fp16 before ios17"):
        infer("rsqrt", {"x": T("fp16", 4), "epsilon": np.float32(1e-6)}, opset="ios16")
    assert infer("rsqrt", {"x": T("fp16", 4), "epsilon": np.float32(1e-6)}, opset="ios17") == [T("fp16", 4)]
    with pytest.raises(MILError, match="rank 0"):
        infer("log", {"x": T("fp16", 4), "epsilon": np.zeros(2, np.float16)})


def test_epsilon_defaults_follow_x_dtype() -> None:
    spec = OP_REGISTRY["log"].input_spec("epsilon")
    ctx16 = StaticContext("log", "l", "ios17", {"x": T("fp16", 2)})
    ctx32 = StaticContext("log", "l", "ios17", {"x": T("fp32", 2)})
    assert spec.default(ctx16).dtype == np.float16
    assert float(spec.default(ctx16)) == 0.0  # 1e-45 underflows in fp16
    assert spec.default(ctx32) == np.float32(1e-45) == np.float32(2.0**-149)
    assert float(OP_REGISTRY["rsqrt"].input_spec("epsilon").default(ctx32)) == pytest.approx(1e-12)
    assert float(OP_REGISTRY["inverse"].input_spec("epsilon").default(ctx32)) == pytest.approx(1e-4)


def test_clip() -> None:
    x = T("fp16", 1, 128, 4)
    ok = {"x": x, "alpha": np.float16(-np.inf), "beta": np.float16(6)}
    assert infer("clip", ok, opset="ios15") == [x]
    bad = {"x": x, "alpha": np.float16(6), "beta": np.float16(0)}
    assert infer("clip", bad, opset="ios16") == [x]  # iOS15/16 do not validate the order
    with pytest.raises(MILError, match=r"alpha \(6.0\) must be smaller than beta \(0.0\)"):
        infer("clip", bad, opset="ios17")
    with pytest.raises(MILError, match="missing required input 'beta'"):
        infer("clip", {"x": x, "alpha": np.float16(0)})


def test_cast_opsets() -> None:
    assert infer("cast", {"x": T("fp32", 2, None), "dtype": "fp16"}, opset="ios15") == [T("fp16", 2, None)]
    assert infer("cast", {"x": T("fp16", 3), "dtype": "int16"}, opset="ios17") == [T("int16", 3)]
    with pytest.raises(MILError, match="dtype 'int16' not supported in ios16"):
        infer("cast", {"x": T("fp16", 3), "dtype": "int16"}, opset="ios16")
    with pytest.raises(MILError, match="input 'x' dtype uint16 not allowed in ios16"):
        infer("cast", {"x": T("uint16", 3), "dtype": "int32"}, opset="ios16")
    with pytest.raises(MILError, match="dtype must be a const string"):
        infer("cast", {"x": T("fp16", 3), "dtype": T("string")})
    with pytest.raises(MILError, match="not supported"):
        infer("cast", {"x": T("fp16", 3), "dtype": "fp64"})
