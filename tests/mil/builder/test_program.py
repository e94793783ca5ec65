"""make_program and the @program decorator: output forms, buildInfo and multi-function programs."""

from __future__ import annotations

import pytest

from anekit.errors import MILError
from anekit.mil import Builder, parse, program, tensor
from anekit.mil.builder.program import DEFAULT_BUILD_INFO, make_program

pytestmark = pytest.mark.usefixtures("mini_ops")


def test_program_decorator_and_output_forms() -> None:
    @program(inputs={"x": tensor((1, 8, 1, 4), "fp16")}, opset="ios18", build_info=None)
    def block(mb: Builder, x: object) -> object:
        return {"out": mb.relu(x=mb.mul(x=x, y=2.0))}

    assert block.main.outputs[0].name == "out"
    text = block.to_mil()
    assert 'fp16 mul_0_y_0 = const()[name = string("mul_0_y_0"), val = fp16(0x1p+1)];' in text
    assert "} -> (out);" in text
    assert not text.startswith("program(1.3)\n[")

    @program(inputs={"a": tensor((2,), "fp32"), "b": tensor((2,), "fp32")}, opset="ios17")
    def pair(mb: Builder, a: object, b: object) -> tuple[object, object]:
        return mb.add(x=a, y=b), a

    assert [v.name for v in pair.main.outputs] == ["add_0", "a"]
    assert pair.to_mil().startswith("program(1.0)\n[buildInfo = dict<tensor<string, []>, tensor<string, []>>")


def test_multi_function_program() -> None:
    one, two = Builder("ios18", name="main"), Builder("ios18", name="second")
    f1 = one.function(one.relu(x=one.input("x", tensor((2,), "fp16"))))
    f2 = two.function(two.sigmoid(x=two.input("x", tensor((3,), "fp16"))))
    prog = make_program([f1, f2], DEFAULT_BUILD_INFO)
    text = prog.to_mil()
    assert text.count("    func ") == 2
    assert "func second<ios18>(tensor<fp16, [3]> x)" in text
    assert parse(text).structural_diff(prog) is None


def test_program_rejects_bad_inputs() -> None:
    with pytest.raises(MILError, match="must be a dict"):
        program(inputs=[("x", tensor((1,), "fp16"))])  # type: ignore[arg-type]
    with pytest.raises(MILError, match="must have a tensor or state type"):

        @program(inputs={"x": "fp16"})  # type: ignore[dict-item]
        def bad(mb: Builder, x: object) -> object:
            return x


def test_make_program_sorts_build_info() -> None:
    mb = Builder("ios18", build_info=None)
    fn = mb.function(mb.input("x", tensor((1,), "fp16")))
    text = make_program([fn], {"b": "2", "a": "1"}).to_mil()
    assert text.index('"a"') < text.index('"b"')
    assert make_program([Builder("ios18").function([])]).attributes == {}


def test_coremltools_style_function_gets_the_builder_first_hint() -> None:
    with pytest.raises(MILError, match=r"(?s)cannot call f\(x\) with \(builder, x\).*def prog\(mb, x\)"):

        @program(inputs={"x": tensor((1, 4, 1, 8), "fp16")})
        def f(x: object) -> object:
            return x

    with pytest.raises(MILError, match=r"not a bare @mil\.program"):
        program(lambda mb, x: x)  # type: ignore[arg-type]
    with pytest.raises(MILError, match="anekit names each input"):
        program([tensor((1, 4), "fp16")])  # type: ignore[arg-type]


def test_built_programs_say_anekit_wrote_them() -> None:
    import anekit

    @program(inputs={"x": tensor((1, 4, 1, 8), "fp16")})
    def prog(mb: Builder, x: object) -> object:
        return mb.relu(x=x)

    header = prog.to_mil().splitlines()[1]
    assert header.startswith("[buildInfo = ")
    assert f'{{"anekit-version", "{anekit.__version__}"}}' in header
    assert '{"coremlc-version", "3505.4.1"}' in header  # the key every program known to compile carries
    assert "coremltools" not in header and "coremlc-component-MIL" not in header
    assert parse(prog.to_mil()).build_info == DEFAULT_BUILD_INFO
