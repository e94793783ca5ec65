"""Post-parse checks: per-function tables and memoised inference give the same findings as op-by-op checks."""

from __future__ import annotations

import pytest
from _corpus import CORPUS

from anekit.mil import parse
from anekit.mil.ops import get_spec
from anekit.mil.text.parse_check import OpChecker, check_function, check_op

TEXT = """program(1.3)
{
    func main<ios18>(tensor<fp16, [1, 4]> x) {
            tensor<fp16, [1, 4]> a = relu(x = x)[name = string("a")];
            tensor<fp16, [1, 4]> b = relu(x = a)[name = string("b")];
            tensor<fp16, [1, 5]> c = relu(x = b)[name = string("c")];
            tensor<int32, [2]> s = const()[name = string("s"), val = tensor<int32, [2]>([2, 2])];
            tensor<fp16, [2, 2]> d = reshape(x = b, shape = s)[name = string("d")];
            tensor<int32, [2]> s2 = const()[name = string("s2"), val = tensor<int32, [2]>([4, 1])];
            tensor<fp16, [2, 2]> e = reshape(x = b, shape = s2)[name = string("e")];
            tensor<fp16, [2, 2]> f = read_state(input = x)[name = string("f")];
            tensor<fp16, [1, 4]> g = frobnicate(x = x)[name = string("g")];
            tensor<fp16, [1, 4]> h = transpose(x = x, perm = s)[name = string("h")];
        } -> (e);
}"""


def _findings(diags: list) -> list[tuple]:
    return [(d.rule, d.severity, d.message, d.op, d.line) for d in diags]


def test_checker_matches_op_by_op_checks() -> None:
    prog = parse(TEXT)
    f = prog.main
    separate = [d for op in f.operations for d in check_op(op, f)]  # a fresh checker per op
    assert _findings(check_function(f)) == _findings(separate)
    rules = {(d.rule, d.op) for d in separate}
    # c: a repeated relu whose declared type is wrong; e: a repeated reshape to another shape.
    assert {("type-mismatch", "c"), ("type-mismatch", "e"), ("unknown-op", "g")} <= rules
    assert ("type-mismatch", "d") not in rules


def test_checker_keeps_one_plan_per_spec() -> None:
    f = parse(TEXT).main
    checker = OpChecker(f)
    for op in f.operations:
        checker.check(op)
    relu = get_spec("relu")
    assert checker.plan(relu) is checker.plan(relu)
    assert checker.plan(relu)[1] is True  # relu exists in ios18
    assert checker.plan(get_spec("read_state"))[0].known.keys() == {"input"}


@pytest.mark.parametrize("bundle", CORPUS, ids=lambda p: p.name)
def test_corpus_findings_do_not_depend_on_the_memo(bundle) -> None:
    f = parse((bundle / "model.mil").read_text()).main
    separate = [d for op in f.operations for d in check_op(op, f)]
    assert _findings(check_function(f)) == _findings(separate)


def test_const_declared_type_is_checked_against_its_value() -> None:
    # The checker's short path for consts accepts only a declared type equal to the value's; others are reported.
    text = """program(1.3)
{
    func main<ios18>(tensor<fp16, [1, 4]> x) {
            tensor<int32, [2]> ok = const()[name = string("ok"), val = tensor<int32, [2]>([1, 4])];
            tensor<int32, [3]> bad = const()[name = string("bad"), val = tensor<int32, [2]>([1, 4])];
            tensor<fp16, [1, 4]> y = reshape(x = x, shape = ok)[name = string("y")];
        } -> (y);
}"""
    f = parse(text).main
    checker = OpChecker(f)
    by_op = {op.name: checker.check(op) for op in f.operations}
    assert by_op["ok"] == [] and by_op["y"] == []
    assert [d.rule for d in by_op["bad"]] == ["type-mismatch"]
    assert _findings(by_op["bad"]) == _findings(check_op(f.operations[1], f))
