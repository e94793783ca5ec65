"""IR classes: construction, lookups, Value semantics and structural comparison."""

from __future__ import annotations

import numpy as np
import pytest

from anekit.errors import MILError
from anekit.mil import BlobRef, Function, Operation, Program, Value, Var, parse, tensor
from anekit.mil.blob import write_blobs
from anekit.mil.types import TensorType
from anekit.mil.values import WeightSource, data_equal


def _prog() -> Program:
    x = Var("x", tensor((2,), "fp16"))
    c = Var("c", tensor((2,), "fp16"))
    const = Operation("const", "c", attrs={"val": Value(c.type, np.array([1, 2], np.float16))}, outputs=[c])
    y = Var("y", tensor((2,), "fp16"))
    add = Operation("add", "add_0", inputs={"x": x, "y": c}, outputs=[y])
    f = Function("main", "ios18", inputs={"x": x}, operations=[const, add], outputs=[y])
    return Program([f])


def test_construction_and_lookups() -> None:
    p = _prog()
    f = p.main
    add = f.op("add_0")
    assert add.output.op is add
    assert f.inputs["x"].is_input
    assert list(add.input_vars()) == [f.inputs["x"], f.op("c").output]
    assert add.input_value("y").tolist() == [1, 2]
    assert add.input_value("x") is None
    assert f.op("c").output.const_value.dtype == np.float16
    assert set(f.vars()) == {"x", "c", "y"}
    with pytest.raises(MILError, match="no op named"):
        f.op("nope")
    with pytest.raises(MILError, match="duplicate function"):
        Program([f, Function("main", "ios18")])
    with pytest.raises(MILError, match="Function objects"):
        Program(["main"])  # type: ignore[list-item]
    assert Program([Function("a", "ios18"), Function("b", "ios18")]).functions["b"].name == "b"
    with pytest.raises(MILError, match="no 'main'"):
        _ = Program([Function("a", "ios18"), Function("b", "ios18")]).main
    wo = Operation("write_state", "ws")
    with pytest.raises(MILError, match="0 outputs"):
        _ = wo.output


def test_value_is_read_only_view_and_requires_one_source() -> None:
    arr = np.array([1.0, 2.0], np.float32)
    v = Value(tensor((2,), "fp32"), arr)
    assert arr.flags.writeable  # the caller's array is untouched; the Value holds a read-only view
    assert np.shares_memory(arr, v.data)
    assert not v.data.flags.writeable
    with pytest.raises(MILError, match="exactly one"):
        Value(tensor((2,), "fp32"))
    with pytest.raises(MILError, match="static tensor"):
        Value(tensor((None,), "fp32"), blob=BlobRef("@model_path/w.bin", 64))
    with pytest.raises(MILError, match="storage"):
        Value(tensor((2,), "fp32"), arr, storage="disk")
    with pytest.raises(MILError, match="offset"):
        BlobRef("@model_path/w.bin", -1)


def test_blob_value_resolves_lazily_through_source() -> None:
    data, (off,) = write_blobs([(np.arange(16, dtype=np.float16), "fp16")])
    src = WeightSource({"@model_path/weights/weight.bin": data})
    v = Value(tensor((16,), "fp16"), blob=BlobRef("@model_path/weights/weight.bin", off), source=src)
    assert not v.is_loaded
    assert v.is_blob
    assert v.data.tolist() == list(range(16))
    assert v.is_loaded
    same = Value(tensor((16,), "fp16"), np.arange(16, dtype=np.float16), storage="blob")
    assert v.equals(same)
    assert same.equals(v)
    inline = Value(tensor((16,), "fp16"), np.arange(16, dtype=np.float16))
    assert not v.equals(inline)  # storage kind is part of the structure
    wrong = Value(tensor((16,), "fp32"), blob=BlobRef("@model_path/weights/weight.bin", off), source=src)
    with pytest.raises(MILError, match="dtype code 1"):
        _ = wrong.data


