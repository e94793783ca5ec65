"""The fake framework's evaluation modes, compile budget and configuration (csrc/fake_ane), driven through
the real Objective-C++ backend."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

import numpy as np
import pytest
from _ane_samples import SHAPE, identity_mil, surface, two_io_mil

from _helpers import run_in_threads
from anekit import CompileError, _core

pytestmark = pytest.mark.objc


def _ramp(shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    return (np.arange(int(np.prod(shape)), dtype=np.float32) - 8.0).reshape(shape)


class Recorder:
    """A reference evaluator computing ``y = relu(x) * 2`` per input and recording what it saw."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, bytes], list[str], list[str]]] = []

    def __call__(
        self,
        mil_text: str,
        weights: Mapping[str, memoryview],
        inputs: Mapping[str, memoryview],
        outputs: Mapping[str, memoryview],
    ) -> None:
        self.calls.append((mil_text, {k: bytes(v) for k, v in weights.items()}, list(inputs), list(outputs)))
        for (_, src), (_, dst) in zip(inputs.items(), outputs.items(), strict=False):
            x = np.frombuffer(src, dtype=np.float16)
            y = np.frombuffer(dst, dtype=np.float16)
            y[:] = np.maximum(x, 0) * 2


def test_reference_mode_runs_the_registered_evaluator(fake: ModuleType) -> None:
    recorder = Recorder()
    fake.set_fake_evaluator(recorder)
    fake.fake_configure(mode="reference")
    blob = b"\x07" * 128
    x, y = surface(_ramp()), surface()
    with fake.compile(identity_mil(tag="ref"), {"@model_path/weights/w.bin": blob}) as model:
        model.evaluate([x], [y])
    np.testing.assert_array_equal(y.read(), np.maximum(_ramp(), 0) * 2)
    assert len(recorder.calls) == 1
    mil_text, weights, input_names, output_names = recorder.calls[0]
    assert mil_text == identity_mil(tag="ref")
    assert weights == {"@model_path/weights/w.bin": blob}
    assert (input_names, output_names) == (["x"], ["y"])


def test_reference_mode_names_multiple_io_in_order(fake: ModuleType) -> None:
    recorder = Recorder()
    fake.set_fake_evaluator(recorder)
    fake.fake_configure(mode="reference")
    ins = [surface(shape=(1, 4, 1, 8)), surface(shape=(1, 2, 1, 8))]
    outs = [surface(shape=(1, 4, 1, 8)), surface(shape=(1, 2, 1, 8))]
    with fake.compile(two_io_mil()) as model:
        model.evaluate(ins, outs)
    assert recorder.calls[0][2:] == (["a", "b"], ["ya", "yb"])


def test_weights_are_baked_at_compile_time(fake: ModuleType) -> None:
    recorder = Recorder()
    fake.set_fake_evaluator(recorder)
    fake.fake_configure(mode="reference")
    with fake.compile(identity_mil(tag="baked"), {"@model_path/weights/w.bin": b"\x01" * 8}) as model:
        with open(f"{model.model_dir}/weights/w.bin", "wb") as f:  # rewritten after compile (§20.1)
            f.write(b"\x02" * 8)
        model.unload()
        model.load()
        model.evaluate([surface()], [surface()])
    assert recorder.calls[0][1] == {"@model_path/weights/w.bin": b"\x01" * 8}


@pytest.mark.parametrize("error", [ZeroDivisionError, KeyboardInterrupt, SystemExit])
def test_evaluator_exceptions_stay_themselves(fake: ModuleType, error: type[BaseException]) -> None:
    # The fake reports the callback's failure as an NSError; the binding raises the callback's own exception
    # instead, so `except KeyboardInterrupt` and `except SystemExit` work (issue #11 item 14).
    def broken(*_: object) -> None:
        raise error("reference executor exploded")

    fake.set_fake_evaluator(broken)
    fake.fake_configure(mode="reference")
    with fake.compile(identity_mil()) as model:
        with pytest.raises(error, match="reference executor exploded") as info:
            model.evaluate([surface()], [surface()])
        assert type(info.value) is error
        fake.set_fake_evaluator(lambda _t, _w, i, o: o["y"].cast("B").__setitem__(slice(None), i["x"].cast("B")))
        model.evaluate([surface()], [surface()])


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, ZeroDivisionError])
def test_compile_checker_exceptions_stay_themselves(fake: ModuleType, error: type[BaseException]) -> None:
    def broken(*_: object) -> None:
        raise error("checker interrupted")

    fake.set_fake_compile_checker(broken)
    with pytest.raises(error, match="checker interrupted"):
        fake.compile(identity_mil(tag="interrupted"))


