"""Tests of anekit.mil.validate: every rule fires on a program that breaks it and stays silent on one that
does not; parser findings are merged without duplicates; the corpus is structurally clean."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from _corpus import ANE_EXAMPLES, CORPUS

from anekit import mil
from anekit.errors import MILError
from anekit.mil import Diagnostic, Operation, Program, Var
from anekit.mil.validate import check, format_diagnostics, rules, validate
from anekit.mil.validate._rules import RULES, Rule
from anekit.mil.validate.dialect import dialect_a_lines
from anekit.mil.validate.structural import OP_CHECK_IDS
from anekit.mil.values import Value, WeightSource

Factory = Callable[[], Program]
T = "tensor<fp16, [1, 64, 1, 384]>"
AXIS = 'int32 ax = const()[name = string("ax"), val = int32(1)];'
FALSE = 'bool il = const()[name = string("il"), val = bool(false)];'
BLOB = 'BLOBFILE(path = string("@model_path/weights/weight.bin"), offset = uint64({}))'


# ---------------------------------------------------------------------- program factories
def clean(shape: tuple[int, ...] = (1, 64, 1, 384), opset: str = "ios16") -> Program:
    """A 1×1 conv on [1, C, 1, S] fp16 with S a multiple of 32 and a 48 KiB surface: no finding at all."""
    mb = mil.Builder(opset=opset)
    x = mb.input("x", mil.tensor(shape, "fp16"))
    c = shape[1]
    return mb.build(mb.conv(x=x, weight=np.zeros((c, c, 1, 1), np.float16)))


def one_op(op: str, shape: tuple[int, ...] = (1, 64, 1, 384), opset: str = "ios16", **kw: object):
    """A program applying ``op`` to one fp16 input (kwargs are the op's other inputs)."""

    def make() -> Program:
        mb = mil.Builder(opset=opset)
        x = mb.input("x", mil.tensor(shape, "fp16"))
        return mb.build(getattr(mb, op)(x=x, **kw))

    return make


def text(body: str, params: str = "tensor<fp16, [1, 64, 1, 384]> x", opset: str = "ios18", out: str = "y"):
    """A parsed program: ``body`` statements in dialect A (ios18) or B (older), returning ``out``."""
    header = "1.3" if opset == "ios18" else "1.0"

    def make() -> Program:
        src = f"program({header})\n{{\n    func main<{opset}>({params}) {{\n{body}\n    }} -> ({out});\n}}\n"
        return mil.parse(src)

    return make


def name(n: str, opset: str = "ios18") -> str:
    return f'[name = string("{n}")]' if opset == "ios18" else f'[name = tensor<string, []>("{n}")]'


def blob_consts(n: int, shape: str, dt: str = "fp16") -> str:
    return "\n".join(
        f'tensor<{dt}, [{shape}]> w{i} = const()[name = string("w{i}"), '
        f"val = tensor<{dt}, [{shape}]>({BLOB.format(64 + 128 * i)})];"
        for i in range(n)
    )


SILERO = next((p for p in CORPUS if p.name == "silero_vad_fp16_ios15.mlmodelc"), None)


def silero(corrupt: bool) -> Factory:
    """The real silero model with its weight.bin; ``corrupt`` flips the first blob's dtype code (§9.3)."""

    def make() -> Program:
        if SILERO is None:
            pytest.skip("silero corpus copy absent")
        data = bytearray((SILERO / "weights" / "weight.bin").read_bytes())
        if corrupt:
            code = int.from_bytes(data[68:72], "little")
            data[68:72] = (2 if code == 1 else 1).to_bytes(4, "little")
        path = "@model_path/weights/weight.bin"
        return mil.parse((SILERO / "model.mil").read_text(), weights={path: bytes(data)})

    return make


MIXED = """program(1.0)
[buildInfo = dict<string, string>({{"a", "b"}})]
{
    func main<ios16>(tensor<fp16, [1, 64, 1, 384]> x) {
        fp16 eps = const()[name = string("eps"), val = fp16(0.5)];
        tensor<fp16, [1, 64, 1, 384]> y = mul(x = x, y = eps)[name = string("m")];
    } -> (y);
}
"""


def dialect_mix(mixed: bool) -> Factory:
    """A ``program(1.0)`` text with dialect-A spellings (or its dialect-B rewrite); validated with its text."""

    def make() -> Program:
        src = MIXED if mixed else mil.parse(MIXED).to_mil(dialect="B")
        prog = mil.parse(src)
        prog.diagnostics.extend(validate(prog, "any", text=src))  # the rule needs the text
        return prog

    return make


def reorder() -> Program:
    """A built program whose ops are put out of order (use before definition)."""
    mb = mil.Builder(opset="ios16")
    x = mb.input("x", mil.tensor((1, 64, 1, 384), "fp16"))
    p = mb.build(mb.sigmoid(x=mb.relu(x=x)))
    p.main.operations.reverse()
    return p


def foreign_var() -> Program:
    """An op reading a variable of another builder's function; the output is also foreign."""
    p = one_op("relu")()
    other = one_op("relu")()
    op = p.main.operations[0]
    op.inputs["x"] = other.main.inputs["x"]
    p.main.outputs = [other.main.outputs[0]]
    return p


def no_outputs() -> Program:
    p = one_op("relu")()
    p.main.outputs = []
    return p


def mixed_opsets() -> Program:
    f16 = clean(opset="ios16").main
    g = clean(opset="ios18").main
    g.name = "other"
    return Program([f16, g])


def inline_arg(opset: str) -> Factory:
    """``mul(x = x, y = <inline literal>)``: inline arguments are iOS18 constexpr syntax (§7.4)."""

    def make() -> Program:
        p = clean(opset=opset)
        f = p.main
        x = f.inputs["x"]
        y = Var("y", x.type)
        lit = Value(mil.tensor((), "fp16"), np.asarray(2, np.float16))
        f.operations.append(Operation("mul", "m", {"x": f.outputs[0], "y": lit}, {}, [y]))
        f.outputs = [y]
        return p

    return make


def two_inputs(sizes_equal: bool = True) -> Program:
    mb = mil.Builder(opset="ios16")
    a = mb.input("a", mil.tensor((1, 64, 1, 384), "fp16"))
    b = mb.input("b", mil.tensor((1, 64, 1, 384 if sizes_equal else 416), "fp16"))
    return mb.build(mb.add(x=a, y=b if sizes_equal else mb.slice_by_size(x=b, begin=[0] * 4, size=[1, 64, 1, 384])))


def unused_input() -> Program:
    mb = mil.Builder(opset="ios16")
    x = mb.input("x", mil.tensor((1, 64, 1, 384), "fp16"))
    mb.input("z", mil.tensor((1, 64, 1, 384), "fp16"))
    return mb.build(mb.relu(x=x))


def dead_op() -> Program:
    mb = mil.Builder(opset="ios16")
    x = mb.input("x", mil.tensor((1, 64, 1, 384), "fp16"))
    mb.sigmoid(x=x)
    return mb.build(mb.relu(x=x))


def argmax_int32() -> Program:
    mb = mil.Builder(opset="ios16")
    x = mb.input("x", mil.tensor((1, 64, 1, 384), "fp16"))
    idx = mb.reduce_argmax(x=x, axis=1, keep_dims=True)
    return mb.build([mb.relu(x=x), idx])


def quantized() -> Program:
    """W8A8 round trip (§8.4) with an fp32 output through a final cast (§8.1): no activation-dtype finding."""
    mb = mil.Builder(opset="ios17")
    x = mb.input("x", mil.tensor((1, 64, 1, 384), "fp16"))
    q = mb.quantize(input=x, scale=np.float16(0.125), output_dtype="int8")
    d = mb.dequantize(input=q, scale=np.float16(0.125))
    return mb.build(mb.cast(x=d, dtype="fp32"))


def layer_norm(eps_dtype: type, gamma: bool = True) -> Factory:
    def make() -> Program:
        mb = mil.Builder(opset="ios17")
        x = mb.input("x", mil.tensor((1, 64, 1, 384), "fp16"))
        kw = {"gamma": np.ones(64, np.float16)} if gamma else {}
        return mb.build(mb.layer_norm(x=x, axes=[1], epsilon=eps_dtype(1e-5), **kw))

    return make


def sdpa(mask: bool) -> Factory:
    def make() -> Program:
        mb = mil.Builder(opset="ios18")
        q = mb.input("q", mil.tensor((1, 4, 64, 64), "fp16"))
        kw = {"attn_mask": np.zeros((64, 64), np.float16)} if mask else {}
        return mb.build(mb.scaled_dot_product_attention(query=q, key=q, value=q, **kw))

    return make


def matmul(k: int) -> Factory:
    def make() -> Program:
        mb = mil.Builder(opset="ios16")
        x = mb.input("x", mil.tensor((1, 1, 64, k), "fp16"))
        return mb.build(mb.matmul(x=x, y=np.zeros((k, 32), np.float16)))

    return make


def conv(groups: int, runtime_weight: bool, c_in: int = 64, bias: bool = False) -> Factory:
    def make() -> Program:
        mb = mil.Builder(opset="ios16")
        x = mb.input("x", mil.tensor((1, c_in, 1, 32), "fp16"))
        wshape = (64, c_in // groups, 1, 1)
        w = mb.input("w", mil.tensor(wshape, "fp16")) if runtime_weight else np.zeros(wshape, np.float16)
        kw = {"bias": np.zeros(64, np.float16)} if bias else {}
        return mb.build(mb.conv(x=x, weight=w, groups=groups, **kw))

    return make


def slice_input(on_input: bool) -> Factory:
    def make() -> Program:
        mb = mil.Builder(opset="ios16")
        x = mb.input("x", mil.tensor((1, 64, 1, 384), "fp16"))
        src = x if on_input else mb.relu(x=x)
        return mb.build(mb.slice_by_index(x=src, begin=[0, 0, 0, 0], end=[1, 64, 1, 384]))

    return make


def weights(shape: str, n: int = 1) -> Factory:
    """A parsed ios18 program with ``n`` BLOBFILE consts of ``shape`` added to the input (no weight file)."""
    adds = [
        f"tensor<fp16, [{shape}]> y{i} = add(x = {'x' if i == 0 else f'y{i - 1}'}, y = w{i}){name(f'a{i}')};"
        for i in range(n)
    ]
    body = blob_consts(n, shape) + "\n" + "\n".join(adds)
    return text(body, params=f"tensor<fp16, [{shape}]> x", out=f"y{n - 1}")


# (rule id, program that breaks it, program that does not, target, severity of the finding)
CASES: list[tuple[str, Factory, Factory, str, str]] = [
    # ------------------------------------------------------------ structural
    (
        "type-mismatch",
        text(f"tensor<fp16, [1, 64, 1, 385]> y = relu(x = x){name('r')};"),
        text(f"tensor<fp16, [1, 64, 1, 384]> y = relu(x = x){name('r')};"),
        "any",
        "error",
    ),
    ("unknown-op", text(f"tensor<fp16, [1, 64, 1, 384]> y = frobnicate(x = x){name('r')};"), clean, "any", "warning"),
    (
        "opset",
        text(
            "tensor<fp16, [1, 4, 64, 64]> y = scaled_dot_product_attention(key = x, query = x, value = x)"
            + name("s", "ios17")
            + ";",
            params="tensor<fp16, [1, 4, 64, 64]> x",
            opset="ios17",
        ),
        sdpa(False),
        "any",
        "error",
    ),
    ("infer-error", text(f"tensor<fp16, [1, 64, 1, 384]> y = relu(){name('r')};"), clean, "any", "error"),
    (
        "duplicate-name",
        text(f"{T} a = relu(x = x){name('r')};\n{T} y = relu(x = a){name('r')};"),
        text(f"{T} a = relu(x = x){name('r')};\n{T} y = relu(x = a){name('r2')};"),
        "any",
        "error",
    ),
    (
        "unknown-input",
        text(f"tensor<fp16, [1, 64, 1, 384]> y = relu(bogus = x, x = x){name('r')};"),
        clean,
        "any",
        "error",
    ),
    (
        "non-const",
        text(
            f"tensor<fp16, [1, 64, 1, 64]> y = linear(weight = w, x = x){name('l')};",
            params="tensor<fp16, [1, 64, 1, 64]> x, tensor<fp16, [64, 64]> w",
        ),
        one_op("linear", weight=np.zeros((64, 384), np.float16)),
        "any",
        "error",
    ),
    ("undefined-var", reorder, one_op("relu"), "any", "error"),
    (
        "duplicate-var",
        text(f"tensor<fp16, [1, 64, 1, 384]> x = relu(x = x){name('r')};", out="x"),
        clean,
        "any",
        "error",
    ),
    ("missing-outputs", no_outputs, clean, "any", "error"),
    ("blob-ref", silero(True), silero(False), "any", "error"),
    ("dialect-mix", dialect_mix(True), dialect_mix(False), "any", "error"),
    ("unused-input", unused_input, clean, "any", "info"),
    ("dead-op", dead_op, clean, "any", "info"),
    (
        "empty-io",
        text("", params="tensor<fp16, [1, 0, 1, 384]> x", out="x"),
        text("", params="tensor<fp16, [1, 1, 1, 384]> x", out="x"),
        "any",
        "error",
    ),
    (
        "duplicate-output",
        text(f"tensor<fp16, [1, 64, 1, 384]> y = relu(x = x){name('r')};", out="y, y"),
        text(f"tensor<fp16, [1, 64, 1, 384]> y = relu(x = x){name('r')};", out="y"),
        "any",
        "error",
    ),
    (
        "header-opset",
        lambda: mil.parse(clean(opset="ios18").to_mil().replace("program(1.3)", "program(1.0)", 1)),
        lambda: mil.parse(clean(opset="ios18").to_mil()),
        "any",
        "error",
    ),
    ("ios18-syntax", inline_arg("ios16"), clean, "any", "error"),
    # ------------------------------------------------------------ ANE: tensors and I/O
    (
        "ane-dynamic-shape",
        text(f"tensor<fp16, [1, 64, 1, ?]> y = relu(x = x){name('r')};", params="tensor<fp16, [1, 64, 1, ?]> x"),
        clean,
        "ane",
        "error",
    ),
    ("ane-64bit", text("", params="tensor<int64, [1, 64, 1, 384]> x", out="x"), clean, "ane", "error"),
    ("ane-io-dtype", lambda: quantized(), clean, "ane", "warning"),
    ("ane-io-layout", one_op("relu", shape=(64, 384)), clean, "ane", "warning"),
    ("ane-spatial-multiple", lambda: clean((1, 64, 1, 48 * 8 + 16)), clean, "ane", "warning"),
    ("ane-single-token", lambda: clean((1, 64, 1, 1)), clean, "ane", "warning"),
    ("ane-dim-limit", one_op("relu", shape=(1, 70000, 1, 32)), one_op("relu", shape=(1, 16384, 1, 32)), "ane", "error"),
    ("ane-min-surface", lambda: clean((1, 64, 1, 32)), clean, "ane", "info"),
    ("ane-surface-alignment", one_op("relu", shape=(1, 3, 1, 32)), one_op("relu", shape=(1, 4, 1, 32)), "ane", "info"),
    ("ane-multi-input", lambda: two_inputs(False), clean, "ane", "warning"),
    ("ane-activation-dtype", argmax_int32, quantized, "ane", "warning"),
    ("ane-dialect-chip", lambda: clean(opset="ios18"), clean, "ane", "info"),
    # ------------------------------------------------------------ ANE: ops
    (
        "ane-param-dtype",
        layer_norm(np.float32, gamma=False),
        layer_norm(np.float16, gamma=False),
        "ane",
        "warning",
    ),
    (
        "ane-concat",
        text(f"{AXIS}\ntensor<fp16, [1, 128, 1, 384]> y = concat(axis = ax, values = (x, x)){name('c')};"),
        text(
            f"{AXIS}\n{FALSE}\n"
            f"tensor<fp16, [1, 128, 1, 384]> y = concat(axis = ax, interleave = il, values = (x, x)){name('c')};"
        ),
        "ane",
        "error",
    ),
    ("ane-sdpa-mask", sdpa(True), sdpa(False), "ane", "warning"),
    ("ane-cast", quantized, clean, "ane", "warning"),
    (
        "ane-reduce-mean",
        one_op("reduce_mean", axes=[1], keep_dims=True),
        one_op("reduce_sum", axes=[1], keep_dims=True),
        "ane",
        "warning",
    ),
    ("ane-slice-by-index", slice_input(True), slice_input(False), "ane", "warning"),
    (
        "ane-softmax-axis",
        one_op("softmax", shape=(1, 48, 1, 384), axis=1),
        one_op("softmax", shape=(1, 64, 1, 384), axis=1),
        "ane",
        "warning",
    ),
    ("ane-disputed-op", one_op("gelu"), one_op("relu"), "ane", "info"),
    ("ane-conv-bias", conv(1, False, bias=True), conv(1, False), "ane", "info"),
    ("ane-matmul-inner", matmul(48), matmul(64), "ane", "warning"),
    ("ane-runtime-grouped-conv", conv(2, True), conv(1, True), "ane", "error"),
    ("ane-conv-input-channels", conv(1, False, c_in=32000), conv(1, False, c_in=16000), "ane", "error"),
    ("ane-unverified-op", one_op("tanh"), one_op("relu"), "ane", "info"),
    # ------------------------------------------------------------ ANE: weights (BLOBFILE consts, never read)
    ("ane-weights-sram", weights("1, 4096, 1, 4096"), weights("1, 2048, 1, 2048"), "ane", "warning"),
    ("ane-weights-total", weights("1, 40000, 1, 32768"), weights("1, 4096, 1, 4096"), "ane", "warning"),
]


def _ids(prog: Program, target: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for d in validate(prog, target):
        out.setdefault(d.rule, set()).add(d.severity)
    return out


@pytest.mark.parametrize(("rule", "bad", "good", "target", "severity"), CASES, ids=[c[0] for c in CASES])
def test_rule_fires(rule: str, bad: Factory, good: Factory, target: str, severity: str) -> None:
    found = _ids(bad(), target)
    assert rule in found, f"{rule} not reported; got {found}"
    assert severity in found[rule]


@pytest.mark.parametrize(("rule", "bad", "good", "target", "severity"), CASES, ids=[c[0] for c in CASES])
def test_rule_silent(rule: str, bad: Factory, good: Factory, target: str, severity: str) -> None:
    assert rule not in _ids(good(), target)


@pytest.mark.parametrize(("rule", "bad", "good", "target", "severity"), CASES, ids=[c[0] for c in CASES])
def test_all_rules_survive_every_bad_program(
    rule: str, bad: Factory, good: Factory, target: str, severity: str
) -> None:
    """The full ANE rule set runs on every broken program without a rule failing."""
    assert "validator-error" not in _ids(bad(), "ane")


def test_failing_rule_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx: object) -> list[Diagnostic]:
        raise ValueError("bad axis")

    r = RULES["ane-cast"]
    monkeypatch.setitem(RULES, "ane-cast", Rule(r.id, r.severity, r.target, r.source, r.summary, boom))
    found = validate(quantized(), "ane")
    crash = [d for d in found if d.rule == "validator-error"]
    assert len(crash) == 1
    assert "ane-cast" in crash[0].message
    assert "ane-io-dtype" in {d.rule for d in found}  # the other rules still ran


def test_every_rule_has_a_case() -> None:
    covered = {c[0] for c in CASES}
    # ane-op-failed-here reads this machine's saved doctor report: tests/doctor/test_op_support.py covers it.
    expected = (set(RULES) - {"op-check", "ane-op-failed-here"}) | set(OP_CHECK_IDS)
    assert expected <= covered, f"rules without a test case: {sorted(expected - covered)}"


def test_clean_program_has_no_findings() -> None:
    assert validate(clean(), "ane") == []
    assert check(clean()) == []


# ---------------------------------------------------------------------- severities and variants
def test_severity_variants() -> None:
    # program(1.3) with an ios16 function: acceptance unknown -> warning, not error (§3).
    p = mil.parse(clean(opset="ios16").to_mil(dialect="A"))
    assert {d.severity for d in validate(p, "any") if d.rule == "header-opset"} == {"warning"}
    # A built program mixing ios16 and ios18 functions is emitted as program(1.3).
    assert "warning" in _ids(mixed_opsets(), "any")["header-opset"]
    # ios18: inline arguments outside constexpr ops are legal but unseen -> warning.
    assert _ids(inline_arg("ios18")(), "any")["ios18-syntax"] == {"warning"}
    # [1, C, H, W] with H != 1 is documented (int8 benchmark) -> info.
    assert _ids(clean((1, 64, 4, 96)), "ane")["ane-io-layout"] == {"info"}
    # Between libane's 16384 and the 65536 maximum -> warning.
    assert _ids(one_op("relu", shape=(1, 20000, 1, 32))(), "ane")["ane-dim-limit"] == {"warning"}
    # Weights between the ~16 MiB (M1) and ~24 MiB estimates -> info.
    assert _ids(weights("1, 3200, 1, 3200")(), "ane")["ane-weights-sram"] == {"info"}
    # layer_norm with gamma: a different epsilon dtype is rejected by the op spec itself (an error).
    with pytest.raises(MILError, match="share one dtype"):
        layer_norm(np.float32)()
    assert "ane-param-dtype" not in _ids(layer_norm(np.float16)(), "ane")


def test_messages_cite_the_conflict() -> None:
    msgs = [d.message for d in validate(clean((1, 64, 1, 400)), "ane") if d.rule == "ane-spatial-multiple"]
    assert msgs
    assert "multiple of 16" in msgs[0]
    assert "32" in msgs[0]
    msgs = [d.message for d in validate(clean((1, 64, 1, 390)), "ane") if d.rule == "ane-spatial-multiple"]
    assert "neither" in msgs[0]


def test_state_input_before_ios18() -> None:
    p = text(
        "", params="state<tensor<fp16, [1, 64, 1, 384]>> s, tensor<fp16, [1, 64, 1, 384]> x", opset="ios16", out="x"
    )()
    assert "ios18-syntax" in _ids(p, "any")


def test_foreign_and_later_variables() -> None:
    diags = [d for d in validate(foreign_var(), "any") if d.rule == "undefined-var"]
    assert len(diags) == 2  # the op input and the function output
    assert any("not defined in this function" in d.message for d in diags)
    later = [d for d in validate(reorder(), "any") if d.rule == "undefined-var"]
    assert any("later op" in d.message for d in later)


def test_dialect_a_detection_has_no_false_positives() -> None:
    for make in (clean, quantized, argmax_int32, dead_op):  # ios16/17: dialect B is refused for ios18
        prog = make()
        assert dialect_a_lines(prog.to_mil(dialect="B")) == []
        assert dialect_a_lines(prog.to_mil(dialect="A"))
    for path in CORPUS + ANE_EXAMPLES:
        src = (path / "model.mil" if path.is_dir() else path).read_text()
        found = dialect_a_lines(src)
        assert bool(found) == src.startswith("program(1.3)"), path.name
    mixed = [d for d in validate(mil.parse(MIXED), "any", text=MIXED) if d.rule == "dialect-mix"]
    assert len(mixed) == 1
    assert mixed[0].line == 2
    assert "3 line(s)" in mixed[0].message
    # Comments and string contents are not code.
    assert dialect_a_lines('// fp16 x = const()\n[name = tensor<string, []>("int32(1)")]') == []
    with pytest.raises(MILError, match="text"):
        validate(clean(), "any", text=b"program(1.0)")  # type: ignore[arg-type]


def test_missing_weight_file_is_one_info() -> None:
    p = weights("1, 64, 1, 384", 3)()
    p.weight_source = WeightSource({})  # weights "given" but the file is not among them
    found = [d for d in validate(p, "any") if d.rule == "blob-ref"]
    assert [d.severity for d in found] == ["info"]
    assert "3 BLOBFILE reference(s)" in found[0].message
    assert "blob-ref" not in _ids(weights("1, 64, 1, 384", 3)(), "any")  # no weights at all: not checked


def test_empty_program() -> None:
    assert "missing-outputs" in _ids(Program([]), "any")


def test_locations_and_hints() -> None:
    p = text(f"tensor<fp16, [1, 64, 1, 384]> y = relu(bogus = x, x = x){name('r')};")()
    d = next(d for d in validate(p, "any") if d.rule == "unknown-input")
    assert (d.function, d.op, d.line) == ("main", "r", 4)
    assert d.hint


# ---------------------------------------------------------------------- parser findings, dedupe, check()
def test_parser_findings_are_included_once() -> None:
    p = text(f"tensor<fp16, [1, 64, 1, 384]> x = relu(x = x){name('r')};", out="x")()
    assert any(d.rule == "duplicate-var" for d in p.diagnostics)
    found = [d for d in validate(p, "any") if d.rule == "duplicate-var"]
    assert len(found) == 1
    # A parser-only finding (missing name attribute) comes through validate().
    q = text("tensor<fp16, [1, 64, 1, 384]> y = relu(x = x);")()
    assert "missing-name" in _ids(q, "any")
    # The parser's coarse "binding" finding is superseded by unknown-input.
    r = text(f"tensor<fp16, [1, 64, 1, 384]> y = relu(bogus = x, x = x){name('r')};")()
    assert any(d.rule == "binding" for d in r.diagnostics)
    assert "binding" not in _ids(r, "any")


def test_order_errors_first() -> None:
    found = validate(
        text(f"tensor<fp16, [1, 64, 1, ?]> y = tanh(x = x){name('r')};", params="tensor<fp16, [1, 64, 1, ?]> x")(),
        "ane",
    )
    ranks = [("error", "warning", "info").index(d.severity) for d in found]
    assert ranks == sorted(ranks)
    assert ranks[0] == 0


def test_check_raises_on_errors_only() -> None:
    with pytest.raises(MILError, match="ane-dynamic-shape"):
        check(
            text(f"tensor<fp16, [1, 64, 1, ?]> y = relu(x = x){name('r')};", params="tensor<fp16, [1, 64, 1, ?]> x")()
        )
    warned = check(sdpa(True)(), "ane")  # warnings only: no exception
    assert any(d.rule == "ane-sdpa-mask" for d in warned)
    check(sdpa(True)(), "any")


def test_bad_arguments() -> None:
    with pytest.raises(MILError, match="target"):
        validate(clean(), "gpu")
    with pytest.raises(MILError, match="Program"):
        validate("program(1.0)", "any")  # type: ignore[arg-type]


def test_rules_listing() -> None:
    structural = rules("any")
    everything = rules("ane")
    assert all(r.target == "any" for r in structural)
    assert len(everything) == len(RULES) > len(structural)
    assert everything[: len(structural)] == structural
    for r in everything:
        assert "§" in r.source, f"{r.id} does not cite its source"


def test_format_diagnostics_groups_by_severity() -> None:
    prog = text(f"tensor<fp32, [1, 64, 1, ?]> y = tanh(x = x){name('r')};", params="tensor<fp32, [1, 64, 1, ?]> x")()
    text_out = format_diagnostics(validate(prog, "ane"))
    assert text_out.index("error") < text_out.index("warning") < text_out.index("info")
    assert "hint:" in text_out
    assert "func main" in text_out
    assert format_diagnostics([]) == "no findings"


# ---------------------------------------------------------------------- corpus
CORPUS_IDS = [p.name for p in CORPUS] + [p.name for p in ANE_EXAMPLES]


@pytest.mark.parametrize("path", CORPUS + ANE_EXAMPLES, ids=CORPUS_IDS)
def test_corpus_is_structurally_valid(path) -> None:
    prog = mil.load(path)
    found = validate(prog, "any")
    assert [d for d in found if d.severity != "info"] == []
    ane = validate(prog, "ane")  # must not crash; ANE findings are expected (non-[1,C,1,S] I/O …)
    assert all(d.rule in RULES or d.rule in OP_CHECK_IDS for d in ane)


@pytest.mark.parametrize("path", ANE_EXAMPLES, ids=[p.name for p in ANE_EXAMPLES])
def test_ane_examples_have_no_ane_errors(path) -> None:
    """The §8 examples compiled on the ANE upstream: the validator must not call them broken."""
    assert [d for d in validate(mil.load(path), "ane") if d.severity == "error"] == []


def test_corpus_ane_findings_are_plausible() -> None:
    by_name = {p.name: p for p in CORPUS}
    flexible = by_name.get("fluidaudio_transpose_flexible_ios16.mlmodelc")
    if flexible is None:
        pytest.skip("corpus copy absent")
    assert "ane-dynamic-shape" in _ids(mil.load(flexible), "ane")
    silero = _ids(mil.load(by_name["silero_vad_fp16_ios15.mlmodelc"]), "ane")
    assert {"ane-io-dtype", "ane-io-layout", "ane-cast"} <= set(silero)
    assert "ane-dynamic-shape" not in silero


# ---------------------------------------------------------------------- Program methods
def test_program_check_method() -> None:
    assert clean().check() == []
    with pytest.raises(MILError, match="undefined-var"):
        reorder().check("any")
    warned = sdpa(True)().check()
    assert {d.severity for d in warned} <= {"warning", "info"}


def test_package_exports() -> None:
    assert mil.validate is validate
    assert mil.summarize(clean()).functions[0].params == 64 * 64


def test_validate_reads_the_header_from_the_text() -> None:
    # issue #10: with text=..., the header the compiler will read is the text's, not the IR's version (a
    # built program has none and used to be judged by its opsets alone).
    built = clean(opset="ios18")
    good = built.to_mil()
    bad = good.replace("program(1.3)", "program(1.0)", 1)
    assert "header-opset" not in _ids(built, "any")
    assert "header-opset" not in {d.rule for d in validate(built, "any", text=good)}
    found = [d for d in validate(built, "any", text=bad) if d.rule == "header-opset"]
    assert [d.severity for d in found] == ["error"]
    assert "program(1.0)" in found[0].message
    # A parsed ios16 program validated against its program(1.3) rewrite: the text's header wins again.
    old = clean(opset="ios16")
    as_a = old.to_mil(dialect="A")
    assert {d.severity for d in validate(old, "any", text=as_a) if d.rule == "header-opset"} == {"warning"}
    # Leading comments and blank lines before the header are allowed by the grammar.
    assert any(d.rule == "header-opset" for d in validate(built, "any", text="// hi\n\n" + bad))


def test_many_blobfile_weights_are_not_flagged() -> None:
    # issue #10: the "more than 16 BLOBFILE weights" warning is gone (a 128-blob program ran on M1-M5,
    # docs/internals/mil-format.md §11 rule 18).
    assert "ane-blob-count" not in {r.id for r in rules("ane")}
    many, one = (_ids(weights("1, 64, 1, 32", n)(), "ane") for n in (128, 1))
    assert many == one


@pytest.mark.parametrize("opset", ["ios17", "ios18"])
def test_param_dtype_rule_covers_every_fp32_constant_of_an_fp16_op(opset: str) -> None:
    # issue #10: the layer_norm epsilon rule, extended to every fp32 const parameter of an fp16 op.
    mb = mil.Builder(opset)
    x = mb.input("x", mil.tensor((1, 16, 1, 32), "fp16"))
    y = mb.conv(x=x, weight=np.ones((16, 16, 1, 1), np.float32), name="cv")  # explicit fp32: kept, flagged
    y = mb.leaky_relu(x=y, alpha=np.float32(0.1), name="lr")
    y = mb.layer_norm(x=y, axes=[1], epsilon=np.float32(1e-5), name="ln")
    y = mb.elu(x=y, alpha=0.5, name="el")  # a Python float: fp16, not flagged
    diags = [d for d in validate(mb.build(y), "ane") if d.rule == "ane-param-dtype"]
    found = {(d.op, d.message.split("]")[1].split()[0]) for d in diags}
    assert found == {("cv", "weight"), ("lr", "alpha"), ("ln", "epsilon")}
    # An fp32 program with fp32 constants is fine, and so is every corpus program.
    mb = mil.Builder(opset)
    x = mb.input("x", mil.tensor((1, 16, 1, 32), "fp32"))
    assert "ane-param-dtype" not in _ids(mb.build(mb.leaky_relu(x=x, alpha=0.1)), "ane")
    for path in CORPUS:
        src = (path / "model.mil" if path.is_dir() else path).read_text()
        assert "ane-param-dtype" not in _ids(mil.parse(src), "ane"), path.name


def test_duplicate_outputs_are_refused_end_to_end() -> None:
    # issue #11 item 7: -> (y, y) collapsed to one output key; it is refused by the Builder, the validator,
    # compile and the reference executor alike (results and surfaces are keyed by name).
    import anekit
    from anekit import reference

    mb = mil.Builder("ios18")
    x = mb.input("x", mil.tensor((1, 64, 1, 32), "fp16"))
    y = mb.relu(x=x)
    for outputs in ([y, y], {"a": y, "b": y}):
        with pytest.raises(MILError, match=r"output '\w+' is returned more than once.*identity"):
            mb.build(outputs)
    assert y.name == "relu_0"  # the failed dict build renamed nothing
    prog = mb.build([y, mb.identity(x=y)])  # the suggested alternative works
    assert len(prog.main.outputs) == 2
    src = f"tensor<fp16, [1, 64, 1, 384]> y = relu(x = x){name('r')};"
    parsed = text(src, out="y, y")()
    assert [d.severity for d in validate(parsed, "any") if d.rule == "duplicate-output"] == ["error"]
    with pytest.raises(MILError, match="more than once"):
        reference.run(parsed, {"x": np.zeros((1, 64, 1, 384), np.float16)})
    with pytest.raises(MILError, match="duplicate-output"):
        anekit.compile(parsed, backend="reference", cache=False)
