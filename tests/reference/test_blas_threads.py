"""anekit.reference.blas_threads: the reference executor runs with ANEKIT_REFERENCE_BLAS_THREADS OpenBLAS threads
(default 1) and gives the process's count back afterwards, also when several threads run kernels at once."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from anekit import config, mil, reference
from anekit.reference import blas_threads
from anekit.reference.executor import Executor

pytestmark = pytest.mark.skipif(
    not blas_threads.controllable(), reason="numpy here does not use an OpenBLAS whose threads can be set"
)


@pytest.fixture
def four_threads() -> object:
    """OpenBLAS at 4 threads during the test (more than the limit, whatever the machine's core count)."""
    before = blas_threads.get_threads()
    assert before is not None
    blas_threads.set_threads(4)
    yield
    blas_threads.set_threads(before)


def _program() -> mil.Program:
    mb = mil.Builder("ios17")
    x = mb.input("x", mil.tensor((1, 8, 1, 32), "fp16"))
    w = np.ones((8, 8, 1, 1), np.float16)
    return mb.build(mb.conv(x=x, weight=w))


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """Record OpenBLAS's thread count at every op the executor runs."""
    seen: list[int | None] = []
    execute = Executor._execute

    def spying(self: Executor, step: object, env: dict) -> None:
        seen.append(blas_threads.get_threads())
        execute(self, step, env)

    monkeypatch.setattr(Executor, "_execute", spying)
    return seen


def test_the_executor_runs_with_one_blas_thread_and_restores_the_count(
    four_threads: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _spy(monkeypatch)
    out = reference.run(_program(), {"x": np.ones((1, 8, 1, 32), np.float16)})
    assert np.all(next(iter(out.values())) == 8)
    assert seen and set(seen) == {1}
    assert blas_threads.get_threads() == 4


def test_the_setting_is_honoured_and_zero_leaves_blas_alone(
    four_threads: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _spy(monkeypatch)
    x = {"x": np.ones((1, 8, 1, 32), np.float16)}
    with config.override(reference_blas_threads=2):
        reference.run(_program(), x)
    with config.override(reference_blas_threads=0):
        reference.run(_program(), x)
    assert seen == [2, 4]
    assert blas_threads.get_threads() == 4


def test_overlapping_limits_restore_the_count_when_the_last_one_ends(four_threads: object) -> None:
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with blas_threads.limit(1):
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    assert inside.wait(10)
    with blas_threads.limit(1):
        assert blas_threads.get_threads() == 1
    assert blas_threads.get_threads() == 1  # the worker's block is still open
    release.set()
    worker.join(10)
    assert blas_threads.get_threads() == 4


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="count must be an int >= 0"), blas_threads.limit(-1):
        pass
    with pytest.raises(ValueError, match="count must be a positive int"):
        blas_threads.set_threads(0)