def test_reference_mode_without_evaluator_fails_loudly(fake: ModuleType) -> None:
    fake.fake_configure(mode="reference")
    with (
        fake.compile(identity_mil()) as model,
        pytest.raises(fake.FrameworkError, match="no evaluator is registered"),
    ):
        model.evaluate([surface()], [surface()])


def test_set_fake_evaluator_rejects_non_callables(fake: ModuleType) -> None:
    with pytest.raises(TypeError, match="callable"):
        fake.set_fake_evaluator(42)


def test_compile_checker_sees_every_program_and_can_reject(fake: ModuleType) -> None:
    seen: list[tuple[str, dict[str, bytes]]] = []

    def checker(mil_text: str, weights: Mapping[str, memoryview]) -> None:
        seen.append((mil_text, {k: bytes(v) for k, v in weights.items()}))
        if "REJECT" in mil_text:
            raise ValueError("unsupported op 'frobnicate'")

    fake.set_fake_compile_checker(checker)
    fake.compile(identity_mil(tag="ok"), {"@model_path/weights/w.bin": b"\x09" * 4}).close()
    assert seen == [(identity_mil(tag="ok"), {"@model_path/weights/w.bin": b"\x09" * 4})]
    with pytest.raises(CompileError, match=r"InvalidMILProgram \(fake\): .*unsupported op 'frobnicate'"):
        fake.compile(identity_mil(tag="REJECT"))
    fake.set_fake_compile_checker(None)
    fake.compile(identity_mil(tag="REJECT")).close()


def test_anekit_mil_parse_accepts_the_samples(fake: ModuleType) -> None:
    """The fake enforces MIL that anekit.mil.parse accepts once the parser is registered as the checker."""
    from anekit import mil

    fake.set_fake_compile_checker(lambda text, weights: mil.parse(text, {k: bytes(v) for k, v in weights.items()}))
    fake.compile(identity_mil(tag="parsed")).close()
    fake.compile(two_io_mil()).close()
    broken = identity_mil(tag="broken").replace("relu(x = x)", "relu(x = undefined_var)")
    with pytest.raises(CompileError, match="InvalidMILProgram"):
        fake.compile(broken)


def test_loud_budget_refuses_compiles_and_free_does_not_refund(fake: ModuleType) -> None:
    fake.fake_configure(compile_budget=2)
    fake.compile(identity_mil(tag="b1")).close()
    fake.compile(identity_mil(tag="b2")).close()
    with pytest.raises(CompileError, match="compile budget of 2 exhausted") as info:
        fake.compile(identity_mil(tag="b3"))
    assert info.value.code == -1
    stats = fake.fake_stats()
    assert stats["budgetUsed"] == 2
    assert stats["compileAttempts"] == 3


def test_silent_budget_compiles_but_outputs_zeros(fake: ModuleType) -> None:
    fake.fake_configure(compile_budget=0, budget_end="silent")
    x, y = surface(_ramp()), surface(np.ones(SHAPE, dtype=np.float32))
    with fake.compile(identity_mil(tag="silent")) as model:
        model.evaluate([x], [y])
    assert not y.read().any(), "silent failure: success, then zeros (docs/internals/ane-private-api.md §16.1)"


def test_compile_counter_counts_attempts(fake: ModuleType) -> None:
    before = _core.compile_count()
    with pytest.raises(CompileError):
        fake.compile(identity_mil(tag="FAKE_ANE_FAIL_COMPILE"))
    fake.compile(identity_mil(tag="counted")).close()
    assert _core.compile_count() == before + 2, "every attempt that reaches the framework counts (§16.2)"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "fast"}, "mode must be"),
        ({"budget_end": "maybe"}, "budgetEnd must be"),
        ({"faults": {"explode"}}, "unknown fault 'explode'"),
    ],
)
def test_bad_configuration_is_rejected(fake: ModuleType, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fake.fake_configure(**kwargs)


def test_reference_mode_from_many_threads(fake: ModuleType) -> None:
    """Evaluations release the GIL; the evaluator re-acquires it (no deadlock, right numbers)."""
    fake.set_fake_evaluator(Recorder())
    fake.fake_configure(mode="reference")

    def worker(index: int) -> None:
        x = surface(_ramp() + index)
        y = surface()
        with fake.compile(identity_mil(tag=f"thr{index}")) as model:
            for _ in range(50):
                model.evaluate([x], [y])
                np.testing.assert_array_equal(y.read(), np.maximum(_ramp() + index, 0) * 2)

    errors = run_in_threads(worker, 4, timeout=120)
    assert not errors, errors
    assert fake.fake_stats()["evals"] == 200
