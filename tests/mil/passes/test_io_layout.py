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


@mil.program(inputs={"x": mil.tensor([1, 160], "fp16")}, opset="ios17")
def cancelling_model(mb, x):
    # reshape at the input, transpose at the output that the [1, C, 1, S] conversion undoes
    r = mb.relu(x=mb.reshape(x=x, shape=[8, 2, 10]))
    return mb.transpose(x=r, perm=[1, 2, 0], name="y")


@mil.program(inputs={"x": mil.tensor([1, 160], "fp16")}, opset="ios17")
def permuting_model(mb, x):
    r = mb.relu(x=mb.reshape(x=x, shape=[2, 8, 10]))
    return mb.transpose(x=r, perm=[0, 2, 1], name="y")


@mil.program(inputs={"x": mil.tensor([1, 64], "fp16")}, opset="ios17")
def reshaping_model(mb, x):
    return mb.reshape(x=mb.relu(x=x), shape=[1, 4, 16], name="y")


@pytest.mark.parametrize(
    ("prog", "axis", "before", "after"),
    [
        # input: their reshape reads the new input directly; output: ours undoes their transpose, neither is left
        (cancelling_model, -1, ["reshape", "relu", "transpose"], ["reshape", "relu", "reshape"]),
        # output: one transpose (theirs with ours composed into its perm), not two
        (permuting_model, -1, ["reshape", "relu", "transpose"], ["reshape", "relu", "transpose", "reshape"]),
        # output: their reshape goes straight to [1, C, 1, S] (channels first: no transpose at all)
        (reshaping_model, 1, ["relu", "reshape"], ["reshape", "relu", "reshape"]),
    ],
    ids=["input-reshape-and-cancelled-output-transpose", "output-transpose-composed", "output-reshape"],
)
def test_boundary_reshapes_and_transposes_fold(prog: mil.Program, axis: int, before: list, after: list) -> None:
    x = RNG.standard_normal(prog.main.inputs["x"].type.shape).astype(np.float16)
    (want,) = Executor(prog)({"x": x}).values()
    assert _ops(prog) == before
    io_layout(prog, channel_axis=axis)
    assert _ops(prog) == after
    f = prog.main
    assert f.outputs[0].name == "y" and f.outputs[0].type.shape == _to_ane(want, axis % want.ndim).shape
    assert not [d for d in mil.validate(prog, "any", verbose=True) if d.severity != "info" or d.rule == "dead-op"]
    (got,) = Executor(prog)({"x": _to_ane(x, axis % x.ndim)}).values()
    np.testing.assert_array_equal(got, _to_ane(want, axis % want.ndim))


def test_shared_boundary_ops_are_not_folded() -> None:
    # An output transpose whose result something else reads too must stay; the conversion gets its own.
    @mil.program(inputs={"x": mil.tensor([1, 160], "fp16")}, opset="ios17")
    def shared(mb, x):
        t = mb.transpose(x=mb.reshape(x=x, shape=[8, 2, 10]), perm=[1, 2, 0], name="t")
        return t, mb.relu(x=t, name="z")

    x = RNG.standard_normal((1, 160)).astype(np.float16)
    want = Executor(shared)({"x": x})
    io_layout(shared)
    assert _ops(shared).count("transpose") == 3  # theirs, plus one conversion per output
    got = Executor(shared)({"x": _to_ane(x, 1)})
    for name in ("t", "z"):
        np.testing.assert_array_equal(got[name], _to_ane(want[name], 2))


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
