"""The op support matrix (through the recycling pool) and the validator warning it feeds."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import anekit
from anekit import mil, testing
from anekit.doctor import machine_key
from anekit.doctor.op_support import op_support_matrix, sample_program
from anekit.doctor.probes import ProbeResult
from anekit.doctor.report import DoctorReport
from anekit.mil.ops import OP_REGISTRY

HERE = Path(__file__).resolve().parent


def test_sample_programs_cover_most_ops_and_say_why_not_the_rest() -> None:
    built = {op: sample_program(op) for op in OP_REGISTRY}
    covered = [op for op, (program, _) in built.items() if program is not None]
    assert len(covered) >= 110, sorted(set(OP_REGISTRY) - set(covered))
    for op in ("concat", "gelu", "softmax", "layer_norm", "conv", "matmul", "rsqrt", "reduce_mean"):
        assert built[op][0] is not None, (op, built[op][1])
    assert all(why for program, why in built.values() if program is None)
    program, _ = built["gelu"]
    assert {o.op_type for o in program.functions["main"].operations} >= {"gelu"}
    with pytest.raises(ValueError, match="not a registered"):
        sample_program("nope")


@pytest.mark.objc
def test_matrix_runs_through_recycled_workers_and_reports_refused_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        testing.fake_framework_path()
    except anekit.AneUnavailableError as exc:
        pytest.skip(str(exc))
    # Workers import the helper from this folder; each may compile 4 programs, so 9 ops need several workers.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    context = ("_doctor_fakes", "rejecting_fake", {"ops": ["gelu", "concat"]})
    ops = ["add", "gelu", "relu", "concat", "softmax", "mul", "sub", "exp", "non_zero"]
    with testing.fake_ane(), anekit.config.override(compile_limit=4, compile_safety_margin=0):
        matrix = op_support_matrix(ops, worker_context=context)
    assert sorted(matrix["failed"]) == ["concat", "gelu"], matrix
    assert "unsupported op" in matrix["failed"]["gelu"]
    assert sorted(matrix["passed"]) == ["add", "exp", "mul", "relu", "softmax", "sub"]
    assert list(matrix["untested"]) == ["non_zero"]  # anekit refuses its dynamic shape before the framework
    assert matrix["workers_started"] >= 3 and matrix["recycles"] >= 2


@pytest.mark.objc
def test_an_op_that_kills_the_worker_is_a_failed_op(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        testing.fake_framework_path()
    except anekit.AneUnavailableError as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    context = ("_doctor_fakes", "rejecting_fake", {"ops": [], "crash": ["softmax"]})
    with testing.fake_ane():
        matrix = op_support_matrix(["add", "softmax", "relu"], worker_context=context)
    assert list(matrix["failed"]) == ["softmax"] and "WorkerError" in matrix["failed"]["softmax"]
    assert sorted(matrix["passed"]) == ["add", "relu"]  # the matrix goes on in a fresh worker


def _save_matrix(failed: dict[str, str], key: dict[str, str]) -> None:
    probe = ProbeResult("op_support", "q", "ok", {"passed": ["add"], "failed": failed, "untested": {}})
    DoctorReport(key, [probe], "test").save()


def _gelu_program() -> mil.Program:
    @mil.program(inputs={"x": mil.tensor((1, 64, 1, 32), "fp16")})
    def prog(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        return {"y": mb.add(x=mb.gelu(x=x), y=mb.gelu(x=x))}

    return prog


def test_validate_warns_about_an_op_that_failed_on_this_machine(cache_dir: Path) -> None:
    program = _gelu_program()
    assert not [d for d in mil.validate(program) if d.rule == "ane-op-failed-here"]  # no report: nothing
    key = machine_key(anekit.doctor.machine.current_framework_is_fake())
    _save_matrix({"gelu": "CompileError: unsupported op"}, key)
    found = [d for d in mil.validate(program) if d.rule == "ane-op-failed-here"]
    assert len(found) == 1 and found[0].severity == "warning"  # once per op type, not per use
    assert key["chip"] in found[0].message and key["os_build"] in found[0].message
    assert "gelu" in found[0].message and "unsupported op" in found[0].message
    assert not [d for d in mil.validate(program, target="any") if d.rule == "ane-op-failed-here"]


def test_validate_ignores_another_machines_report(cache_dir: Path) -> None:
    other = {"os_build": "macOS 15.0 (24A335)", "chip": "Apple M1", "framework": "AppleNeuralEngine"}
    _save_matrix({"gelu": "CompileError"}, other)
    assert not [d for d in mil.validate(_gelu_program()) if d.rule == "ane-op-failed-here"]


def test_sample_inputs_are_inside_every_ops_domain() -> None:
    from anekit.doctor.op_support import _feeds
    from anekit.reference.executor import Executor

    feeds = _feeds()
    for op in OP_REGISTRY:
        program, _ = sample_program(op)
        if program is None:
            continue
        out = Executor(program, precision="ane")({n: feeds[n] for n in program.functions["main"].inputs})["out"]
        assert np.all(np.isfinite(out)), op


@pytest.mark.objc
@pytest.mark.slow
def test_every_sample_program_passes_on_the_reference_fake() -> None:
    # The fake computes with the reference executor: a sample that fails here is a broken sample, not an op.
    try:
        testing.fake_framework_path()
    except anekit.AneUnavailableError as exc:
        pytest.skip(str(exc))
    with testing.fake_ane():
        matrix = op_support_matrix(worker_context=("anekit.testing", "fake_ane", {}))
    assert matrix["failed"] == {}
    assert len(matrix["passed"]) >= 110
    assert set(matrix["passed"]) | set(matrix["untested"]) == set(OP_REGISTRY)
