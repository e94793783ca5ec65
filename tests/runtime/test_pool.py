"""The recycling worker pool: Kernel API through shared memory, recycling with prewarming, handles that
survive it, worker death (kill -9) and silent-failure recovery, the working set (refused by default past one
worker's budget, spread over workers on request), the recycle policy, and no leaks."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _fake_modes import FAKE_MODES

import anekit
from _helpers import fresh_conv_program as fresh
from _helpers import reference_output
from anekit import budget, config, mil
from anekit.reference import run as reference_run
from anekit.runtime.pool import PoolClosedError, WorkerError, WorkerPool, WorkingSetTooLarge, close_default_pool
from anekit.runtime.shm import SharedSurface

X = np.random.default_rng(7).standard_normal((1, 4, 1, 8))


def want(prog: mil.Program, x: np.ndarray = X) -> np.ndarray:
    return reference_output(prog, x)


def check(kernel: anekit.Kernel, prog: mil.Program) -> None:
    np.testing.assert_array_equal(kernel(x=X)["conv_0"], want(prog))


def alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        return "zombie" not in status.read_text()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def segment_exists(name: str) -> bool:
    """Whether a POSIX shared-memory segment exists (portable: macOS has no /dev/shm)."""
    import _posixshmem

    try:
        fd = _posixshmem.shm_open("/" + name, os.O_RDONLY, mode=0o600)
    except FileNotFoundError:
        return False
    os.close(fd)
    return True


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    p = WorkerPool(per_worker=4)
    yield p
    p.close()


@pytest.fixture
def spread_pool() -> Iterator[WorkerPool]:
    p = WorkerPool(per_worker=4, spread=True)
    yield p
    p.close()


def test_pool_kernel_keeps_the_kernel_api(pool: WorkerPool, two_io: mil.Program) -> None:
    prog = fresh()
    with pool.compile(prog, backend="reference") as k:
        assert isinstance(k, anekit.Kernel)
        assert isinstance(k.inputs["x"], SharedSurface)
        check(k, prog)
    with pool.compile(two_io, backend="reference") as k:
        with k.inputs["a"].view() as a:
            a[...] = 2
        k.inputs["b"].write(np.arange(16, dtype=np.float32))  # broadcast over channels
        assert k.run() is None
        add, mul = (s.read() for s in k.outputs.values())
        np.testing.assert_array_equal(add[0, 5, 0], 2 + np.arange(16))
        np.testing.assert_array_equal(mul[0, 5, 0], 2 * np.arange(16))
        with pytest.raises(ValueError, match=r"\(1, 8, 1, 16\).*\(3, 3\)"):
            k(a=np.zeros((3, 3)), b=0)
        with pytest.raises(anekit.AneUnavailableError, match="realtime"):
            k.run(path="realtime")
    with pytest.raises(RuntimeError, match="closed"):
        k.run()


def test_handles_survive_recycling_and_long_lived_kernels_are_prewarmed(pool: WorkerPool) -> None:
    keep = fresh()
    k = pool.compile(keep, backend="reference")
    surface = k.inputs["x"]
    for _ in range(14):
        prog = fresh()
        with pool.compile(prog, backend="reference") as other:
            check(other, prog)
        check(k, keep)
    stats = pool.snapshot()
    assert stats.recycles >= 3
    assert stats.prewarm_compiles >= 1
    assert k.inputs["x"] is surface
    assert stats.live_workers <= pool.max_workers
    k.close()


def test_identical_programs_are_served_without_compiling(pool: WorkerPool) -> None:
    prog = fresh()
    pool.compile(prog, backend="reference").close()
    compiles = pool.stats.compiles
    with config.override(assert_no_compile=True):
        with pool.compile(mil.parse(prog.to_mil(), weights=prog.weights()), backend="reference") as k:
            check(k, prog)
        with pytest.raises(budget.UnexpectedCompileError):
            pool.compile(fresh(), backend="reference")
    assert pool.stats.compiles == compiles
    assert pool.stats.cache_hits == 1


def test_kill_9_is_survived_with_correct_results(pool: WorkerPool) -> None:
    prog = fresh()
    k = pool.compile(prog, backend="reference")
    check(k, prog)
    pid = pool.active_pid()
    assert pid is not None
    assert pid in pool.worker_pids()
    os.kill(pid, signal.SIGKILL)
    check(k, prog)  # the run fails on the dead worker, the kernel is recompiled on a new one, retried once
    assert pool.stats.worker_deaths == 1
    assert pool.stats.retries == 1
    assert pid not in pool.worker_pids()
    assert not alive(pid)
    k.close()


def test_kill_9_during_a_compile_is_retried() -> None:
    with budget.simulate(None, latency_ms=1500), WorkerPool(per_worker=10) as pool:
        pool.compile(fresh(), backend="reference").close()  # the worker is up
        pid = pool.active_pid()
        killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
        killer.start()
        prog = fresh()
        t0 = time.perf_counter()
        with pool.compile(prog, backend="reference") as k:
            check(k, prog)
        killer.join()
        assert pool.stats.worker_deaths == 1
        assert time.perf_counter() - t0 < 30


def test_a_stuck_worker_times_out_with_a_clear_error() -> None:
    with budget.simulate(None, latency_ms=2500), WorkerPool(timeout=1.0) as pool:
        t0 = time.perf_counter()
        with pytest.raises(WorkerError, match=r"failed on two workers in a row.*did not answer 'compile' within 1 s"):
            pool.compile(fresh(), backend="reference")
        assert time.perf_counter() - t0 < 20
        assert pool.stats.worker_deaths == 2


def test_silent_compile_failures_are_detected_and_the_limit_learned() -> None:
    with budget.simulate(3, failure="silent"), WorkerPool(per_worker=10) as pool:
        for _ in range(8):
            prog = fresh()
            with pool.compile(prog, backend="reference") as k:
                check(k, prog)
        assert pool.stats.silent_failures >= 1
        assert pool.per_worker == 3


def test_loud_failures_past_the_real_limit_are_recycled() -> None:
    with budget.simulate(3), WorkerPool(per_worker=10) as pool:
        for _ in range(8):
            prog = fresh()
            with pool.compile(prog, backend="reference") as k:
                check(k, prog)
        assert pool.stats.exhausted_workers >= 1
        assert pool.per_worker <= 3


def test_a_worker_crashing_mid_compile_is_retired_and_the_limit_learned() -> None:
    """The crash end of the budget (libane: SIGSEGV after the silent failures, docs/internals/ane-private-api.md
    §16.1)."""
    with budget.simulate(3, failure="crash"), WorkerPool(per_worker=10) as pool:
        for _ in range(8):
            prog = fresh()
            with pool.compile(prog, backend="reference") as k:
                check(k, prog)
        assert pool.stats.worker_deaths >= 1
        assert "SIGSEGV" in pool.stats.last_failure
        assert pool.per_worker == 3  # learned from the first crash: later workers are recycled before it
        assert pool.stats.exhausted_workers == 1


def test_a_killed_worker_teaches_no_limit() -> None:
    """A worker killed from outside during a compile is replaced, but that is not the budget's end."""
    with budget.simulate(None, latency_ms=1500), WorkerPool(per_worker=10) as pool:
        pool.compile(fresh(), backend="reference").close()
        pid = pool.active_pid()
        killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
        killer.start()
        pool.compile(fresh(), backend="reference").close()
        killer.join()
        assert pool.stats.worker_deaths == 1
        assert pool.per_worker == 10


