"""Helpers of the pool's adversarial tests: fresh programs, expected outputs, interrupts delivered by a real
signal while the caller waits, and leak accounting (descriptors, child processes, shared-memory segments)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from _helpers import fresh_conv_program, reference_output
from anekit import mil

X = np.random.default_rng(11).standard_normal((1, 4, 1, 8))
#: A tiny weight-bearing program never built before in this process.
fresh = fresh_conv_program


def want(prog: mil.Program, x: np.ndarray = X) -> np.ndarray:
    return reference_output(prog, x)


@contextlib.contextmanager
def interrupt_after(seconds: float, exc: Callable[[], BaseException] = KeyboardInterrupt) -> Iterator[None]:
    """Raise ``exc()`` in the main thread after ``seconds``, from a real signal (SIGALRM), as Ctrl-C would.

    A real signal interrupts the blocking wait in the kernel (``select`` returns EINTR and Python runs the
    handler), which ``_thread.interrupt_main`` does not: it only sets a flag checked between bytecodes.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise exc()

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def open_fds() -> int:
    """Descriptors open in this process (Linux /proc, macOS /dev/fd)."""
    where = "/proc/self/fd" if Path("/proc/self/fd").is_dir() else "/dev/fd"
    return len(os.listdir(where))


def child_pids() -> set[int]:
    """Live (non-zombie) child processes of this process (Linux /proc)."""
    me = os.getpid()
    kids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces, so split after the closing parenthesis.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == me and state != "Z":
            kids.add(int(entry.name))
    return kids


def shm_segments() -> set[str]:
    """This process's anekit shared-memory segments (Linux /dev/shm)."""
    shm = Path("/dev/shm")
    prefix = f"anekit-{os.getpid()}-"
    return {p.name for p in shm.iterdir() if p.name.startswith(prefix)} if shm.is_dir() else set()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` s pass; returns its last value."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def fake_budget_context(budget: int, end: str) -> tuple[Callable[..., Any], tuple[str, str, dict[str, object]]]:
    """``anekit.testing.fake_ane`` (the parent needs it to resolve the "ane" backend) and a pool
    ``worker_context`` running workers on the fake framework with a compile budget of ``budget`` that ends
    ``end`` (``"loud"``, ``"silent"`` or ``"crash"``); skips when the fake is not built or lacks that end.

    The fake names the option ``budget_end`` (older builds: ``budget_failure``); pass whichever it takes.
    """
    import inspect

    import pytest

    from anekit.errors import AneUnavailableError

    try:
        from anekit.testing import fake_ane, fake_framework_path

        fake_framework_path()
    except (ImportError, AneUnavailableError) as exc:
        pytest.skip(f"the fake ANE framework is not available in this build: {exc}")
    params = inspect.signature(fake_ane).parameters
    option = "budget_end" if "budget_end" in params else "budget_failure"
    if option == "budget_failure" and end not in ("loud", "silent"):
        pytest.skip(f"this build's fake framework has no {end!r} end of the budget (it predates budget_end)")
    return fake_ane, ("anekit.testing", "fake_ane", {"compile_budget": budget, option: end})
