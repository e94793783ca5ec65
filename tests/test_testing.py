"""anekit.testing.fake_ane: the real Objective-C++ backend driven against the bundled fake framework."""

from __future__ import annotations

import numpy as np
import pytest

import anekit
from anekit import mil, testing
from anekit.errors import AneUnavailableError, CompileError
from anekit.runtime.cache import default_cache

pytestmark = pytest.mark.objc


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
