"""anekit.mil.passes.io_fp16: fp32 / integer I/O becomes fp16 I/O, boundary casts go, results stay the same."""

from __future__ import annotations

import numpy as np
import pytest

import anekit
from anekit import mil
from anekit.mil.passes import io_fp16
from anekit.reference import Executor


def _rules(prog: mil.Program) -> set[str]:
    return {d.rule for d in mil.validate(prog, "ane")}


def _ops(prog: mil.Program) -> list[str]:
    return [op.op_type for op in prog.main.operations if op.op_type != "const"]


@mil.program(inputs={"x": mil.tensor([1, 8, 1, 4], "fp32")}, opset="ios17")
def boundary_casts(mb, x):
    h = mb.cast(x=x, dtype="fp16")
    y = mb.relu(x=h)
    return mb.cast(x=y, dtype="fp32", name="out")


@mil.program(inputs={"x": mil.tensor([1, 8, 1, 4], "fp32")}, opset="ios17")
def fp32_inside(mb, x):
    return mb.add(x=x, y=np.float32(1.0), name="out")


def test_boundary_casts_are_removed_and_results_agree() -> None:
    prog = boundary_casts
    x = np.linspace(-2, 2, 32, dtype=np.float32).reshape(1, 8, 1, 4)
    want = Executor(prog)({"x": x})
    before = _rules(prog)
    io_fp16(prog)
    assert _ops(prog) == ["relu"]
    assert prog.main.inputs["x"].type.dtype.name == "fp16"
    assert [v.name for v in prog.main.outputs] == [next(iter(want))]  # the output keeps its name
    assert prog.main.outputs[0].type.dtype.name == "fp16"
    assert "ane-io-dtype" in before and "ane-io-dtype" not in _rules(prog)
    assert not [d for d in mil.validate(prog, "any") if d.severity == "error" or d.rule == "dead-op"]
    got = Executor(prog)({"x": x.astype(np.float16)})
    np.testing.assert_array_equal(next(iter(got.values())), next(iter(want.values())).astype(np.float16))


def test_uses_without_casts_get_one_cast_each_way() -> None:
    prog = fp32_inside
    io_fp16(prog)
    assert _ops(prog) == ["cast", "add", "cast"]
    f = prog.main
    assert f.inputs["x"].type.dtype.name == "fp16" and f.outputs[0].type.dtype.name == "fp16"
    assert f.outputs[0].name == "out"
    x = np.ones((1, 8, 1, 4), np.float16)
    np.testing.assert_array_equal(Executor(prog)({"x": x})["out"], np.full((1, 8, 1, 4), 2, np.float16))
    assert not [d for d in mil.validate(prog, "any") if d.severity == "error"]


def test_integer_inputs_only_on_request() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("coremltools")
    emb = torch.nn.Embedding(50, 8).eval()
    ids = torch.randint(0, 50, (1, 6), dtype=torch.int32)
    prog = anekit.from_torch(emb, ids)
    io_fp16(prog)
    assert prog.main.inputs["x"].type.dtype.name == "int32"
    io_fp16(prog, integers=True)
    assert prog.main.inputs["x"].type.dtype.name == "fp16"
    (got,) = Executor(prog)({"x": ids.numpy().astype(np.float16)}).values()
    with torch.no_grad():
        np.testing.assert_allclose(got.astype(np.float32), emb(ids).numpy(), atol=2e-3)
