"""Parser: the real corpus, both dialects, literal forms, diagnostics, and positioned errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _corpus import CORPUS, CORPUS_WITH_WEIGHTS

from anekit.errors import MILError, MILParseError
from anekit.mil import Diagnostic, Value, load, parse
from anekit.mil.types import DictType, StateType, TensorType, TupleType, tensor


@pytest.mark.parametrize("bundle", CORPUS, ids=lambda p: p.name)
def test_corpus_parses_and_reprints_byte_identically(bundle) -> None:
    text = (bundle / "model.mil").read_text()
    prog = parse(text)
    again = prog.to_mil()
    # coremlc's own output is reproduced exactly (only the optional trailing newline differs, §4).
    assert again == text.rstrip("\n")
    second = parse(again)
    assert second.structural_diff(prog) is None
    assert second.to_mil() == again


def test_corpus_statement_counts_match_sources() -> None:
    # corpus/mil/sources.txt lists the statement counts of every file.
    expected = {
        "coremltools_add_ios16": 1,
        "fluidaudio_argmax_ios16": 6,
        "fluidaudio_transpose_flexible_ios16": 2,
        "parakeet_eou_decoder_lstm_ios17": 39,
        "parakeet_eou_joint_topk_ios17": 51,
        "parakeet_eou_preprocessor_ios17": 90,
        "minilm_l6_fp16_ios18": 862,
        "minilm_l6_w8a8_blockwise_ios18": 1454,
    }
    for bundle in CORPUS:
        name = bundle.name.removesuffix(".mlmodelc")
        prog = parse((bundle / "model.mil").read_text())
        n = len(prog.main.operations)
        assert n == expected.get(name, 137), name


def test_minimal_program_structure() -> None:
    prog = load(next(p for p in CORPUS if p.name.startswith("coremltools_add")))
    assert prog.version == "1.0"
    assert prog.build_info["coremltools-version"] == "8.1"
    f = prog.main
    assert (f.name, f.opset) == ("main", "ios16")
    assert list(f.inputs) == ["x", "y"]
    assert f.inputs["x"].type == tensor((1, 10), "fp16")
    (op,) = f.operations
    assert (op.op_type, op.name) == ("mul", "op_3_cast_fp16")
    assert op.inputs["x"] is f.inputs["x"]
    assert op.outputs[0].name == "var_3"
    assert op.outputs[0].op is op
    assert f.outputs == op.outputs


def test_multi_output_tuple_inputs_and_scalars() -> None:
    lstm = parse(next(p for p in CORPUS if "lstm" in p.name).joinpath("model.mil").read_text())
    op = next(o for o in lstm.main.operations if o.op_type == "lstm")
    assert [v.name for v in op.outputs] == [
        "input_cast_fp16_0",
        "input_cast_fp16_1",
        "input_cast_fp16_2",
    ]
    pre = parse(next(p for p in CORPUS if "preprocessor" in p.name).joinpath("model.mil").read_text())
    stack = next(o for o in pre.main.operations if o.op_type == "stack")
    assert isinstance(stack.inputs["values"], tuple)
    assert len(stack.inputs["values"]) == 2
    log = next(o for o in pre.main.operations if o.op_type == "log")
    assert log.inputs["epsilon"].const_value == np.float32(2.0**-149)
    argmax = parse(next(p for p in CORPUS if "argmax" in p.name).joinpath("model.mil").read_text())
    axis = argmax.main.operations[0].attrs["val"]
    assert axis.type == TensorType("int32", ())
    assert axis.data == -1
    assert axis.data.dtype == np.int32


def test_flexible_shape_information_is_structured() -> None:
    flex = parse(next(p for p in CORPUS if "flexible" in p.name).joinpath("model.mil").read_text())
    f = flex.main
    assert f.inputs["x"].type == TensorType("fp16", (1, None, None))
    attr = f.attributes["FlexibleShapeInformation"]
    assert isinstance(attr.type, TupleType)
    assert f.flexible_shapes == {
        "DefaultShapes": {"x": [1, 1, 1]},
        "RangeDims": {"x": [[1, 1], [1, 2048], [1, 2048]]},
    }
    mini = parse(next(p for p in CORPUS if p.name.startswith("minilm_l6_fp16")).joinpath("model.mil").read_text())
    shapes = mini.main.flexible_shapes
    assert shapes["DefaultShapes"] == {"attention_mask": [1, 32], "input_ids": [1, 32]}
    assert shapes["EnumeratedShapes"]["000187c4"] == {
        "attention_mask": [64, 64],
        "input_ids": [64, 64],
    }
    assert isinstance(mini.attributes["buildInfo"].type, DictType)


def test_inline_constexpr_arguments_and_specials() -> None:
    text = next(p for p in CORPUS if "blockwise" in p.name).joinpath("model.mil").read_text()
    prog = parse(text)
    ops = [o for o in prog.main.operations if o.op_type == "constexpr_blockwise_shift_scale"]
    assert len(ops) == 39
    data = ops[0].inputs["data"]
    assert isinstance(data, Value)
    assert data.blob is not None
    assert data.type.dtype.name == "int8"
    vals = [
        o.attrs["val"].data
        for o in prog.main.operations
        if o.op_type == "const" and o.attrs["val"].type == TensorType("fp16", ())
    ]
    assert any(np.isnan(v) for v in vals)
    assert any(np.isneginf(v) for v in vals)


def test_attribute_style_constexpr() -> None:
    bundle = next(p for p in CORPUS_WITH_WEIGHTS if "affine" in p.name)
    prog = load(bundle)
    op = next(o for o in prog.main.operations if o.op_type == "constexpr_affine_dequantize")
    assert not op.inputs
    assert set(op.attrs) == {"axis", "quantized_data", "scale", "zero_point"}
    q = op.attrs["quantized_data"].data
    assert q.dtype == np.int8
    assert q.shape == op.attrs["quantized_data"].type.shape
    lut = load(next(p for p in CORPUS_WITH_WEIGHTS if "palette" in p.name))
    op = next(o for o in lut.main.operations if o.op_type == "constexpr_lut_to_dense")
    assert op.attrs["lut"].data.dtype == np.float16
    assert op.attrs["lut"].data[0] == np.float16(-float.fromhex("0x1.48p-1"))


DIALECT_A = """program(1.3)
{
    func main<ios18>(tensor<fp16, [2, 3]> x, state<tensor<fp16, [2, 3]>> s) {
        // comments and free spacing are fine
        fp16 eps=const()[name=string("eps"),val=fp16(0.00001)];
        tensor<fp16,[2,3]>  y = add( y = eps , x = x ) [ name = string ( "y" ) ] ;
        write_state(data = y, input = s)[name = string("ws")];
        tensor<fp32, [3]> v = const()[name = string("v"), val = tensor<fp32, [3]>([1e-05, -inf, 0x1.8p+1])];
        tensor<int32, [0]> e = const()[name = string("e"), val = tensor<int32, [0]>([])];
    } -> (y);
}"""


def test_dialect_a_free_form_state_and_output_less() -> None:
    prog = parse(DIALECT_A)
    f = prog.main
    assert isinstance(f.inputs["s"].type, StateType)
    ws = f.op("ws")
    assert ws.outputs == []
    assert ws.inputs["input"] is f.inputs["s"]
    assert f.op("eps").attrs["val"].data == np.float16(0.00001)
    np.testing.assert_array_equal(f.op("v").attrs["val"].data, np.array([1e-5, -np.inf, 3.0], np.float32))
    assert f.op("e").attrs["val"].data.shape == (0,)
    text = prog.to_mil()
    assert 'write_state(data = y, input = s)[name = string("ws")];' in text
    assert "tensor<int32, [0]>([])" in text
    assert parse(text).structurally_equal(prog)


def test_dialect_can_be_forced() -> None:
    # An ios17 program written in dialect-A spellings (program(1.3)) can be forced to dialect B and back.
    ios17 = DIALECT_A.replace("<ios18>", "<ios17>").replace(", state<tensor<fp16, [2, 3]>> s", "")
    prog = parse(ios17.replace('write_state(data = y, input = s)[name = string("ws")];', ""))
    b = prog.to_mil(dialect="B")
    assert b.startswith("program(1.0)")
    assert 'tensor<string, []>("eps")' in b
    assert parse(b).main.op("eps").attrs["val"].type == TensorType("fp16", ())
    assert parse(b).to_mil(dialect="A").startswith("program(1.3)")
    with pytest.raises(MILError, match="dialect"):
        prog.to_mil(dialect="C")


def test_forcing_dialect_b_on_an_ios18_program_is_refused(tmp_path) -> None:
    # issue #10: to_mil("B") on an ios18 program used to write program(1.0) around an ios18 function, which
    # the ANE compiler rejects (docs/internals/mil-format.md §11 rule 2).
    prog = parse(DIALECT_A)
    for forced in ("B", "b", "1.0"):
        with pytest.raises(MILError, match=r"function 'main'.*ios18.*program\(1.0\)"):
            prog.to_mil(dialect=forced)
    with pytest.raises(MILError, match="ios18"):
        prog.save(tmp_path / "m", dialect="B")
    assert not (tmp_path / "m" / "model.mil").exists()
    assert prog.to_mil(dialect="A") == prog.to_mil()


def test_weights_from_dict_and_folder() -> None:
    bundle = CORPUS_WITH_WEIGHTS[0]
    text = (bundle / "model.mil").read_text()
    raw = (bundle / "weights" / "weight.bin").read_bytes()
    a = parse(text, weights={"@model_path/weights/weight.bin": raw})
    b = parse(text, weights=bundle / "weights")
    c = parse(text)
    blob_op = next(o for o in a.main.operations if o.op_type == "const" and o.attrs["val"].blob is not None)
    got_a = a.main.op(blob_op.name).attrs["val"].data
    np.testing.assert_array_equal(got_a, b.main.op(blob_op.name).attrs["val"].data)
    with pytest.raises(MILError, match="no weights"):
        _ = c.main.op(blob_op.name).attrs["val"].data
    assert a.weights() == {"@model_path/weights/weight.bin": raw}  # reused byte for byte (§12)
    with pytest.raises(MILError, match="dict of path"):
        parse(text, weights=42)  # type: ignore[arg-type]


def test_unknown_op_and_type_mismatch_become_diagnostics(mini_ops) -> None:
    text = """program(1.0)
{
    func main<ios16>(tensor<fp16, [1, 4]> x) {
            tensor<fp16, [1, 4]> a = frobnicate(x = x)[name = tensor<string, []>("a")];
            tensor<fp16, [1, 5]> b = relu(x = a)[name = tensor<string, []>("b")];
            tensor<fp32, [1, 4]> c = relu(x = a)[name = tensor<string, []>("b")];
        } -> (c);
}"""
    prog = parse(text)
    rules = [(d.rule, d.severity, d.op) for d in prog.diagnostics]
    assert ("unknown-op", "warning", "a") in rules
    assert ("type-mismatch", "error", "b") in rules
    assert ("duplicate-name", "error", "b") in rules
    d = next(d for d in prog.diagnostics if d.rule == "type-mismatch")
    assert isinstance(d, Diagnostic)
    assert d.line == 5
    assert "inferred tensor<fp16, [1, 4]>" in d.message


def test_unnamed_op_gets_a_warning_and_a_name() -> None:
    prog = parse(
        "program(1.3)\n{\n func main<ios18>(tensor<fp16, [1]> x) {\n"
        " tensor<fp16, [1]> y = identity(x = x);\n } -> (y);\n}"
    )
    assert prog.main.operations[0].name == "y"
    assert any(d.rule == "missing-name" for d in prog.diagnostics)


@pytest.mark.parametrize(
    ("text", "line", "marker", "fragment"),
    [  # marker: the text the caret must point at (its first occurrence on the error line)
        (
            "program(1.0)\n{\n    func main<ios16>(tensor<fp16, [1]> x) {\n    } -> (y);\n}",
            4,
            "y)",
            "not defined",
        ),
        (
            "program(1.0)\n{\n  func main<ios16>(tensor<fp17, [1]> x) {\n  } -> (x);\n}",
            3,
            "tensor",
            "unknown dtype",
        ),
        (
            "program(1.0)\n{\n  func main<ios16>(tensor<fp16, [1]> x) {\n  } -> (x)\n}",
            5,
            "}",
            "expected ';'",
        ),
        (
            (
                "program(1.0)\n{\n func main<ios16>() {\n "
                'tensor<int32, [2]> a = const()[name = tensor<string, []>("a"), '
                "val = tensor<int32, [2]>([1, 2, 3])];\n } -> (a);\n}"
            ),
            4,
            "[1, 2, 3]",
            "shape [3]",
        ),
        (
            (
                'program(1.3)\n{\n func main<ios18>() {\n int8 a = const()[name = string("a"), val = int8(300)];'
                "\n } -> (a);\n}"
            ),
            4,
            "300",
            "out of range",
        ),
        ("program(1.3)\n{ $ }", 2, "$", "unexpected character"),
        ('program(1.3)\n[a = string("x)]', 2, '"x', "unterminated string"),
        (
            (
                'program(1.3)\n{\n func main<ios18>(fp16 x) {\n fp16 y = add(x = q, y = x)[name = string("y")];\n'
                " } -> (y);\n}"
            ),
            4,
            "q,",
            "undefined variable 'q'",
        ),
        (
            "program(1.3)\n{\n func main<ios18>(fp16 x) {\n } -> (x);\n} trailing",
            5,
            "trailing",
            "after the program",
        ),
    ],
)
def test_errors_have_line_col_and_caret(text: str, line: int, marker: str, fragment: str) -> None:
    with pytest.raises(MILParseError) as info:
        parse(text)
    err = info.value
    assert fragment in err.message
    src = text.split("\n")[line - 1]
    assert (err.line, err.col) == (line, src.index(marker) + 1)
    src_line, caret = err.excerpt.split("\n")
    assert caret.index("^") == err.col - 1
    assert src_line == src
    assert f"line {line}, col {err.col}" in str(err)


def test_truncated_text_error_points_at_end() -> None:
    with pytest.raises(MILParseError, match="found end of input") as info:
        parse("program(1.3)")
    assert (info.value.line, info.value.col) == (1, 13)


def test_deep_nesting_is_a_parse_error_not_a_crash() -> None:
    text = "program(1.3)\n[a = tensor<int32, [1]>(" + "[" * 5000 + "]" * 5000 + ")]\n{\n}"
    with pytest.raises(MILParseError, match="nesting"):
        parse(text)


def test_non_string_input_rejected() -> None:
    with pytest.raises(MILParseError, match="must be a str"):
        parse(b"program(1.0)")  # type: ignore[arg-type]


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(MILError, match="no such file or folder"):
        load("/nonexistent/folder")
    with pytest.raises(MILError, match=r"no model\.mil"):
        load(tmp_path)


def test_multi_function_text() -> None:
    text = """program(1.3)
{
    func main<ios18>(tensor<fp16, [1]> x) {
            tensor<fp16, [1]> y = identity(x = x)[name = string("y")];
        } -> (y);
    func other<ios18>(tensor<fp16, [2]> x) {
        } -> (x);
}"""
    prog = parse(text)
    assert list(prog.functions) == ["main", "other"]
    assert prog.functions["other"].outputs[0] is prog.functions["other"].inputs["x"]
    assert prog.to_mil() == text
