"""Programs the MIL fuzz (test_adv_mil_fuzz.py) found, kept as regression tests: each used to validate clean
and then fail with a bare ValueError (surface allocation, numpy) instead of anekit's own error."""

from __future__ import annotations

import numpy as np
import pytest

import anekit
from anekit import mil, reference
from anekit.errors import MILError

EMPTY_IO = """program(1.0)
{
    func main<ios15>(tensor<fp16, [0]> logits) {
            tensor<int32, [1]> a = const()[name = tensor<string, []>("a"), val = tensor<int32, [1]>([-1])];
            tensor<bool, []> k = const()[name = tensor<string, []>("k"), val = tensor<bool, []>(true)];
            tensor<fp16, [1]> s = reduce_sum(axes = a, keep_dims = k, x = logits)[name = tensor<string, []>("s")];
        } -> (s);
}
"""


def test_an_empty_input_is_a_validation_error_and_compile_refuses_it() -> None:
    prog = mil.parse(EMPTY_IO)
    found = [d for d in mil.validate(prog, "any") if d.rule == "empty-io"]
    assert [d.severity for d in found] == ["error"]
    assert "input 'logits'" in found[0].message
    with pytest.raises(MILError, match="empty-io"):
        anekit.compile(prog, backend="reference", cache=False)


def test_an_empty_output_is_a_validation_error() -> None:
    mb = mil.Builder("ios17")
    x = mb.input("x", mil.tensor((1, 4), "fp16"))
    prog = mb.build(mb.slice_by_size(x=x, begin=[0, 0], size=[1, 0]))
    assert any(d.rule == "empty-io" and "output" in d.message for d in mil.validate(prog, "any"))


@pytest.mark.parametrize("op", ["reduce_max", "reduce_min", "reduce_argmax", "reduce_argmin"])
def test_extreme_values_over_an_empty_axis_are_refused_when_the_op_is_added(op: str) -> None:
    mb = mil.Builder("ios17")
    x = mb.input("x", mil.tensor((1, 4), "fp16"))
    empty = mb.slice_by_size(x=x, begin=[0, 0], size=[1, 0])
    axis = {"axes": [1]} if op in ("reduce_max", "reduce_min") else {"axis": 1}
    with pytest.raises(MILError, match=r"over axis 1 .* it has no elements"):
        getattr(mb, op)(x=empty, **axis)
    # Sums have an identity: an empty sum is 0 and still runs.
    prog = mb.build(mb.add(x=x, y=mb.reduce_sum(x=empty, axes=[1], keep_dims=True)))
    out = reference.run(prog, {"x": np.ones((1, 4), np.float16)})
    np.testing.assert_array_equal(next(iter(out.values())), np.ones((1, 4), np.float16))
