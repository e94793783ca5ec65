"""ConstMaker: the const-promotion rule, the §7.2 storage threshold, dtype overrides and per-builder caches."""

from __future__ import annotations

import numpy as np
import pytest

from anekit import mil
from anekit.errors import MILError
from anekit.mil import tensor
from anekit.mil.blob import BlobFile
from anekit.mil.builder.consts import PEERLESS, ConstMaker, peerless_key
from anekit.mil.check import literal_key
from anekit.mil.ops._spec import InputSpec
from anekit.mil.types import FP16, TensorType


def test_typing_rule_and_storage() -> None:
    cm = ConstMaker("ios18")
    assert cm.value(1.5).type == TensorType("fp32", ())
    assert cm.value(7).type == TensorType("int32", ())
    assert cm.value(np.arange(3)).type == tensor((3,), "int32")  # int64 -> int32
    assert cm.value(np.zeros(2)).type == tensor((2,), "fp32")  # float64 -> fp32
    assert cm.value("valid").type == TensorType("string", ())
    assert cm.value(np.zeros(10, np.int32)).storage == "blob"  # iOS18 stores int32 blobs
    assert ConstMaker("ios17").value(np.zeros(10, np.int32)).storage == "inline"
    assert cm.value(np.zeros(9, np.float16)).storage == "inline"
    assert cm.value(np.zeros(3, np.float16), blob=True).storage == "blob"
    v = cm.value(np.zeros(3, np.float16), blob=True, blob_path="@model_path/weights/w2.bin")
    assert v.path_hint == "@model_path/weights/w2.bin"
    with pytest.raises(MILError, match="cannot make a constant"):
        cm.value(object())


def test_dtype_override_checks_the_values() -> None:
    cm = ConstMaker("ios18")
    assert cm.value([0.5, 1.0], dt="fp16").type == tensor((2,), "fp16")
    assert cm.value(np.array([1, 15], np.uint8), dt="uint4").type == tensor((2,), "uint4")
    with pytest.raises(MILError, match="do not fit uint4"):
        cm.value(np.array([16], np.uint8), dt="uint4")
    with pytest.raises(MILError, match="are not integers"):
        cm.value([0.5], dt="int8")
    with pytest.raises(MILError, match="cannot convert"):
        cm.value(1.0, dt="string")


def test_arrays_are_shared_read_only_views() -> None:
    cm = ConstMaker("ios18")
    w = np.ones((4, 4), np.float16)
    first = cm.value(w)
    again = cm.array_value(w)
    assert again is not None and again.type is first.type
    assert again._data is first._data  # one view per array: repeated inputs share it
    assert first._data.base is w and not first._data.flags.writeable
    assert w.flags.writeable  # the caller's array is untouched
    frozen = np.zeros(3, np.int32)
    frozen.flags.writeable = False
    assert cm.frozen(frozen) is frozen
    assert cm.array_value(np.ones((5, 5), np.float16)) is None  # this dtype/shape was never typed


def test_literals_are_typed_once_per_input_and_peer() -> None:
    cm = ConstMaker("ios18")
    y = InputSpec("y", ("fp16", "fp32"), same_dtype_as="x")
    half = cm.literal(0.5, y, FP16)
    assert half.type == TensorType("fp16", ())
    assert cm.literal(0.5, y, FP16)._data is half._data  # cached
    assert cm.literal(0.5, y, None).type == TensorType("fp32", ())  # another peer: another entry
    assert cm.literal(True, y, None).type == TensorType("bool", ())  # True == 1 == 1.0, but not the same key
    lst = [1.0, 2.0]
    assert cm.literal(lst, y, FP16).type == tensor((2,), "fp16")
    lst.append(3.0)  # lists are never cached: a changed list is typed again
    assert cm.literal(lst, y, FP16).type == tensor((3,), "fp16")


@pytest.mark.parametrize("val", ["valid", np.float16(0.5), np.int32(-1), np.bool_(True), 1.0, 1, True, [1]])
def test_peerless_key_is_literal_key_without_a_peer(val: object) -> None:
    spec = InputSpec("y", ("fp16", "fp32"))
    if isinstance(val, PEERLESS):
        assert peerless_key(val) == literal_key(val, spec, FP16) == literal_key(val, spec, None)
    else:
        assert peerless_key(val) is None  # Python numbers take the peer's dtype: their key needs it


def test_a_reshaped_array_gets_a_matching_view() -> None:
    cm = ConstMaker("ios18")
    a = np.arange(4, dtype=np.int32)
    first = cm.value(a)
    a.shape = (2, 2)  # reassigned in place: the cached view no longer describes the array
    again = cm.value(a)
    assert again.type == tensor((2, 2), "int32") and again._data.shape == (2, 2)
    assert first._data.shape == (4,)


def test_float64_scalars_are_not_peerless() -> None:
    # They follow the op's compute dtype (check.follow_dtype), so their cache key must include it.
    spec = InputSpec("epsilon", ("fp16", "fp32"))
    assert peerless_key(np.float64(0.5)) is None
    assert literal_key(np.float64(0.5), spec, None, FP16) != literal_key(np.float64(0.5), spec, None, None)


OPSETS_ALL = ("ios15", "ios16", "ios17", "ios18")


