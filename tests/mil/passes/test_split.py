"""anekit.mil.passes.split_wide_linear: a vocabulary-sized linear becomes chunks the ANE takes, same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from anekit import mil
from anekit.errors import MILError
from anekit.mil.passes import split_wide_linear
from anekit.reference import Executor

RNG = np.random.default_rng(0)
W = (RNG.standard_normal((40000, 16)) * 0.05).astype(np.float16)
B = (RNG.standard_normal(40000) * 0.05).astype(np.float16)
X = (RNG.standard_normal((1, 3, 16)) * 0.5).astype(np.float16)


def _head(also_used: bool) -> mil.Program:
    @mil.program(inputs={"x": mil.tensor([1, 3, 16], "fp16")}, opset="ios17")
    def head(mb, x):
        y = mb.linear(x=x, weight=W, bias=B, name="logits")
        return mb.reduce_max(x=y, axes=[-1], name="best") if also_used else y

    return head


def _rules(prog: mil.Program) -> list[str]:
    return [d.rule for d in mil.validate(prog, "ane") if d.rule == "ane-dim-limit"]


def test_output_head_becomes_chunked_outputs() -> None:
    prog = _head(also_used=False)
    want = next(iter(Executor(prog)({"x": X}).values()))
    assert "ane-dim-limit" in _rules(prog)
    assert split_wide_linear(prog) == 1
    assert not _rules(prog)
    outs = prog.main.outputs
    assert [v.type.shape[-1] for v in outs] == [16384, 16384, 7232]
    got = Executor(prog)({"x": X})
    np.testing.assert_array_equal(np.concatenate([got[v.name] for v in outs], axis=-1), want)
    assert not [d for d in mil.validate(prog, "any") if d.severity == "error"]


def test_inner_wide_linear_is_rejoined_with_concat() -> None:
    prog = _head(also_used=True)
    want = Executor(prog)({"x": X})
    assert split_wide_linear(prog, limit=10000) == 1
    types = [op.op_type for op in prog.main.operations if op.op_type != "const"]
    assert types == ["linear"] * 4 + ["concat", "reduce_max"]
    got = Executor(prog)({"x": X})
    np.testing.assert_array_equal(got["best"], want["best"])
    assert not [d for d in mil.validate(prog, "any") if d.severity == "error"]


def test_narrow_linears_are_left_alone_and_bad_limits_named() -> None:
    prog = _head(also_used=False)
    text = prog.to_mil()
    assert split_wide_linear(prog, limit=65536) == 0
    assert prog.to_mil() == text
    with pytest.raises(MILError, match="limit must be a positive int"):
        split_wide_linear(prog, limit=0)
