"""Builder: the accepted-by-ANE examples of docs/internals/mil-format.md §8, const promotion, naming, errors,
functions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from _corpus import DATA

from anekit.errors import MILError
from anekit.mil import Builder, Program, Value, parse, tensor
from anekit.mil.types import StateType, TensorType

pytestmark = pytest.mark.usefixtures("mini_ops")

BI_A = {
    "coremlc-component-MIL": "3510.2.1",
    "coremlc-version": "3505.4.1",
    "coremltools-component-milinternal": "",
    "coremltools-version": "9.0",
}
I32 = np.int32


def _conv_consts(mb: Builder, prefix: str = "") -> dict[str, object]:
    p = prefix
    return {
        "pad_type": mb.const("valid", name=f"{p}pt" if not p else f"{p}pad_type"),
        "strides": mb.const(np.array([1, 1], I32), name=f"{p}st" if not p else f"{p}strides"),
        "pad": mb.const(np.zeros(4, I32), name=f"{p}pd" if not p else f"{p}pad"),
        "dilations": mb.const(np.array([1, 1], I32), name=f"{p}dl" if not p else f"{p}dilations"),
        "groups": mb.const(1, name=f"{p}gr" if not p else f"{p}groups"),
    }


def example_8_1() -> Program:
    mb = Builder("ios18", build_info=BI_A)
    x = mb.input("x", tensor((1, 64, 1, 32), "fp32"))
    c = _conv_consts(mb)
    x16 = mb.cast(dtype=mb.const("fp16", name="to16"), x=x, name="cin", out_names="x16")
    w = mb.const(np.full((64, 64, 1, 1), 0.5, np.float16), name="W")
    y16 = mb.conv(weight=w, x=x16, name="conv", out_names="y16", **c)
    y = mb.cast(dtype=mb.const("fp32", name="to32"), x=y16, name="cout", out_names="y")
    return mb.build([y])


def example_8_2() -> Program:
    mb = Builder("ios16", build_info={"coremlc-version": "3505.4.1"})
    x = mb.input("x", tensor((1, 64, 1, 32), "fp16"))
    c = _conv_consts(mb)
    w = mb.const(np.full((64, 64, 1, 1), 0.25, np.float16), name="W")
    y = mb.conv(weight=w, x=x, name="conv", out_names="y", **c)
    return mb.build([y])


def example_8_3() -> Program:
    mb = Builder("ios18", build_info=BI_A)
    x = mb.input("x", tensor((1, 64, 1, 32), "fp16"))
    sq = mb.mul(x=x, y=x, name="sq")
    rax = mb.const(np.array([1], I32), name="rax")
    kd = mb.const(True, name="kd")
    ss = mb.reduce_sum(x=sq, axes=rax, keep_dims=kd, name="ss")
    ss2 = mb.mul(x=ss, y=mb.const(np.float16(0.015625), name="invd"), name="ss2")
    ss3 = mb.add(x=ss2, y=mb.const(np.float16(0.00001), name="eps"), name="ss3")
    rrms = mb.pow(x=ss3, y=mb.const(np.float16(-0.5), name="nhalf"), name="rrms")
    xr = mb.mul(x=x, y=rrms, name="xr")
    rw = mb.const(
        np.linspace(0.5, 1.5, 64, dtype=np.float16).reshape(1, 64, 1, 1),
        name="rw",
        blob_path="@model_path/weights/rms_w.bin",
    )
    return mb.build([mb.mul(x=xr, y=rw, name="out")])


def example_8_4() -> Program:
    mb = Builder("ios18", build_info=BI_A)
    x = mb.input("x", tensor((1, 64, 32, 32), "fp16"))
    c = _conv_consts(mb, "c_")
    q_scale = mb.const(np.float16(0.125), name="q_scale")
    q_dtype = mb.const("int8", name="q_dtype")
    dq_scale = mb.const(np.float16(0.125), name="dq_scale")
    rng = np.random.default_rng(0)

    def weight(name: str) -> object:
        q = rng.integers(-128, 128, (64, 64, 1, 1)).astype(np.int8)
        return mb.constexpr_affine_dequantize(
            quantized_data=q, scale=np.float16(0.125), zero_point=np.int8(0), axis=I32(0), name=name
        )

    c0 = mb.conv(weight=weight("W0"), x=x, name="c0", **c)
    q0 = mb.quantize(input=c0, output_dtype=q_dtype, scale=q_scale, name="q0")
    dq0 = mb.dequantize(input=q0, scale=dq_scale, name="dq0")
    c1 = mb.conv(weight=weight("W1"), x=dq0, name="c1", **c)
    return mb.build([c1])


def example_8_5() -> Program:
    mb = Builder("ios18", build_info=BI_A)
    x = mb.input("x", tensor((1, 64, 1, 128), "fp16"))

    def k(name: str, v: list[int]) -> object:
        return mb.const(np.array(v, I32), name=name)

    act = mb.slice_by_size(x=x, begin=k("mm_ba", [0, 0, 0, 0]), size=k("mm_sa", [1, 64, 1, 32]), name="mm_act")
    wt = mb.slice_by_size(x=x, begin=k("mm_bw", [0, 0, 0, 32]), size=k("mm_sw", [1, 64, 1, 96]), name="mm_wt")
    a2 = mb.reshape(shape=k("mm_ra", [1, 1, 64, 32]), x=act, name="mm_a2")
    pm = k("mm_pm", [0, 1, 3, 2])
    a3 = mb.transpose(perm=pm, x=a2, name="mm_a3")
    w = mb.reshape(shape=k("mm_rw", [1, 1, 64, 96]), x=wt, name="mm_W")
    bf = mb.const(False, name="bF")
    yh = mb.matmul(transpose_x=bf, transpose_y=bf, x=a3, y=w, name="mm_yh")
    yt = mb.transpose(perm=pm, x=yh, name="mm_yt")
    return mb.build([mb.reshape(shape=k("mm_ro", [1, 96, 1, 32]), x=yt, name="mm_y")])


EXAMPLES: dict[str, Callable[[], Program]] = {
    "8_1": example_8_1,
    "8_2": example_8_2,
    "8_3": example_8_3,
    "8_4": example_8_4,
    "8_5": example_8_5,
}


@pytest.mark.parametrize("num", sorted(EXAMPLES))
def test_section_8_examples_come_out_in_the_accepted_form(num: str) -> None:
    built = EXAMPLES[num]()
    doc_text = (DATA / "ane_examples" / f"example_{num}.mil").read_text()
    doc = parse(doc_text, weights=built.weights())
    assert [d for d in doc.diagnostics if d.severity == "error"] == []
    # Same structure (op order, names, bindings, types, constant values, blob placement) ...
    assert doc.structural_diff(built) is None
    # ... and the same text once both are printed in anekit's canonical spacing and argument order.
    assert built.to_mil() == doc.to_mil()
    # Line for line the same statements: the hand-written text differs only in spacing, argument order and
    # decimal-vs-hex float spelling.
    assert [ln.split("=")[0].replace(" ", "") for ln in doc_text.splitlines()] == [
        ln.split("=")[0].replace(" ", "") for ln in built.to_mil().splitlines()
    ]


def test_section_8_4_blob_offsets() -> None:
    text = example_8_4().to_mil()
    assert "offset = uint64(64)" in text
    assert "offset = uint64(4224)" in text


@pytest.mark.parametrize("num", sorted(EXAMPLES))
def test_built_programs_round_trip(num: str) -> None:
    built = EXAMPLES[num]()
    back = parse(built.to_mil(), weights=built.weights())
    assert back.structural_diff(built) is None
    assert back.to_mil() == built.to_mil()


def test_const_promotion_rules() -> None:
    mb = Builder("ios18")
    x16 = mb.input("x", tensor((4,), "fp16"))
    x32 = mb.input("y", tensor((4,), "fp32"))
    assert mb.mul(x=x16, y=0.5).op.inputs["y"].type == TensorType("fp16", ())  # peer dtype
    assert mb.mul(x=x16, y=[1, 2, 3, 4]).op.inputs["y"].type == tensor((4,), "fp16")
    assert mb.mul(x=x32, y=0.5).op.inputs["y"].type == TensorType("fp32", ())
    assert mb.const(1.5).type == TensorType("fp32", ())
    assert mb.const(7).type == TensorType("int32", ())
    assert mb.const([True, False]).type == tensor((2,), "bool")
    assert mb.const(np.arange(3)).type == tensor((3,), "int32")  # int64 -> int32
    assert mb.const(np.arange(3, dtype=np.int16)).type == tensor((3,), "int16")  # numpy dtype kept
    assert mb.const(np.zeros(2)).type == tensor((2,), "fp32")  # float64 -> fp32
    assert mb.const([0.5, 1.0], dtype="fp16").type == tensor((2,), "fp16")
    assert mb.const(np.array([1, 15], np.uint8), dtype="uint4").type == tensor((2,), "uint4")
    with pytest.raises(MILError, match="do not fit uint4"):
        mb.const(np.array([16], np.uint8), dtype="uint4")
    with pytest.raises(MILError, match="int32"):
        mb.const(2**40)
    with pytest.raises(MILError, match="cannot make a constant"):
        mb.const(object())


def test_blob_threshold_follows_coremltools_rule() -> None:
    mb = Builder("ios16")
    assert mb.const(np.zeros(9, np.float16)).op.attrs["val"].storage == "inline"
    assert mb.const(np.zeros(10, np.float16)).op.attrs["val"].storage == "blob"
    assert mb.const(np.zeros(10, np.int32)).op.attrs["val"].storage == "inline"  # int32 blobs from iOS18 only
    assert mb.const(np.zeros(10, np.bool_)).op.attrs["val"].storage == "inline"
    assert mb.const(np.zeros(3, np.float16), blob=True).op.attrs["val"].storage == "blob"
    assert mb.const(np.zeros(30, np.float16), blob=False).op.attrs["val"].storage == "inline"
    mb18 = Builder("ios18")
    assert mb18.const(np.zeros(10, np.int32)).op.attrs["val"].storage == "blob"


def test_defaults_are_materialised_and_names_are_stable() -> None:
    def build() -> str:
        mb = Builder("ios16", build_info=None)
        x = mb.input("x", tensor((1, 4, 1, 8), "fp16"))
        return mb.build(mb.conv(x=x, weight=np.ones((2, 4, 1, 1), np.float16))).to_mil()

    text = build()
    assert text == build()
    for name in (
        "conv_0_strides_0",
        "conv_0_pad_type_0",
        "conv_0_pad_0",
        "conv_0_dilations_0",
        "conv_0_groups_0",
    ):
        assert f'tensor<string, []>("{name}")' in text
    assert "tensor<fp16, [1, 2, 1, 8]> conv_0 = conv(dilations = conv_0_dilations_0" in text


def test_errors_name_op_inputs_and_expectation() -> None:
    mb = Builder("ios18")
    x = mb.input("x", tensor((1, 4), "fp16"))
    y = mb.input("y", tensor((1, 5), "fp16"))
    with pytest.raises(MILError, match=r"\[add 'add_0'\].*(1, 4).*(1, 5)|\[add 'add_0'\].*broadcast"):
        mb.add(x=x, y=y)
    with pytest.raises(MILError, match="unknown input 'z'"):
        mb.add(x=x, z=y)
    with pytest.raises(MILError, match="missing required input 'y'"):
        mb.add(x=x)
    with pytest.raises(MILError, match="compile-time constant"):
        mb.transpose(x=x, perm=mb.cast(x=mb.const(np.array([1, 0], I32)), dtype="int32"))
    with pytest.raises(AttributeError, match="no op 'frobnicate'"):
        mb.frobnicate(x=x)
    with pytest.raises(MILError, match="already used"):
        mb.relu(x=x, name="x_relu"), mb.relu(x=x, name="x_relu")
    with pytest.raises(MILError, match="not a valid MIL identifier"):
        mb.relu(x=x, name="bad name")
    with pytest.raises(MILError, match="does not belong"):
        mb.relu(x=Builder("ios18").input("x", tensor((1,), "fp16")))
    with pytest.raises(MILError, match="not available in opset ios16"):
        Builder("ios16").constexpr_blockwise_shift_scale(
            data=np.zeros((4, 4), np.int8), scale=np.ones((4, 1), np.float16)
        )
    with pytest.raises(MILError, match="unknown opset"):
        Builder("ios99")


def test_multi_output_zero_output_state_and_tuple_inputs() -> None:
    mb = Builder("ios18", build_info=None)
    x = mb.input("x", tensor((1, 8), "fp16"))
    s = mb.input("s", StateType(tensor((1, 4), "fp16")))
    a, b = mb.split(x=x, num_splits=2, axis=1)
    assert (a.name, b.name) == ("split_0_0", "split_0_1")
    assert a.op is b.op
    cat = mb.concat(values=(b, a), axis=1, interleave=False)
    assert mb.write_state(input=s, data=a) is None
    r = mb.read_state(input=s)
    prog = mb.build([cat, r])
    text = prog.to_mil()
    assert 'write_state(data = split_0_0, input = s)[name = string("write_state_0")];' in text
    assert "concat(axis = concat_0_axis_0, interleave = concat_0_interleave_0, values = (split_0_1, split_0_0))" in text
    assert "state<tensor<fp16, [1, 4]>> s" in text
    assert parse(text).structural_diff(prog) is None
    with pytest.raises(MILError, match="needs opset ios18"):
        Builder("ios17").input("s", StateType(tensor((1,), "fp16")))


def test_inline_constexpr_arguments_ios18() -> None:
    mb = Builder("ios18", build_info=None)
    w = mb.constexpr_blockwise_shift_scale(
        data=np.ones((32, 16), np.int8), scale=np.ones((32, 1), np.float16), name="w"
    )
    text = mb.build([w]).to_mil()
    assert (
        "tensor<fp16, [32, 16]> w = constexpr_blockwise_shift_scale(data = tensor<int8, [32, 16]>(BLOBFILE("
        'path = string("@model_path/weights/weight.bin"), offset = uint64(64))), scale = tensor<fp16, [32, 1]>'
        "(BLOBFILE("
    ) in text


def test_output_validation() -> None:
    mb = Builder("ios18")
    x = mb.input("x", tensor((2,), "fp16"))
    y = mb.relu(x=x)
    with pytest.raises(MILError, match="cannot rename function input"):
        mb.function({"renamed": x})
    with pytest.raises(MILError, match="must be Vars"):
        mb.function([y, 3])
    with pytest.raises(MILError, match="already used"):
        mb.function({"x": y})
    assert mb.function({"y": y}).outputs[0].name == "y"  # failed attempts did not finish the builder


def test_failed_insertion_leaves_the_function_unchanged() -> None:
    mb = Builder("ios18", build_info=None)
    x = mb.input("x", tensor((1, 4), "fp16"))
    with pytest.raises(MILError):
        mb.add(x=x, y=np.ones((1, 5), np.float16), name="bad")
    y = mb.add(x=x, y=np.ones((1, 4), np.float16), name="bad")  # the name is free again
    assert y.name == "bad"
    assert [op.name for op in mb.function([y]).operations] == ["bad_y_0", "bad"]  # no leftovers


def test_finished_builder_rejects_more_ops() -> None:
    mb = Builder("ios18", build_info=None)
    x = mb.input("x", tensor((2,), "fp16"))
    prog = mb.build(mb.relu(x=x))
    with pytest.raises(MILError, match="finished"):
        mb.relu(x=x)
    with pytest.raises(MILError, match="finished"):
        mb.const(1.0)
    with pytest.raises(MILError, match="finished"):
        mb.build(x)
    assert len(prog.main.operations) == 1


def test_explicit_names_never_silently_change() -> None:
    mb = Builder("ios18", build_info=None)
    x = mb.input("x", tensor((2,), "fp16"))
    with pytest.raises(MILError, match="already used"):
        mb.const(1.0, name="x")
    with pytest.raises(MILError, match="already used"):
        mb.relu(x=x, name="x")
    a = mb.relu(x=x)
    b = mb.relu(x=x)
    assert (a.name, b.name) == ("relu_0", "relu_1")


def test_constexpr_spelling_follows_the_opset() -> None:
    lut = np.array([-1.0, -0.5, 0.5, 1.0], np.float16)
    # iOS16: attribute operands, 2-bit indices packed into uint8 (docs/internals/mil-format.md §7.4, §9.5).
    mb = Builder("ios16", build_info=None)
    packed = np.array([0b11100100] * 16, np.uint8)  # 64 two-bit indices 0, 1, 2, 3, ...
    w = mb.constexpr_lut_to_dense(indices=packed, lut=lut, shape=np.array([8, 8], np.uint32), name="w")
    prog = mb.build([w])
    text = prog.to_mil()
    assert "constexpr_lut_to_dense()[indices = tensor<uint8, [16]>(BLOBFILE(" in text
    assert "lut = tensor<fp16, [4]>([-0x1p+0, -0x1p-1, 0x1p-1, 0x1p+0])" in text
    assert parse(text, weights=prog.weights()).structural_diff(prog) is None
    # iOS18: inline arguments; sub-byte indices are given as a typed Value (numpy has no uint2).
    mb = Builder("ios18", build_info=None)
    idx = Value(tensor((8, 8), "uint2"), np.tile(np.arange(4, dtype=np.uint8), 16).reshape(8, 8), storage="blob")
    w = mb.constexpr_lut_to_dense(indices=idx, lut=lut.reshape(1, 1, 4, 1), name="w")
    assert w.type == tensor((8, 8), "fp16")
    prog = mb.build([w])
    text = prog.to_mil()
    assert "w = constexpr_lut_to_dense(indices = tensor<uint2, [8, 8]>(BLOBFILE(" in text
    assert "lut = tensor<fp16, [1, 1, 4, 1]>([[[[-0x1p+0], [-0x1p-1], [0x1p-1], [0x1p+0]]]])" in text
    weights = prog.weights()["@model_path/weights/weight.bin"]
    assert weights[128:144] == bytes([0b11100100] * 16)  # uint2 packed LSB first (§9.5)
    back = parse(text, weights=prog.weights())
    assert back.structural_diff(prog) is None
    c = Builder("ios18").const(idx, name="c")
    assert c.type == tensor((8, 8), "uint2")
    with pytest.raises(MILError, match="takes its type"):
        Builder("ios18").const(idx, dtype="uint4")


def test_add_op_takes_a_mapping_of_inputs() -> None:
    mb = Builder("ios18", build_info=None)
    x = mb.input("x", tensor((2,), "fp16"))
    assert mb.add_op("relu", {"x": x}, name="r").name == "r"
    with pytest.raises(MILError, match="inputs must be a dict"):
        mb.add_op("relu", [("x", x)])  # type: ignore[arg-type]