def test_genuine_errors_are_raised_not_retried(pool: WorkerPool) -> None:
    with pytest.raises(TypeError, match="unknown compile option"):
        pool.compile(fresh(), backend="reference", turbo=True)
    assert pool.stats.worker_deaths == 0


def _state(pool: WorkerPool) -> tuple[object, ...]:
    """Everything a refused compile must leave as it was: handles, records, compiles spent, workers, segments."""
    refs = {rid: rec.refs for rid, rec in pool._records.items()}
    spent = {w.pid: w.used for w in pool._workers.values()}
    return refs, pool.stats.compiles, budget.used(), spent, pool.working_set(), _shm_names()


def test_default_refuses_a_working_set_past_one_workers_budget_before_compiling() -> None:
    budget.set_limit(5)
    budget.set_safety_margin(1)
    try:
        with budget.simulate(5), WorkerPool() as pool:  # per_worker = limit 5 - margin 1 = 4
            assert (pool.per_worker, pool.spread) == (4, False)
            progs = [fresh() for _ in range(4)]
            kernels = [pool.compile(p, backend="reference") for p in progs]
            assert pool.working_set() == 4
            before = _state(pool)
            message = (
                r"compiling 'main' would make 5 kernels in use \(4 open kernels .* plus this new one\).*"
                r"per_worker=4 programs \(compile limit 5 - safety margin 1\); nothing was compiled\. "
                r"Close kernels .* weights as inputs .*ane-private-api\.md §20\.2.*max_workers=4 .*"
                r"WorkerPool\(spread=True\) or ANEKIT_POOL_SPREAD=1"
            )
            with pytest.raises(WorkingSetTooLarge, match=message):
                pool.compile(fresh(), backend="reference")
            assert _state(pool) == before
            for k, p in zip(kernels, progs, strict=True):
                check(k, p)
            kernels.pop().close()  # back under the limit: the next compile works
            progs.pop()
            assert pool.working_set() == 3
            prog = fresh()
            with pool.compile(prog, backend="reference") as k:
                check(k, prog)
                assert pool.working_set() == 4
            for k, p in zip(kernels, progs, strict=True):
                check(k, p)
                k.close()
            assert pool.working_set() == 0
    finally:
        budget.set_safety_margin(None)
        budget.set_limit(None)


