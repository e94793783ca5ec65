"""Adversarial: the ends of the compile budget met by pool workers (loud on the fake framework, a stopped
standby while switching)."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
from _pool_adversary import X, fake_budget_context, fresh, wait_until, want

from anekit.runtime.pool import WorkerPool


def test_a_loud_budget_end_on_the_fake_framework_is_recycled_and_learned() -> None:
    """Workers on the fake framework fail loudly past 3 compiles: each is retired, the limit learned, no error."""
    fake_ane, context = fake_budget_context(3, "loud")
    with fake_ane(), WorkerPool(per_worker=10, worker_context=context) as pool:
        for i in range(8):
            prog = fresh()
            with pool.compile(prog, backend="ane") as k:
                np.testing.assert_array_equal(k(x=X)["conv_0"], want(prog), err_msg=f"compile {i}")
        assert pool.stats.exhausted_workers >= 1
        assert pool.per_worker == 3


def test_a_crashing_budget_end_on_the_fake_framework_is_recycled_and_learned() -> None:
    """Workers on the fake framework die of SIGSEGV at their 4th compile (libane's report): the pool retires each,
    learns the limit from the first, and every compile still returns the right result."""
    fake_ane, context = fake_budget_context(3, "crash")
    with fake_ane(), WorkerPool(per_worker=10, worker_context=context) as pool:
        for i in range(8):
            prog = fresh()
            with pool.compile(prog, backend="ane") as k:
                np.testing.assert_array_equal(k(x=X)["conv_0"], want(prog), err_msg=f"compile {i}")
        assert pool.stats.worker_deaths == 1
        assert "SIGSEGV" in pool.stats.last_failure
        assert pool.per_worker == 3


def test_a_stopped_standby_delays_a_switch_but_never_hangs_it() -> None:
    with WorkerPool(per_worker=3, prewarm_at=1, timeout=1.0, start_timeout=3.0) as pool:
        held = fresh()
        k = pool.compile(held, backend="reference")
        k(x=X)
        assert wait_until(lambda: len(pool.worker_pids()) == 2)
        standby = next(pid for pid in pool.worker_pids() if pid != pool.active_pid())
        os.kill(standby, signal.SIGSTOP)
        t0 = time.perf_counter()
        for _ in range(4):  # past per_worker: a switch, whose prewarmed standby never answers
            prog = fresh()
            with pool.compile(prog, backend="reference") as other:
                np.testing.assert_array_equal(other(x=X)["conv_0"], want(prog))
            k(x=X)
        np.testing.assert_array_equal(k(x=X)["conv_0"], want(held))
        assert time.perf_counter() - t0 < 30
        assert standby not in pool.worker_pids()
        assert pool.stats.worker_deaths >= 1
        k.close()