def test_data_equal_semantics() -> None:
    nan = np.array([np.nan, 1.0], np.float32)
    assert data_equal(nan, nan.copy())
    assert not data_equal(np.array([0.0]), np.array([-0.0]))
    assert not data_equal(np.array([1], np.int32), np.array([1], np.int16))
    assert data_equal(("a", {"k": np.array([1])}), ("a", {"k": np.array([1])}))
    assert not data_equal(("a",), ["a"])
    assert not data_equal({"a": 1, "b": 2}, {"b": 2, "a": 1})  # order is part of printed text


def test_structural_diff_finds_each_kind_of_difference() -> None:
    a, b = _prog(), _prog()
    assert a.structurally_equal(b)
    b.main.op("c").attrs["val"] = Value(tensor((2,), "fp16"), np.array([1, 3], np.float16))
    assert "attribute 'val'" in a.structural_diff(b)
    b = _prog()
    b.main.op("add_0").name = "add_1"
    assert "add_1" in a.structural_diff(b)
    b = _prog()
    b.main.opset = "ios17"
    assert "ios17" in a.structural_diff(b)
    b = _prog()
    b.main.outputs = []
    assert "outputs" in a.structural_diff(b)
    b = _prog()
    b.main.op("add_0").outputs[0].type = tensor((2,), "fp32")
    assert "outputs" in a.structural_diff(b)
    b = _prog()
    b.main.op("add_0").inputs["y"] = b.main.inputs["x"]
    assert "input 'y'" in a.structural_diff(b)


def test_flexible_shapes_absent_or_malformed() -> None:
    f = Function("main", "ios16")
    assert f.flexible_shapes is None
    f.attributes["FlexibleShapeInformation"] = Value(TensorType("int32", ()), np.int32(1))
    with pytest.raises(MILError, match="tuple"):
        _ = f.flexible_shapes


def test_parsed_program_reprs() -> None:
    p = parse("program(1.3)\n{\n func main<ios18>(fp16 x) {\n } -> (x);\n}")
    assert "main<ios18>" in repr(p)
    assert "Var(x" in repr(p.main.inputs["x"])


def test_diagnostic_fields_and_validation() -> None:
    from anekit.mil import Diagnostic

    d = Diagnostic("type-mismatch", "error", "boom", op="a", function="main", line=3, hint="fix it")
    assert str(d) == (
        "error: type-mismatch: boom (func main, op 'a', line 3) [hint: fix it] "
        f"(more: {d.link})"
    )
    assert d.link.endswith("/internals/ane-rules.html#rule-type-mismatch")
    with pytest.raises(ValueError, match="severity"):
        Diagnostic("x", "fatal", "m")


def test_value_data_must_match_its_type() -> None:
    with pytest.raises(MILError, match="does not match"):
        Value(tensor((2,), "fp32"), np.zeros(3, np.float32))
    with pytest.raises(MILError, match="held as numpy float32"):
        Value(tensor((2,), "fp32"), np.zeros(2, np.float64))
    with pytest.raises(MILError, match="string scalar"):
        Value(tensor((2,), "fp32"), "x")
    with pytest.raises(MILError, match="numpy array"):
        Value(tensor((2,), "fp32"), [1.0, 2.0])
    with pytest.raises(MILError, match="inline storage"):
        Value(tensor((2,), "fp32"), blob=BlobRef("@model_path/w.bin", 64), storage="inline")
    assert Value(tensor((None, 2), "uint4"), np.zeros((3, 2), np.uint8)).type.dtype.name == "uint4"


def test_program_validate_and_check_delegate_to_the_validator() -> None:
    good = parse(
        "program(1.3)\n{\n func main<ios18>(tensor<fp16, [1, 4]> x) {\n"
        ' tensor<fp16, [1, 4]> y = relu(x = x)[name = string("y")];\n } -> (y);\n}'
    )
    assert not [d for d in good.validate() if d.severity == "error"]
    assert isinstance(good.check(), list)
    bad = parse(
        "program(1.3)\n{\n func main<ios18>(tensor<fp16, [1, 4]> x) {\n"
        ' tensor<fp32, [1, 4]> y = relu(x = x)[name = string("y")];\n } -> (y);\n}'
    )
    assert any(d.rule == "type-mismatch" for d in bad.validate())
    with pytest.raises(MILError, match="error"):
        bad.check()
