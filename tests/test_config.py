"""anekit.config: environment parsing, validation and override()."""

from __future__ import annotations

import pytest

from anekit import config


def test_defaults() -> None:
    cfg = config.from_env({})
    assert cfg.compile_limit == 119
    assert cfg.backend is None
    assert cfg.ane_framework == config.DEFAULT_FRAMEWORK_PATH
    assert not cfg.assert_no_compile
    assert not cfg.pool_spread


def test_environment_is_parsed() -> None:
    cfg = config.from_env(
        {
            "ANEKIT_BACKEND": "reference",
            "ANEKIT_COMPILE_LIMIT": "50",
            "ANEKIT_SIMULATE_COMPILE_LIMIT": "3",
            "ANEKIT_SIMULATE_COMPILE_FAILURE": "silent",
            "ANEKIT_ASSERT_NO_COMPILE": "1",
            "ANEKIT_ANE_FRAMEWORK": "/tmp/fake.so",
            "ANEKIT_POOL_SPREAD": "1",
        }
    )
    assert (cfg.backend, cfg.compile_limit, cfg.simulate_compile_limit) == ("reference", 50, 3)
    assert cfg.simulate_compile_failure == "silent"
    assert cfg.assert_no_compile
    assert cfg.ane_framework == "/tmp/fake.so"
    assert cfg.pool_spread is True
    assert config.from_env({"ANEKIT_POOL_SPREAD": "off"}).pool_spread is False
    assert config.from_env({}).reference_blas_threads == 1
    assert config.from_env({"ANEKIT_REFERENCE_BLAS_THREADS": "0"}).reference_blas_threads == 0


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"ANEKIT_COMPILE_LIMIT": "lots"}, "ANEKIT_COMPILE_LIMIT must be an integer"),
        ({"ANEKIT_BACKEND": "gpu"}, "backend must be one of"),
        ({"ANEKIT_SIMULATE_COMPILE_FAILURE": "maybe"}, "simulate_compile_failure"),
        ({"ANEKIT_ASSERT_NO_COMPILE": "perhaps"}, "ANEKIT_ASSERT_NO_COMPILE"),
        ({"ANEKIT_POOL_SPREAD": "2"}, "ANEKIT_POOL_SPREAD must be 0/1/true/false"),
        ({"ANEKIT_REFERENCE_BLAS_THREADS": "-1"}, "reference_blas_threads must be an int >= 0"),
    ],
)
def test_bad_environment_values_are_named(env: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        config.from_env(env)


def test_override_is_scoped_and_validated() -> None:
    before = config.get()
    with config.override(compile_limit=7) as cfg:
        assert cfg.compile_limit == 7
        assert config.get().compile_limit == 7
    assert config.get() == before
    with pytest.raises(TypeError, match="unknown configuration field"), config.override(compile_limt=7):
        pass
    with pytest.raises(ValueError, match="compile_limit must be a positive int"), config.override(compile_limit=0):
        pass
    with pytest.raises(ValueError, match="pool_spread must be a bool, got 'yes'"), config.override(pool_spread="yes"):
        pass
    with config.override(pool_spread=True):
        assert config.get().pool_spread
    assert config.get() == before


def test_a_zero_compile_limit_from_the_environment_is_an_error() -> None:
    with pytest.raises(ValueError, match="compile_limit must be a positive int, got 0"):
        config.from_env({"ANEKIT_COMPILE_LIMIT": "0"})