def test_kernels_not_run_for_a_generation_leave_the_working_set(pool: WorkerPool) -> None:
    idle_progs = [fresh() for _ in range(3)]
    idle = [pool.compile(p, backend="reference") for p in idle_progs]
    assert pool.working_set() == 3
    churn = 0
    while pool.working_set() > 0:  # compile-and-close until two generations have passed without running them
        churn += 1
        assert churn <= 3 * pool.per_worker, "generations did not advance"
        with pool.compile(fresh(), backend="reference") as k:
            assert pool.working_set() in (4, 1)  # the new kernel counts; the idle three until they age out
            k(x=X)
    progs = [fresh() for _ in range(4)]
    kernels = [pool.compile(p, backend="reference") for p in progs]  # seven open handles, four in use
    with pytest.raises(WorkingSetTooLarge, match=r"would make 5 kernels in use \(4 open kernels"):
        pool.compile(fresh(), backend="reference")
    for k, p in zip(idle, idle_progs, strict=True):
        check(k, p)  # still valid (runs are never refused), and in use again
    assert pool.working_set() == 7
    for k in kernels + idle:
        k.close()


def test_default_stops_old_workers_rather_than_refusing_a_fitting_working_set() -> None:
    """With max_workers=2 no draining worker can stay: a long-lived kernel moves along (recompiled)."""
    with WorkerPool(per_worker=3, max_workers=2) as pool:
        keep = fresh()
        held = pool.compile(keep, backend="reference")
        for _ in range(10):
            prog = fresh()
            with pool.compile(prog, backend="reference") as k:
                check(k, prog)
            check(held, keep)
        assert pool.stats.recycles >= 3
        assert pool.stats.recompiles >= 1  # the held kernel's old worker was stopped while it was in use
        assert len(pool.worker_pids()) <= 2
        held.close()


def test_spread_runs_twice_one_workers_budget_and_raises_only_past_max_workers() -> None:
    with WorkerPool(per_worker=3, max_workers=3, spread=True) as pool:
        kernels: list[tuple[anekit.Kernel, mil.Program]] = []

        def keep_compiling() -> None:
            for _ in range(4 * pool.per_worker):
                prog = fresh()
                kernels.append((pool.compile(prog, backend="reference"), prog))
                for k, p in reversed(kernels):  # every kernel in use stays right
                    check(k, p)

        with pytest.raises(WorkingSetTooLarge, match=r"kernels in use .*each may compile 3 .*max_workers is 3"):
            keep_compiling()
        assert 2 * pool.per_worker <= len(kernels) <= pool.max_workers * pool.per_worker
        assert len(pool.worker_pids()) == pool.max_workers
        for k, p in kernels:
            check(k, p)
            k.close()


def test_spread_is_read_from_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not WorkerPool().spread
    with config.override(pool_spread=True):
        assert WorkerPool().spread
        assert not WorkerPool(spread=False).spread
        close_default_pool()
        try:
            from anekit.runtime.pool import default_pool

            assert default_pool().spread
        finally:
            close_default_pool()
    monkeypatch.setenv("ANEKIT_POOL_SPREAD", "1")
    try:
        config.reload_from_env()
        assert WorkerPool().spread
    finally:
        monkeypatch.delenv("ANEKIT_POOL_SPREAD")
        config.reload_from_env()
    with pytest.raises(ValueError, match="spread must be a bool or None"):
        WorkerPool(spread=1)  # type: ignore[arg-type]


def _shm_names() -> set[str]:
    shm = Path("/dev/shm")
    return {p.name for p in shm.iterdir() if p.name.startswith(f"anekit-{os.getpid()}-")} if shm.is_dir() else set()


