"""Adversarial: exceptions delivered while a pool call waits for its worker (issue #11 item 1).

The channel to a worker is one request, one reply; an interrupted wait must not leave a reply unread (every
later call would read the previous one's reply), and an interrupted compile must not break the next one.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from _pool_adversary import X, fresh, interrupt_after, want

from anekit import budget
from anekit.runtime.pool import WorkerPool


class Boom(Exception):
    """Any exception raised by a signal handler, not only KeyboardInterrupt."""


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    p = WorkerPool(per_worker=20, timeout=30.0)
    yield p
    p.close()


@pytest.mark.parametrize("exc", [KeyboardInterrupt, Boom], ids=["KeyboardInterrupt", "Exception"])
def test_an_interrupted_run_does_not_shift_later_replies(pool: WorkerPool, exc: type[BaseException]) -> None:
    p1, p2 = fresh(), fresh()
    k1, k2 = pool.compile(p1, backend="reference"), pool.compile(p2, backend="reference")
    pid = pool.active_pid()
    assert pid is not None
    worker = next(w for w in pool._workers.values() if w.pid == pid)
    # Freeze the worker so the call is certainly waiting when the signal arrives; its reply comes later.
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(exc), interrupt_after(0.3, exc):
            k1(x=X)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert worker.conn.poll(10)  # the interrupted call's reply has arrived and sits unread
    # Freeze the worker again for the next call: a caller that took the stale reply for its own would read k2's
    # outputs before the worker ran k2 (zeros); one that drains it waits for k2's own reply.
    os.kill(pid, signal.SIGSTOP)
    resume = threading.Timer(0.5, os.kill, (pid, signal.SIGCONT))
    resume.start()
    try:
        np.testing.assert_array_equal(k2(x=X)["conv_0"], want(p2))
    finally:
        resume.join()
    # Each later call gets its own result, on the same worker (the owed reply was drained, not misread).
    for _ in range(3):
        np.testing.assert_array_equal(k2(x=X)["conv_0"], want(p2))
        np.testing.assert_array_equal(k1(x=X)["conv_0"], want(p1))
    assert pool.active_pid() == pid
    assert pool.stats.worker_deaths == 0
    k1.close()
    k2.close()


def test_an_interrupted_compile_does_not_break_the_next_one(pool: WorkerPool) -> None:
    with budget.simulate(None, latency_ms=1500):
        pool.compile(fresh(), backend="reference").close()  # the worker is up
        pid = pool.active_pid()
        worker = next(w for w in pool._workers.values() if w.pid == pid)
        with pytest.raises(KeyboardInterrupt), interrupt_after(0.3):
            pool.compile(fresh(), backend="reference")
        prog = fresh()
        with pool.compile(prog, backend="reference") as k:  # read the owed reply first, then compile this one
            np.testing.assert_array_equal(k(x=X)["conv_0"], want(prog))
    assert pool.active_pid() == pid
    # The interrupted compile was spent on the worker and is accounted for: 3 compiles, not 2.
    assert worker.used == 3
    # Nothing holds the interrupted kernel: it was unloaded with the next request.
    assert len(pool._records) <= 2


def test_an_interrupt_while_a_replacement_worker_starts_leaves_no_orphan() -> None:
    with WorkerPool(per_worker=20, start_timeout=60.0) as pool:
        with pytest.raises(KeyboardInterrupt), interrupt_after(0.05):
            pool.compile(fresh(), backend="reference")  # interrupted while the first worker imports anekit
        prog = fresh()
        with pool.compile(prog, backend="reference") as k:
            np.testing.assert_array_equal(k(x=X)["conv_0"], want(prog))
        # Every live worker has a role: the active one and at most one standby.
        assert len(pool.worker_pids()) <= 2


def test_an_interrupt_while_a_reply_is_half_read_retires_the_worker(
    pool: WorkerPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mid-message the stream may be cut, so the worker cannot be trusted: it is stopped and replaced."""
    prog = fresh()
    with pool.compile(prog, backend="reference") as k:
        pid = pool.active_pid()
        worker = next(w for w in pool._workers.values() if w.pid == pid)
        real_recv = worker.conn.recv

        def cut() -> object:
            monkeypatch.setattr(worker.conn, "recv", real_recv)
            worker.conn._recv_bytes(4)  # part of the reply read, as if the interrupt landed inside recv
            raise KeyboardInterrupt

        monkeypatch.setattr(worker.conn, "recv", cut)
        with pytest.raises(KeyboardInterrupt):
            k(x=X)
        assert worker.state == "dead"
        np.testing.assert_array_equal(k(x=X)["conv_0"], want(prog))  # recompiled on a fresh worker
        assert pool.active_pid() != pid
