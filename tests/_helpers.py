"""Helpers shared by tests in several directories (importable as ``_helpers``: pytest puts ``tests/`` on
``sys.path`` when it loads ``tests/conftest.py``)."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable


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