def test_nothing_leaks_after_close() -> None:
    before = _shm_names()  # other pools of this process (e.g. the default one) may hold segments
    pool = WorkerPool(per_worker=3, spread=True)  # seven kernels in use: spread over three workers
    kernels = [pool.compile(fresh(), backend="reference") for _ in range(7)]  # left open on purpose
    names = [s.name for k in kernels for s in (*k.inputs.values(), *k.outputs.values())]
    pids = pool.worker_pids()
    assert pids
    assert all(segment_exists(n) for n in names)
    pool.close()
    assert not any(alive(pid) for pid in pids)
    assert not any(segment_exists(n) for n in names)
    assert not (_shm_names() - before)  # Linux: nothing this pool created is left in /dev/shm
    with pytest.raises(PoolClosedError, match="pool is closed"):  # anekit's own error, not a bare RuntimeError
        kernels[0](x=X)
    for k in kernels:
        k.close()


def test_workers_are_exec_started_not_forked(pool: WorkerPool) -> None:
    pool.compile(fresh(), backend="reference").close()
    pid = pool.active_pid()
    assert pid is not None
    command = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=True)
    assert "-m anekit.runtime.worker" in command.stdout  # a fresh interpreter (fork+exec), not a bare fork


def test_recycle_policy_routes_anekit_compile_to_the_pool() -> None:
    prog = fresh()
    try:
        with budget.policy("recycle"), anekit.compile(prog, backend="reference") as k:
            assert isinstance(k.inputs["x"], SharedSurface)
            check(k, prog)
    finally:
        close_default_pool()


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="per_worker must be an int >= 1"):
        WorkerPool(per_worker=0)
    with pytest.raises(ValueError, match="max_workers must be an int >= 2"):
        WorkerPool(max_workers=1)
    with WorkerPool() as pool, pytest.raises(TypeError, match=r"expected an anekit\.mil\.Program"):
        pool.compile("program")  # type: ignore[arg-type]


@pytest.mark.slow
def test_1000_distinct_compiles_at_limit_119_under_recycle() -> None:
    """The issue's acceptance test: 0 failures and correct outputs, workers failing loudly past 119 compiles."""
    budget.set_limit(119)
    try:
        with budget.simulate(119), budget.policy("recycle"):
            keep = fresh()
            held = anekit.compile(keep, backend="reference")
            for i in range(1000):
                prog = fresh()
                with anekit.compile(prog, backend="reference") as k:
                    np.testing.assert_array_equal(k(x=X)["conv_0"], want(prog), err_msg=f"compile {i}")
                if i % 100 == 0:
                    check(held, keep)
            check(held, keep)
            from anekit.runtime.pool import default_pool

            stats = default_pool().snapshot()
            held.close()
        assert stats.compiles == 1001
        assert stats.recycles >= 8
        assert stats.exhausted_workers == stats.silent_failures == stats.worker_deaths == 0
    finally:
        close_default_pool()
        budget.set_limit(None)


def test_pool_through_the_fake_framework_with_a_silent_budget() -> None:
    """Workers compile through the Objective-C++ path against the fake's injected silent budget of 3."""
    from anekit.errors import AneUnavailableError

    try:
        from anekit.testing import fake_ane, fake_framework_path

        fake_framework_path()
    except (ImportError, AneUnavailableError) as exc:
        pytest.skip(f"the fake ANE framework is not available in this build: {exc}")
    context = ("anekit.testing", "fake_ane", {"compile_budget": 3, "budget_end": "silent"})
    with fake_ane(), WorkerPool(per_worker=10, worker_context=context) as pool:
        for _ in range(8):
            prog = fresh()
            with pool.compile(prog, backend="ane") as k:
                assert k.backend == "ane"
                check(k, prog)
        assert pool.stats.silent_failures >= 1
        assert pool.per_worker == 3


def test_kernels_with_non_float_io_run_through_the_pool(pool: WorkerPool) -> None:
    @mil.program(inputs={"i": mil.tensor((1, 4, 1, 8), "int32")}, opset="ios18")
    def cast(mb: mil.Builder, i: mil.Var) -> mil.Var:
        return mb.cast(x=i, dtype="fp16")

    with pool.compile(cast, backend="reference") as k:
        assert k.inputs == {}  # int32 cannot live in a surface: arrays cross the pipe instead
        (y,) = k(i=np.arange(32).reshape(1, 4, 1, 8)).values()
    np.testing.assert_array_equal(y, np.arange(32, dtype=np.float32).reshape(1, 4, 1, 8))


