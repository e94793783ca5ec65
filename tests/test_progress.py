"""anekit.progress: silent for short work and when nobody watches; a status line otherwise."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator

import pytest

from anekit import config
from anekit.progress import enabled, progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_when_not_a_terminal() -> None:
    out = io.StringIO()
    with config.override(progress=None):
        assert not enabled(out)
        before = threading.active_count()
        with progress("working", stream=out, show_after=0):
            assert threading.active_count() == before  # off: no thread at all
            time.sleep(0.05)
    assert out.getvalue() == ""


def test_on_for_a_terminal_after_the_delay_and_ends_with_the_time() -> None:
    out = _Tty()
    with config.override(progress=None):
        assert enabled(out)
        with progress("compiling main (3 ops) on ane", stream=out, show_after=0):
            time.sleep(0.05)
    text = out.getvalue()
    assert text.startswith("\rcompiling main (3 ops) on ane … ")
    assert text.endswith(" s\n") and ": done in " in text


def test_short_work_shows_nothing() -> None:
    out = _Tty()
    with config.override(progress=True), progress("quick", stream=out, show_after=5):
        pass
    assert out.getvalue() == ""


def test_env_switch_overrides_the_terminal_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANEKIT_PROGRESS", "0")
    assert config.from_env().progress is False
    with config.override(progress=False):
        assert not enabled(_Tty())
    monkeypatch.setenv("ANEKIT_PROGRESS", "1")
    assert config.from_env().progress is True
    with config.override(progress=True):
        assert enabled(io.StringIO())
    monkeypatch.setenv("ANEKIT_PROGRESS", "sometimes")
    with pytest.raises(ValueError, match="ANEKIT_PROGRESS"):
        config.from_env()


def test_failure_is_reported_and_propagates() -> None:
    out = _Tty()

    def slow_failure() -> None:
        with progress("loading", stream=out, show_after=0):
            time.sleep(0.05)
            raise KeyError("x")

    with config.override(progress=True), pytest.raises(KeyError):
        slow_failure()
    assert ": failed after " in out.getvalue()


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="label"), progress(3):  # type: ignore[arg-type]
        pass
    with pytest.raises(ValueError, match="show_after"), progress("x", show_after=-1):
        pass


def test_a_slow_compile_shows_progress(capsys: pytest.CaptureFixture[str]) -> None:
    import anekit
    from anekit import mil

    @mil.program(inputs={"x": mil.tensor((1, 4, 1, 8), "fp16")})
    def prog(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.relu(x=x)

    # The reference backend sleeps this long per compile (the knob the budget benchmarks use).
    with config.override(progress=True, simulate_compile_latency_ms=1300):
        anekit.compile(prog, backend="reference", cache=False).close()
    err = capsys.readouterr().err
    assert "\rcompiling main (1 op) on reference … " in err
    assert ": done in 1." in err


def test_big_reference_runs_report_progress_small_ones_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    import numpy as np

    import anekit
    from anekit import mil
    from anekit.runtime import reference

    labels: list[str] = []

    @contextlib.contextmanager
    def record(label: str) -> Iterator[None]:
        labels.append(label)
        yield

    monkeypatch.setattr(reference, "progress", record)

    def chain(n: int) -> mil.Program:
        @mil.program(inputs={"x": mil.tensor((1, 4, 1, 8), "fp16")})
        def prog(mb: mil.Builder, x: mil.Var) -> mil.Var:
            for _ in range(n):
                x = mb.relu(x=x)
            return x

        return prog

    # A relu costs one FLOP per element (32 here): the threshold is set between the two programs.
    monkeypatch.setattr(reference, "PROGRESS_MIN_FLOPS", 32 * 10)
    x = np.ones((1, 4, 1, 8), np.float32)
    for n in (3, 10):
        with anekit.compile(chain(n), backend="reference", cache=False) as k:
            k(x)
    assert labels == ["reference run of main (10 ops, 320 FLOP)"]
