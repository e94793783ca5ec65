"""anekit.mil.passes.fold_static: shape arithmetic of static inputs becomes constants, exactly; what depends on
input values or weight blobs stays; constants nothing reads any more are dropped."""

from __future__ import annotations

import numpy as np

from anekit import mil
from anekit.mil.passes import fold_static
from anekit.reference import Executor


@mil.program(inputs={"x": mil.tensor([2, 3, 8], "fp16")}, opset="ios17")
def shape_arithmetic(mb, x):
    # what converters write for x.view(x.shape[0], -1): shape -> gather -> concat -> reshape
    s = mb.shape(x=x)
    batch = mb.gather(x=s, indices=np.array([0], np.int32), axis=0)
    target = mb.concat(values=(batch, np.array([-1], np.int32)), axis=0)
    return mb.relu(x=mb.reshape(x=x, shape=target), name="y")


def _ops(prog: mil.Program) -> list[str]:
    return [op.op_type for op in prog.main.operations]


def test_shape_arithmetic_folds_to_one_const_and_results_are_unchanged() -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 8)).astype(np.float16)
    (want,) = Executor(shape_arithmetic)({"x": x}).values()
    assert {"shape", "gather", "concat"} <= set(_ops(shape_arithmetic))
    folded = fold_static(shape_arithmetic.main)
    assert folded == 3  # shape, gather, concat
    assert _ops(shape_arithmetic) == ["const", "reshape", "relu"]  # their index and axis constants are gone
    target = shape_arithmetic.main.operations[0].attrs["val"].data
    np.testing.assert_array_equal(target, np.array([2, -1], np.int32))
    (got,) = Executor(shape_arithmetic)({"x": x}).values()
    np.testing.assert_array_equal(got, want)
    assert fold_static(shape_arithmetic.main) == 0  # nothing left: a second run changes nothing


def test_input_values_and_weight_blobs_are_not_folded() -> None:
    @mil.program(inputs={"x": mil.tensor([1, 64], "fp16")}, opset="ios17")
    def prog(mb, x):
        w = mb.const(val=np.ones((64, 64), np.float16))  # big enough to be stored as a weight blob
        doubled = mb.mul(x=w, y=np.float16(2))  # depends on a blob: left for the compiler
        return mb.matmul(x=mb.relu(x=x), y=doubled, name="y")

    before = _ops(prog)
    text = prog.to_mil()
    reread = mil.parse(text, weights=prog.weights())
    assert fold_static(reread.main) == 0
    assert _ops(reread) == before
