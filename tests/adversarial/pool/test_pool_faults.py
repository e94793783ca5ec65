"""Adversarial: workers killed (SIGKILL), stopped (SIGSTOP) and crashing, with leak accounting: descriptors,
child processes and shared-memory segments must come back to where they were (issue #11 item 10)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from _pool_adversary import X, child_pids, fresh, open_fds, shm_segments, wait_until, want

from anekit.runtime.pool import WorkerPool


@pytest.mark.parametrize("kills", [5, pytest.param(50, marks=pytest.mark.slow)])
def test_killing_the_active_worker_repeatedly_leaks_no_descriptor(kills: int) -> None:
    prog = fresh()
    with WorkerPool(per_worker=20) as pool, pool.compile(prog, backend="reference") as k:
        np.testing.assert_array_equal(k(x=X)["conv_0"], want(prog))
        assert wait_until(lambda: len(pool.worker_pids()) == 2)  # the standby is up: steady state
        fds, kids = open_fds(), child_pids()
        for i in range(kills):
            pid = pool.active_pid()
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            # Let it die before the call, so the pool finds it dead (the path that leaked), not dying mid-request.
            assert wait_until(lambda: pid not in child_pids())  # noqa: B023
            np.testing.assert_array_equal(k(x=X)["conv_0"], want(prog), err_msg=f"after kill {i}")
        assert pool.stats.worker_deaths == kills
        assert wait_until(lambda: len(pool.worker_pids()) == 2)
        # One socket per live worker, as before: the dead workers' sockets were closed when they were found dead.
        assert open_fds() - fds <= 0, f"{open_fds() - fds} descriptors leaked over {kills} kills"
        assert len(child_pids()) <= len(kids)


def test_a_stopped_worker_times_out_and_is_replaced() -> None:
    prog = fresh()
    with WorkerPool(per_worker=20, timeout=1.0) as pool, pool.compile(prog, backend="reference") as k:
        k(x=X)
        pid = pool.active_pid()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # alive but never answers: only a timeout can tell
        t0 = time.perf_counter()
        np.testing.assert_array_equal(k(x=X)["conv_0"], want(prog))
        assert time.perf_counter() - t0 < 15  # one timeout, a replacement, one retry; not a hang
        assert pool.stats.worker_deaths == 1
        assert "did not answer 'run' within 1 s" in pool.stats.last_failure
        assert pid not in pool.worker_pids()
        assert wait_until(lambda: pid not in child_pids())  # killed and reaped, not left stopped


def test_every_fault_leaves_nothing_behind_after_close() -> None:
    """Kills, stops and a killed standby in one pool: after close no worker, segment or descriptor remains."""
    fds, kids, segments = open_fds(), child_pids(), shm_segments()
    pool = WorkerPool(per_worker=4, timeout=1.0, spread=True)
    progs = [fresh() for _ in range(7)]
    kernels = [pool.compile(p, backend="reference") for p in progs[:2]]
    os.kill(pool.active_pid() or 0, signal.SIGKILL)
    kernels += [pool.compile(p, backend="reference") for p in progs[2:4]]  # recycles past per_worker=4
    os.kill(pool.active_pid() or 0, signal.SIGSTOP)
    kernels += [pool.compile(p, backend="reference") for p in progs[4:]]
    standby = [pid for pid in pool.worker_pids() if pid != pool.active_pid()]
    for pid in standby:
        os.kill(pid, signal.SIGKILL)
    for k, p in zip(kernels, progs, strict=True):
        np.testing.assert_array_equal(k(x=X)["conv_0"], want(p))
    kernels[0].close()
    pool.close()
    for k in kernels[1:]:
        k.close()
    assert wait_until(lambda: child_pids() <= kids), "worker processes outlived the pool"
    assert shm_segments() <= segments, "shared-memory segments outlived the pool"
    assert open_fds() <= fds, "descriptors outlived the pool"
