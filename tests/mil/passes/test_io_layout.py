"""anekit.mil.passes.io_layout: I/O declared [1, C, 1, S], converted inside, same numbers; leading transposes fold."""

from __future__ import annotations

import numpy as np
import pytest

import anekit
from anekit import mil
from anekit.errors import MILError
from anekit.mil.passes import io_fp16, io_layout
from anekit.reference import Executor

RNG = np.random.default_rng(3)


def _ops(prog: mil.Program) -> list[str]:
    return [op.op_type for op in prog.main.operations if op.op_type != "const"]


def _to_ane(x: np.ndarray, axis: int) -> np.ndarray:
    perm = [axis, *(i for i in range(x.ndim) if i != axis)]
    moved = x.transpose(perm)
    return moved.reshape(1, moved.shape[0], 1, -1)


@mil.program(inputs={"x": mil.tensor([2, 5, 8], "fp16")}, opset="ios17")
def sequence_model(mb, x):
    return mb.relu(x=x, name="y")


@mil.program(inputs={"x": mil.tensor([1, 3, 4, 4], "fp16")}, opset="ios17")
def image_model(mb, x):
    return mb.sigmoid(x=x, name="y")


@mil.program(inputs={"x": mil.tensor([2, 5, 8], "fp16")}, opset="ios17")
def transposing_model(mb, x):
    t = mb.transpose(x=x, perm=[2, 0, 1])
    return mb.relu(x=t, name="y")


@pytest.mark.parametrize(
    ("prog", "axis", "expected_ops"),
    [
        (sequence_model, -1, ["reshape", "transpose", "relu", "transpose", "reshape"]),
        (image_model, 1, ["reshape", "sigmoid", "reshape"]),  # channels first: reshapes only
        (transposing_model, -1, ["reshape", "transpose", "relu", "transpose", "reshape"]),  # ours folded into theirs
    ],
    ids=["channels-last", "channels-first", "folded"],
)
def test_layout_changes_io_and_keeps_results(prog: mil.Program, axis: int, expected_ops: list[str]) -> None:
    shape = prog.main.inputs["x"].type.shape
    x = RNG.standard_normal(shape).astype(np.float16)
    want = next(iter(Executor(prog)({"x": x}).values()))
    before = {d.rule for d in mil.validate(prog, "ane", verbose=True)}
    io_layout(prog, channel_axis=axis)
    f = prog.main
    assert _ops(prog) == expected_ops
    assert f.inputs["x"].type.shape == _to_ane(x, axis % x.ndim).shape
    assert f.outputs[0].name == "y"
    after = {d.rule for d in mil.validate(prog, "ane", verbose=True)}  # verbose: the layout note is an info
    assert "ane-io-layout" in before and "ane-io-layout" not in after
    assert not [d for d in mil.validate(prog, "any") if d.severity == "error"]
    (got,) = Executor(prog)({"x": _to_ane(x, axis % x.ndim)}).values()
    np.testing.assert_array_equal(got, _to_ane(want, axis % want.ndim))


def test_dynamic_shapes_and_bad_axes_are_named() -> None:
    @mil.program(inputs={"x": mil.tensor([1, None, 8], "fp16")}, opset="ios17")
    def flexible(mb, x):
        return mb.relu(x=x)

    with pytest.raises(MILError, match="pin its shape"):
        io_layout(flexible)
    @mil.program(inputs={"x": mil.tensor([2, 8], "fp16")}, opset="ios17")
    def plain(mb, x):
        return mb.relu(x=x)

    with pytest.raises(MILError, match="has no axis 5"):
        io_layout(plain, channel_axis=5)


def test_converted_transformer_runs_in_ane_layout_on_the_fake(fake_ane_ref: object) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("coremltools")
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True).eval()
    x = torch.randn(1, 10, 32)
    prog = io_layout(io_fp16(anekit.from_torch(layer, x)))
    assert prog.main.inputs["x"].type.shape == (1, 32, 1, 10)
    assert not [d for d in mil.validate(prog, "ane") if d.rule in ("ane-io-layout", "ane-io-dtype")]
    x4 = _to_ane(x.numpy(), 2).astype(np.float16)
    with anekit.compile(prog, backend="ane") as kernel:
        (got,) = kernel(x=x4).values()
    with torch.no_grad():
        want = _to_ane(layer(x).numpy(), 2)
    assert np.abs(np.asarray(got, np.float32).reshape(want.shape) - want).max() < 1e-2