def test_threads_share_a_pool_safely(spread_pool: WorkerPool) -> None:
    pool = spread_pool
    progs = [fresh() for _ in range(6)]
    kernels = [pool.compile(p, backend="reference") for p in progs]  # spans a recycle at 4 per worker
    errors: list[BaseException] = []

    def work(k: anekit.Kernel, p: mil.Program) -> None:
        try:
            for _ in range(10):
                check(k, p)
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=kp) for kp in zip(kernels, progs, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k in kernels:
        k.close()


def test_reused_segments_are_not_reachable_through_stale_handles(pool: WorkerPool) -> None:
    first, second = fresh(), fresh()
    k1 = pool.compile(first, backend="reference")
    stale = k1.inputs["x"]
    names = {stale.name, k1.outputs["conv_0"].name}
    k1.close()
    with pool.compile(second, backend="reference") as k2:
        assert k2.inputs["x"].name in names  # a segment was recycled, not recreated
        k2.inputs["x"].write(X)
        stale.write(np.full((1, 4, 1, 8), 99.0))  # lands in the stale handle's private copy only
        k2.run()
        np.testing.assert_array_equal(k2.outputs["conv_0"].read(), want(second))
    np.testing.assert_array_equal(stale.read(), np.full((1, 4, 1, 8), 99.0, np.float32))


def test_pool_surfaces_take_every_surface_input_form(pool: WorkerPool, two_io: mil.Program) -> None:
    # The same forms as anekit.Surface.write: exact, (C, S), and what broadcasts to either, e.g. (C, 1) (one
    # value per channel), which does not broadcast to [1, C, 1, S] itself.
    c, s = 8, 16
    per_channel = np.arange(c, dtype=np.float32).reshape(c, 1)
    channel_grid = np.broadcast_to(per_channel.reshape(1, c, 1, 1), (1, c, 1, s))
    cs = np.arange(c * s, dtype=np.float32).reshape(c, s) / 64
    forms = {  # form -> (value, what the surface must hold)
        "exact": (np.full((1, c, 1, s), 3.0), np.full((1, c, 1, s), 3.0)),
        "(C, S)": (cs, cs.reshape(1, c, 1, s)),
        "(C, 1)": (per_channel, channel_grid),
        "(S,)": (np.arange(s, dtype=np.float32), np.broadcast_to(np.arange(s, dtype=np.float32), (1, c, 1, s))),
        "scalar": (2.5, np.full((1, c, 1, s), 2.5)),
        "big-endian (C, 1)": (per_channel.astype(">f4"), channel_grid),
    }
    surface = pool.compile(two_io, backend="reference")
    with surface as k:
        for form, (value, held) in forms.items():
            k.inputs["a"].write(value)
            np.testing.assert_array_equal(k.inputs["a"].read(), held, err_msg=form)
            k.inputs["b"].write(1.0)
            k.run()
            np.testing.assert_array_equal(next(iter(k.outputs.values())).read(), held + 1, err_msg=form)
            results = k(a=value, b=1.0)  # the call path takes the same forms
            np.testing.assert_array_equal(next(iter(results.values())), held + 1, err_msg=form)
        with pytest.raises(ValueError, match=r"\(1, 8, 1, 16\), \(8, 16\) or a shape that broadcasts to either"):
            k.inputs["a"].write(np.zeros((3, 1)))


@pytest.mark.parametrize("mode", list(FAKE_MODES))
def test_pool_workers_bind_right_under_every_fake_mode(mode: str, out_of_order: mil.Program) -> None:
    """Workers compile through the Objective-C++ path against the fake in each binding and surface mode."""
    from anekit.errors import AneUnavailableError

    try:
        from anekit.testing import fake_ane, fake_framework_path

        fake_framework_path()
    except (ImportError, AneUnavailableError) as exc:
        pytest.skip(f"the fake ANE framework is not available in this build: {exc}")
    settings = {"mode": "reference", **FAKE_MODES[mode]}
    rng = np.random.default_rng(3)
    given = {name: rng.standard_normal((1, 8, 1, 16)).astype(np.float16) for name in ("zeta", "Alpha", "mid")}
    want_all = reference_run(out_of_order, given)
    context = ("anekit.testing", "fake_ane", settings)
    with fake_ane(**settings), WorkerPool(per_worker=4, worker_context=context) as p, p.compile(
        out_of_order, backend="ane"
    ) as k:
        got = k(**given)
        again = k(zeta=given["zeta"], Alpha=given["Alpha"], mid=given["mid"][0, :, 0, :1])  # (C, 1): per channel
    assert list(got) == ["q", "k", "v"]
    for name in ("q", "k", "v"):
        np.testing.assert_array_equal(got[name], want_all[name].astype(np.float32), err_msg=name)
    per_channel = dict(given, mid=np.broadcast_to(given["mid"][:, :, :, :1], (1, 8, 1, 16)))
    np.testing.assert_array_equal(again["k"], reference_run(out_of_order, per_channel)["k"].astype(np.float32))
