"""Helpers shared by tests in several directories (importable as ``_helpers``: pytest puts ``tests/`` on
``sys.path`` when it loads ``tests/conftest.py``)."""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections.abc import Callable

import numpy as np

from anekit import mil
from anekit.reference import run as reference_run


def run_in_threads(work: Callable[[int], object], count: int, *, timeout: float | None = None) -> list[BaseException]:
    """Run ``work(0)`` ... ``work(count - 1)`` on ``count`` threads at once and wait for all of them.

    Args:
        work: the per-thread body, called with the thread's index.
        count: how many threads to start.
        timeout: seconds to wait for each thread (None = as long as it takes).

    Returns:
        The exceptions the threads raised, for the test to assert on (an exception in a thread would otherwise
        only be printed, and the test would pass).
    """
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            work(index)
        except BaseException as exc:  # handed back to the test, with every other thread's
            errors.append(exc)

    # Each thread runs in a copy of the caller's context, as work handed to a thread pool by the caller would:
    # context-scoped settings (an open anekit.testing.fake_ane() block) apply to it too.
    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(guarded, i)) for i in range(count)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return errors


# Seeds of fresh_conv_program: one counter for every test module, so two modules never build the same program
# (the content cache would then serve one module's compile to the other).
_conv_seeds = itertools.count(30_000)


def fresh_conv_program(c: int = 4, s: int = 8) -> mil.Program:
    """A tiny weight-bearing program (a c x c 1x1 conv on ``[1, c, 1, s]`` fp16) never built before in this process."""
    w = np.random.default_rng(next(_conv_seeds)).standard_normal((c, c, 1, 1)).astype(np.float16)

    @mil.program(inputs={"x": mil.tensor((1, c, 1, s), "fp16")}, opset="ios18")
    def prog(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.conv(x=x, weight=w, pad_type="valid")

    return prog


def reference_output(prog: mil.Program, x: np.ndarray) -> np.ndarray:
    """The single output of ``prog`` on ``x`` by the reference executor, as float32."""
    (y,) = reference_run(prog, {"x": x}).values()
    return y.astype(np.float32)
