"""anekit.testing.fake_ane: the real Objective-C++ backend driven against the bundled fake framework."""

from __future__ import annotations

import numpy as np
import pytest

import anekit
from anekit import mil, testing
from anekit.errors import AneUnavailableError, CompileBudgetExceeded, CompileError, MILError
from anekit.runtime.cache import default_cache

pytestmark = pytest.mark.objc


@pytest.fixture
def two_io_program() -> mil.Program:
    """(a, b) -> (a + b, a * b) on [1, 8, 1, 16] fp16 (256 bytes each)."""

    @mil.program(inputs={"a": mil.tensor((1, 8, 1, 16), "fp16"), "b": mil.tensor((1, 8, 1, 16), "fp16")}, opset="ios18")
    def prog(mb: mil.Builder, a: mil.Var, b: mil.Var) -> tuple[mil.Var, mil.Var]:
        return mb.add(x=a, y=b), mb.mul(x=a, y=b)

    return prog


def test_reference_mode_computes_real_results(fake_ane_ref: testing.FakeAne) -> None:
    from anekit.examples import transformer_block

    program = transformer_block(64, 4, 32, seed=1)
    assert anekit.info()["ane_fake"] and anekit.info()["default_backend"] == "ane"
    with anekit.compile(program, backend="ane") as k:
        assert k.backend == "ane"
        assert k.inputs["x"].storage == "iosurface"
        x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
        got = k(x=x)["y"]
    want = anekit.reference.run(program, {"x": x.reshape(1, 64, 1, 32)})["y"]
    np.testing.assert_array_equal(got, want.astype(np.float32))
    report = anekit.verify(program, backend="ane")
    assert report.passed and report.backend == "ane"
    assert fake_ane_ref.stats()["liveModels"] >= 1  # closed kernels stay loaded in the content cache...
    assert default_cache().evict_backend("ane") >= 1  # ...until evicted, which unloads them
    assert fake_ane_ref.stats()["liveModels"] == 0


def test_leaving_the_block_evicts_fake_models() -> None:
    from anekit.doctor.programs import identity_program

    try:
        with testing.fake_ane() as fake:
            anekit.compile(identity_program(8, 32, scale=5.0), backend="ane").close()
            assert fake.stats()["liveModels"] == 1
    except AneUnavailableError as exc:
        pytest.skip(str(exc))
    assert anekit._core.ane.fake_stats()["liveModels"] == 0


def test_echo_mode_copies_inputs(fake_ane_ref: testing.FakeAne) -> None:
    from anekit.doctor.programs import identity_program

    fake_ane_ref.configure(mode="echo")
    with anekit.compile(identity_program(8, 32, scale=3.0), backend="ane") as k:
        out = k(x=np.full((8, 32), 2.0))["y"]
    assert np.all(out == 2.0)  # echo: the program's *3 is not applied


def test_faults_surface_as_python_errors(fake_ane_ref: testing.FakeAne) -> None:
    from anekit.doctor.programs import identity_program

    fake_ane_ref.configure(mode="reference", faults={"compile"})
    with pytest.raises(CompileError):
        anekit.compile(identity_program(8, 32), backend="ane")
    # Every compile failing, the canary's too, is what the end of the budget looks like: anekit learnt a limit
    # (anekit.budget.observed_limit); set_limit forgets it so the next compile reaches the framework again.
    anekit.budget.set_limit(None)
    fake_ane_ref.configure(mode="reference", faults={"evaluate"})
    with anekit.compile(identity_program(8, 32), backend="ane") as k, pytest.raises(RuntimeError):
        k(x=1.0)


def test_program_the_parser_rejects_fails_compile(fake_ane_ref: testing.FakeAne) -> None:
    program = mil.parse(
        "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [1, 4, 1, 8]> x) {\n"
        '            tensor<fp16, [1, 4, 1, 8]> y = relu(x = x)[name = string("r")];\n'
        "        } -> (y);\n}\n"
    )
    with anekit.compile(program, backend="ane") as k:
        assert np.all(k(x=-1.0)["y"] == 0)


def test_bad_configuration_is_rejected(fake_ane_ref: testing.FakeAne) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        fake_ane_ref.configure(faults={"explode"})
    with pytest.raises(ValueError, match="mode"):
        fake_ane_ref.configure(mode="fast")


def test_fake_path_reported_when_not_built() -> None:
    if anekit._core.ane.built():
        assert testing.fake_framework_path().name == "libFakeAppleNeuralEngine.so"
    else:
        with pytest.raises(AneUnavailableError, match="ANEKIT_BUILD_ANE=ON"):
            testing.fake_framework_path()


# ---- modes, environment variables, scope ----------------------------------------------------------------