def _dtypes(prog) -> dict[str, str]:
    """Const name -> MIL dtype name, for every const of the built program."""
    return {op.name: op.outputs[0].type.dtype.name for op in prog.main.operations if op.op_type == "const"}


@pytest.mark.parametrize("opset", OPSETS_ALL)
def test_untyped_floats_of_fp16_ops_become_fp16_constants(opset: str) -> None:
    # issue #10: ios17/18 wrote Python-float epsilons/alphas as fp32 and float64 conv weights as fp32 blobs
    # (ios15/16 refused them outright: "alpha dtype fp32 must equal x dtype fp16").
    mb = mil.Builder(opset)
    x = mb.input("x", mil.tensor((1, 8, 1, 32), "fp16"))
    y = mb.conv(x=x, weight=np.full((8, 8, 1, 1), 0.125), bias=np.zeros(8), name="cv")  # float64 arrays
    y = mb.layer_norm(x=y, axes=[1], epsilon=1e-5, name="ln")
    y = mb.leaky_relu(x=y, alpha=0.1, name="lr")
    y = mb.linear_activation(x=y, alpha=2.0, beta=np.float64(0.5), name="la")
    y = mb.sigmoid_hard(x=y, alpha=0.25, name="sh")
    y = mb.rsqrt(x=mb.abs(x=y), epsilon=1e-3, name="rs")
    y = mb.clip(x=y, alpha=-1.0, beta=1.0, name="cl")
    prog = mb.build(y)
    dts = _dtypes(prog)
    float_consts = {k: v for k, v in dts.items() if v.startswith("fp")}
    assert set(float_consts.values()) == {"fp16"}, float_consts
    for name in ("cv_weight_0", "cv_bias_0", "ln_epsilon_0", "lr_alpha_0", "la_alpha_0", "la_beta_0", "rs_epsilon_0"):
        assert dts[name] == "fp16", name
    # The weight file holds an fp16 blob (dtype code 1), and the text says so.
    (raw,) = prog.weights().values()
    assert [e.dtype_name for e in BlobFile(raw).entries()] == ["fp16"]
    assert "tensor<fp32" not in prog.to_mil()
    assert "ane-param-dtype" not in {d.rule for d in mil.validate(prog, "ane")}
    # The same Python floats for an fp32 op in the same builder stay fp32 (the literal cache keeps them apart).
    mb2 = mil.Builder(opset)
    x32 = mb2.input("x", mil.tensor((1, 8, 1, 32), "fp32"))
    y32 = mb2.leaky_relu(x=mb2.layer_norm(x=x32, axes=[1], epsilon=1e-5), alpha=0.1)
    assert set(v for v in _dtypes(mb2.build(y32)).values() if v.startswith("fp")) == {"fp32"}


def test_one_builder_types_a_literal_per_compute_dtype() -> None:
    mb = mil.Builder("ios17")
    a = mb.input("a", mil.tensor((1, 4), "fp16"))
    b = mb.input("b", mil.tensor((1, 4), "fp32"))
    ya = mb.leaky_relu(x=a, alpha=0.1, name="la")
    yb = mb.leaky_relu(x=b, alpha=0.1, name="lb")
    yc = mb.leaky_relu(x=a, alpha=np.float64(0.1), name="lc")
    yd = mb.leaky_relu(x=b, alpha=np.float64(0.1), name="ld")
    ye = mb.leaky_relu(x=a, alpha=np.float32(0.1), name="le")  # explicitly typed: kept
    dts = _dtypes(mb.build([ya, yb, yc, yd, ye]))
    assert (dts["la_alpha_0"], dts["lb_alpha_0"], dts["lc_alpha_0"], dts["ld_alpha_0"], dts["le_alpha_0"]) == (
        "fp16",
        "fp32",
        "fp16",
        "fp32",
        "fp32",
    )


def test_untyped_floats_that_fp16_cannot_hold_stay_fp32_and_are_reported() -> None:
    # An epsilon of 1e-8 is 0 in fp16 and 1e5 is inf: casting would silently change the program.
    mb = mil.Builder("ios17")
    x = mb.input("x", mil.tensor((1, 8, 1, 32), "fp16"))
    y = mb.layer_norm(x=x, axes=[1], epsilon=1e-8, name="ln")
    y = mb.leaky_relu(x=y, alpha=1e5, name="lr")
    y = mb.rsqrt(x=mb.abs(x=y), epsilon=1e-4, name="rs")  # representable: fp16
    prog = mb.build(y)
    dts = _dtypes(prog)
    assert (dts["ln_epsilon_0"], dts["lr_alpha_0"], dts["rs_epsilon_0"]) == ("fp32", "fp32", "fp16")
    reported = {d.op for d in mil.validate(prog, "ane") if d.rule == "ane-param-dtype"}
    assert reported == {"ln", "lr"}
    # Zero stays representable (0.0 -> fp16 zero is not a loss).
    mb = mil.Builder("ios17")
    x = mb.input("x", mil.tensor((1, 8), "fp16"))
    assert _dtypes(mb.build(mb.leaky_relu(x=x, alpha=0.0)))["leaky_relu_0_alpha_0"] == "fp16"
