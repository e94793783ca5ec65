"""Compile, load, evaluate, unload and close through the Objective-C++ backend (csrc/ane/ane_model.mm),
against the fake framework in echo mode (output i = input i)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from _ane_samples import SHAPE, identity_mil, surface, two_io_mil

from anekit import CompileError

pytestmark = pytest.mark.objc


def _ramp(shape: tuple[int, ...] = SHAPE, start: float = 0.0) -> np.ndarray:
    return (np.arange(int(np.prod(shape)), dtype=np.float32) * 0.25 + start).reshape(shape)


def test_surfaces_are_iosurface_backed(fake: ModuleType) -> None:
    assert surface().storage == "iosurface"


@pytest.mark.parametrize("path", ["standard", "realtime", "process_request", "direct"])
def test_echo_round_trip_on_every_path(fake: ModuleType, path: str) -> None:
    x = surface(_ramp())
    y = surface()
    with fake.compile(identity_mil()) as model:
        assert model.loaded
        assert model.state() == 3  # loaded (docs/internals/ane-private-api.md §4.1)
        assert model.evaluate([x], [y], path) is None
        np.testing.assert_array_equal(y.read(), _ramp())
    key = {
        "standard": "evalsStandard",
        "realtime": "evalsRealTime",
        "process_request": "evalsProcessRequest",
        "direct": "evalsDirect",
    }[path]
    stats = fake.fake_stats()
    assert stats[key] == 1
    assert stats["evals"] == 1


def test_inputs_and_outputs_are_wired_in_signature_order(fake: ModuleType) -> None:
    a = surface(_ramp((1, 4, 1, 8), 1.0), (1, 4, 1, 8))
    b = surface(_ramp((1, 2, 1, 8), 100.0), (1, 2, 1, 8))
    ya = surface(shape=(1, 4, 1, 8))
    yb = surface(shape=(1, 2, 1, 8))
    with fake.compile(two_io_mil()) as model:
        model.evaluate([a, b], [ya, yb])
    np.testing.assert_array_equal(ya.read(), _ramp((1, 4, 1, 8), 1.0))
    np.testing.assert_array_equal(yb.read(), _ramp((1, 2, 1, 8), 100.0))


def test_request_is_reused_for_the_same_surfaces(fake: ModuleType, live: Callable[[], dict[str, int]]) -> None:
    x, y = surface(_ramp()), surface()
    with fake.compile(identity_mil()) as model:
        for _ in range(5):
            model.evaluate([x], [y])
        assert live()["liveRequests"] == 1
        other = surface()
        model.evaluate([x], [other])
        assert live()["liveRequests"] == 2
    assert live()["liveRequests"] == 0


def test_model_directory_holds_the_files_and_is_removed(fake: ModuleType) -> None:
    blob = bytes(range(256)) * 2
    model = fake.compile(identity_mil(tag="w"), {"@model_path/weights/weight.bin": blob})
    directory = Path(model.model_dir)
    assert directory.parent == Path(fake.runtime_info()["model_root"])
    assert directory.name == model.hex_identifier
    assert (directory / "model.mil").read_text() == identity_mil(tag="w")
    assert (directory / "weights" / "weight.bin").read_bytes() == blob
    model.close()
    assert model.closed
    assert not directory.exists()
    model.close()  # idempotent


def test_weights_change_the_identifier(fake: ModuleType) -> None:
    with (
        fake.compile(identity_mil(tag="w"), {"@model_path/weights/w.bin": b"\x01" * 64}) as a,
        fake.compile(identity_mil(tag="w"), {"@model_path/weights/w.bin": b"\x02" * 64}) as b,
    ):
        assert a.hex_identifier != b.hex_identifier


def test_identical_programs_share_a_directory_until_the_last_closes(fake: ModuleType) -> None:
    a = fake.compile(identity_mil(tag="twin"))
    b = fake.compile(identity_mil(tag="twin"))
    assert a.model_dir == b.model_dir
    a.close()
    assert Path(b.model_dir, "model.mil").exists()
    x, y = surface(_ramp()), surface()
    b.evaluate([x], [y])
    b.close()
    assert not Path(b.model_dir).exists()


def test_weights_accept_bytes_like_objects(fake: ModuleType) -> None:
    arr = np.arange(16, dtype=np.float16)
    with fake.compile(
        identity_mil(tag="bl"),
        {"@model_path/weights/a.bin": bytearray(b"ab"), "@model_path/weights/b.bin": arr},
    ) as model:
        assert Path(model.model_dir, "weights", "b.bin").read_bytes() == arr.tobytes()


@pytest.mark.parametrize(
    ("weights", "error", "match"),
    [
        ({"weights/w.bin": b"x"}, ValueError, "@model_path/"),
        ({"@model_path/../escape.bin": b"x"}, ValueError, "inside the model directory"),
        ({"@model_path/w.bin": "text"}, TypeError, "bytes-like"),
        ({"@model_path/w.bin": np.ones((4, 4))[:, ::2]}, TypeError, "C-contiguous"),
        ([("@model_path/w.bin", b"x")], TypeError, "dict"),
    ],
)
def test_bad_weights_are_rejected(fake: ModuleType, weights: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        fake.compile(identity_mil(), weights)
    assert fake.fake_stats()["compileAttempts"] == 0


def test_compile_failure_carries_domain_and_code(fake: ModuleType, live: Callable[[], dict[str, int]]) -> None:
    with pytest.raises(CompileError, match="ANECCompile\\(\\) FAILED") as info:
        fake.compile(identity_mil(tag="FAKE_ANE_FAIL_COMPILE"))
    err = info.value
    assert isinstance(err, fake.CompileError)
    assert isinstance(err, fake.FrameworkError)
    assert err.domain == "com.apple.appleneuralengine"
    assert err.code == -1
    assert "ANECCompile() FAILED" in err.description
    assert str(err).startswith("[ane::compile] compileWithQoS:options:error: failed")
    assert live()["liveModels"] == 0


def test_invalid_mil_is_a_compile_error(fake: ModuleType) -> None:
    with pytest.raises(CompileError, match="InvalidMILProgram"):
        fake.compile("program(1.0)\n{\n}\n")
    with pytest.raises(ValueError, match="mil_text is empty"):
        fake.compile("")


def test_load_failure_is_a_compile_error_and_cleans_up(fake: ModuleType, live: Callable[[], dict[str, int]]) -> None:
    text = identity_mil(tag="FAKE_ANE_FAIL_LOAD")
    with pytest.raises(CompileError, match="loadWithQoS:options:error:"):
        fake.compile(text)
    # Other processes may use the same root, so look for this program's directory only (§8.3: removed on
    # compile or load failure).
    root = Path(fake.runtime_info()["model_root"])
    leftovers = [d for d in root.iterdir() if (d / "model.mil").is_file() and (d / "model.mil").read_text() == text]
    assert leftovers == []
    assert live()["liveModels"] == 0


def test_nsexception_becomes_framework_error(fake: ModuleType) -> None:
    with pytest.raises(fake.FrameworkError, match="NSInvalidArgumentException") as info:
        fake.compile(identity_mil(tag="FAKE_ANE_RAISE"))
    assert not isinstance(info.value, CompileError)
    assert info.value.domain == "NSInvalidArgumentException"
    assert info.value.code == 0


def test_surface_size_mismatch_fails_loudly(fake: ModuleType) -> None:
    with fake.compile(identity_mil()) as model:
        with pytest.raises(fake.FrameworkError, match="needs at least 64 bytes, the surface has 32") as info:
            model.evaluate([surface(shape=(1, 2, 1, 8))], [surface()])
        assert info.value.code == -8
        with pytest.raises(fake.FrameworkError, match="program declares 1"):
            model.evaluate([surface(), surface()], [surface()])


def test_evaluate_argument_checks(fake: ModuleType) -> None:
    with fake.compile(identity_mil()) as model:
        with pytest.raises(TypeError, match=r"input 0 must be an anekit\.Surface"):
            model.evaluate([b"x"], [surface()])
        with pytest.raises(ValueError, match="unknown execution path 'fast'"):
            model.evaluate([surface()], [surface()], "fast")
        with pytest.raises(ValueError, match="at least one input and one output"):
            model.evaluate([surface()], [])


def test_unload_load_cycle(fake: ModuleType) -> None:
    x, y = surface(_ramp()), surface()
    with fake.compile(identity_mil()) as model:
        model.unload()
        assert not model.loaded
        with pytest.raises(RuntimeError, match="not loaded"):
            model.evaluate([x], [y])
        model.load()
        model.evaluate([x], [y])
        np.testing.assert_array_equal(y.read(), _ramp())
        stats = fake.fake_stats()
        assert (stats["loads"], stats["unloads"], stats["compiles"]) == (2, 1, 1)
    with pytest.raises(RuntimeError, match="closed"):
        model.evaluate([x], [y])


def test_injected_evaluate_and_unload_faults(fake: ModuleType, live: Callable[[], dict[str, int]]) -> None:
    x, y = surface(_ramp()), surface()
    model = fake.compile(identity_mil())
    fake.fake_configure(faults={"evaluate"})
    with pytest.raises(fake.FrameworkError, match="Program Inference error") as info:
        model.evaluate([x], [y])
    assert info.value.code == 8
    fake.fake_configure(faults={"evaluate_exception"})
    with pytest.raises(fake.FrameworkError, match="NSInternalInconsistencyException"):
        model.evaluate([x], [y])
    fake.fake_configure(faults={"unload"})
    with pytest.raises(fake.FrameworkError, match="unloadWithQoS:error:"):
        model.close()
    assert model.closed, "close releases everything even when unload fails"
    assert live()["liveModels"] == 0
    assert not Path(model.model_dir).exists()


def test_unavailable_path_names_the_missing_selector(fake: ModuleType) -> None:
    fake.fake_configure(disabled_selectors={"evaluateRealTimeWithModel:options:request:error:"})
    assert "realtime" not in fake.runtime_info()["execution_paths"]
    with fake.compile(identity_mil()) as model:
        with pytest.raises(fake.UnavailableError, match="evaluateRealTimeWithModel:options:request:error:"):
            model.evaluate([surface()], [surface()], "realtime")
        model.evaluate([surface()], [surface()], "direct")


def test_perf_stats(fake: ModuleType) -> None:
    x, y = surface(_ramp()), surface()
    with fake.compile(identity_mil(), perf_stats=True) as model:
        assert model.evaluate([x], [y]) is None, "no hardware time unless the framework reports one (§18)"
        fake.fake_configure(perf_stats_ns=4321)
        assert model.evaluate([x], [y]) == 4321
    with fake.compile(identity_mil(tag="np")) as model:
        assert model.evaluate([x], [y]) is None, "perf_stats=False passes no stats object"


def test_qos_is_passed_through(fake: ModuleType) -> None:
    x, y = surface(_ramp()), surface()
    with fake.compile(identity_mil(), qos=0) as model:
        model.evaluate([x], [y], "standard", 0)
    np.testing.assert_array_equal(y.read(), _ramp())


def test_repr(fake: ModuleType) -> None:
    model = fake.compile(identity_mil())
    assert model.hex_identifier in repr(model)
    model.close()
    assert "closed" in repr(model)