def test_fake_config_reads_environment_variables_for_workers() -> None:
    env = {
        "ANEKIT_FAKE_MODE": "echo",
        "ANEKIT_FAKE_BINDING": "alphabetical",
        "ANEKIT_FAKE_SURFACES": "uniform",
        "ANEKIT_FAKE_MIN_SURFACE_BYTES": "49152",
        "ANEKIT_FAKE_BUDGET_END": "silent",
    }
    cfg = testing.FakeConfig.from_environment(env)
    assert (cfg.mode, cfg.binding, cfg.surfaces, cfg.min_surface_bytes, cfg.budget_end) == (
        "echo",
        "alphabetical",
        "uniform",
        49152,
        "silent",
    )
    assert cfg.environment() == env  # a block hands its modes to a child process the same way
    assert testing.FakeConfig.from_environment(env, binding="declaration").binding == "declaration"  # args win
    assert testing.FakeConfig.from_environment({}) == testing.FakeConfig()


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"ANEKIT_FAKE_BINDING": "random"}, "ANEKIT_FAKE_BINDING must be one of"),
        ({"ANEKIT_FAKE_MIN_SURFACE_BYTES": "-5"}, "ANEKIT_FAKE_MIN_SURFACE_BYTES must be a non-negative integer"),
        ({"ANEKIT_FAKE_BUDGET_END": "quiet"}, "ANEKIT_FAKE_BUDGET_END must be one of"),
    ],
)
def test_bad_environment_values_are_named(env: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        testing.FakeConfig.from_environment(env)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"surfaces": "padded"}, ValueError, "surfaces must be one of"),
        ({"min_surface_bytes": -1}, ValueError, "min_surface_bytes must be in 0"),
        ({"compile_budget": True}, TypeError, "compile_budget must be an int"),
        ({"faults": "load"}, TypeError, "faults must be an iterable of str"),
        ({"model_attributes": 1}, ValueError, "model_attributes must be a bool"),
    ],
)
def test_bad_fake_settings_are_rejected(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        testing.FakeConfig(**kwargs)


def test_configure_keeps_unnamed_settings(fake_ane_ref: testing.FakeAne) -> None:
    fake_ane_ref.configure(binding="alphabetical")
    fake_ane_ref.configure(surfaces="uniform")
    assert fake_ane_ref.config.binding == "alphabetical" and fake_ane_ref.config.surfaces == "uniform"
    with pytest.raises(ValueError, match="unknown setting"):
        fake_ane_ref.configure(bindings="alphabetical")


def test_environment_variables_select_the_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANEKIT_FAKE_BINDING", "alphabetical")
    monkeypatch.setenv("ANEKIT_FAKE_BUDGET_END", "silent")
    try:
        with testing.fake_ane() as fake:
            assert fake.config.binding == "alphabetical" and fake.config.budget_end == "silent"
            assert fake.config.mode == "reference"
    except AneUnavailableError as exc:
        pytest.skip(str(exc))


# ---- backend behaviour against the fake -----------------------------------------------------------------


def test_surfaces_are_uniform_and_at_least_49152_bytes(fake_ane_ref: testing.FakeAne, two_io_program) -> None:
    with anekit.compile(two_io_program, backend="ane") as k:
        sizes = {s.allocation_bytes for s in k.inputs.values()} | {s.allocation_bytes for s in k.outputs.values()}
        assert sizes == {49152}
        assert all(s.nbytes == 8 * 16 * 2 for s in k.inputs.values())


def test_surface_rule_is_configurable(fake_ane_ref: testing.FakeAne, two_io_program) -> None:
    from anekit import config

    with (
        config.override(ane_surfaces="exact", ane_min_surface_bytes=0),
        anekit.compile(two_io_program, backend="ane", cache=False) as k,
    ):
        assert {s.allocation_bytes for s in k.inputs.values()} == {256}
    with pytest.raises(ValueError, match="ane_surfaces must be"):
        config.Config(ane_surfaces="padded")


def test_program_without_inputs_is_refused_before_the_framework(fake_ane_ref: testing.FakeAne) -> None:
    program = mil.parse(
        "program(1.3)\n{\n    func main<ios18>() {\n"
        '            tensor<fp16, [1, 4, 1, 8]> y = const()[name = string("y"), val = tensor<fp16, [1, 4, 1, 8]>'
        "(BLOBFILE(path = string(\"@model_path/weights/weight.bin\"), offset = uint64(64)))];\n"
        "        } -> (y);\n}\n",
        weights={"@model_path/weights/weight.bin": _blob_of(np.ones((1, 4, 1, 8), np.float16))},
    )
    with pytest.raises(MILError, match="has no inputs; the ANE cannot evaluate a program without inputs"):
        anekit.compile(program, backend="ane")
    assert fake_ane_ref.stats()["compileAttempts"] == 0


def _blob_of(array: np.ndarray) -> bytes:
    data, _offsets = mil.write_blobs([(array, "fp16")])
    return data


def test_silent_budget_end_raises_instead_of_returning_zeros(fake_ane_ref: testing.FakeAne) -> None:
    from anekit.doctor.programs import identity_program

    fake_ane_ref.configure(compile_budget=1, budget_end="silent")
    with anekit.compile(identity_program(8, 32, scale=2.0), backend="ane", cache=False) as k:
        assert np.all(k(x=1.0)["y"] == 2.0)
    with anekit.compile(identity_program(8, 32, scale=3.0), backend="ane", cache=False) as dead:
        assert np.all(dead(x=0.0)["y"] == 0.0)  # genuinely zero for this input: nothing to report yet
        with pytest.raises(CompileBudgetExceeded, match="outputs are all zeros where the reference") as info:
            dead(x=1.0)
        assert info.value.limit >= 1
        with pytest.raises(CompileBudgetExceeded):
            dead(x=0.0)  # every later call too, even one whose zeros would look plausible


def test_hollow_load_is_a_compile_error(fake_ane_ref: testing.FakeAne) -> None:
    from anekit.doctor.programs import identity_program

    fake_ane_ref.configure(faults={"load_unloaded"})
    with pytest.raises(CompileError, match=r"programHandle 0"):
        anekit.compile(identity_program(8, 32, scale=2.0), backend="ane", cache=False)
