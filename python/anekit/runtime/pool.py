"""The recycling worker pool behind ``anekit.budget.set_policy("recycle")``: unbounded compiles per program.

Kernels are compiled and run in worker processes (:mod:`anekit.runtime.worker`), each with its own compile
budget (ane-private-api.md §16.1). The parent holds ordinary :class:`~anekit.runtime.kernel.Kernel` objects
whose surfaces are shared memory (:mod:`anekit.runtime.shm`), so the API is unchanged and tensors are never
pickled. How the budget is made invisible:

* **Active, standby, draining.** New programs compile on the *active* worker. When its remaining budget drops
  to ``prewarm_at``, a *standby* worker is started in the background and the long-lived kernels in use
  (created before the current generation and run during it) are compiled there ahead of time. When the active
  worker is full, the standby takes over (a *recycle*); the old worker becomes *draining*: it compiles nothing
  more but keeps running the kernels it holds until they are closed or prewarmed elsewhere, then exits. So no
  kernel is ever compiled twice just because the budget ran out, and a switch costs no compile on the caller's
  path once the standby is warm (the double-buffered background compile of ane-private-api.md §16.3).
* **Handles stay valid.** A kernel record lists the workers holding it; a run goes to the active worker when
  it has the kernel, else to the youngest worker that has it, else the kernel is compiled on the active worker.
* **Failures.** A worker that dies (killed, crashed) or does not answer within ``timeout`` is stopped and
  replaced; the failed call is retried once, then raises :class:`WorkerError`. After each compile the worker
  runs the new kernel on probe inputs; all-zero outputs where the reference executor's are not reveal a silent
  compile failure (ane-private-api.md §11.4): the worker is retired, the per-worker budget lowered to what was
  observed, and the compile retried on a fresh worker. A compile error on a worker that has compiled before is
  checked with a known-answer canary to tell an exhausted worker from a genuinely invalid program.
* **Limits.** At most ``max_workers`` processes live at once. When a new one is needed, draining workers whose
  remaining kernels were not run in the current or the previous generation are stopped (those kernels
  recompile if used again); if every draining worker still holds kernels in use, the working set does not fit
  and :class:`WorkingSetTooLarge` names the numbers (rather than thrashing, recompiling it over and over).

Calls into the pool are serialised (one lock); the background prewarm runs concurrently with them.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import config
from ..errors import AnekitError, AneUnavailableError, CompileError, EvaluateError, MILError
from ..mil.ir import Program
from .backend import IOSpec
from .cache import CacheKey, program_key
from .kernel import DEFAULT_QOS, Kernel
from .pool_stats import PoolStats
from .procs import WorkerLost, WorkerProcess
from .shm import SharedSurface
from .signature import function_io

__all__ = ["PoolStats", "WorkerError", "WorkerPool", "WorkingSetTooLarge", "close_default_pool", "default_pool"]


class WorkerError(EvaluateError):
    """A pool worker failed twice in a row for the same call (the message says how)."""


class WorkingSetTooLarge(AnekitError, RuntimeError):
    """The kernels in use need more worker processes than ``max_workers`` allows."""


_ERRORS: dict[str, type[Exception]] = {
    "CompileError": CompileError,
    "MILError": MILError,
    "MILParseError": MILError,
    "AneUnavailableError": AneUnavailableError,
    "TypeError": TypeError,
    "ValueError": ValueError,
}


def _remote_error(reply: tuple[Any, ...], pid: int) -> Exception:
    _, _, name, message, code, domain = reply
    cls = _ERRORS.get(name, EvaluateError)
    text = f"{message} (in pool worker pid {pid})"
    if cls is CompileError:
        return CompileError(text, code=code, domain=domain)
    return cls(text) if cls is not EvaluateError else EvaluateError(f"{name}: {text}")


class _Record:
    """One compiled program as the pool knows it, shared by every handle on it."""

    __slots__ = ("backend", "function", "gen", "inputs", "key", "options", "outputs", "refs", "rid", "text")
    __slots__ += ("used_gen", "weights", "workers")

    def __init__(self, rid: int, key: CacheKey | None, program: Program, backend: str, function: str,
                 options: dict[str, Any], gen: int) -> None:  # fmt: skip
        self.rid = rid
        self.key = key
        self.inputs: list[IOSpec]
        self.outputs: list[IOSpec]
        self.inputs, self.outputs = function_io(program, function)
        self.text = program.to_mil()
        self.weights = program.weights()
        self.backend = backend
        self.function = function
        self.options = options
        self.gen = gen
        self.used_gen = gen
        self.refs = 0
        self.workers: set[int] = set()


class _PoolExecutable:
    """The Executable behind a pool-backed Kernel: forwards to the pool, owns the kernel's shared surfaces."""

    def __init__(self, pool: WorkerPool, rec: _Record) -> None:
        self._pool: WorkerPool | None = pool
        self._rec = rec
        self.inputs = rec.inputs
        self.outputs = rec.outputs
        self.surfaces: list[SharedSurface] = []

    def new_surface(self, shape: tuple[int, ...], dtype: str) -> SharedSurface:
        assert self._pool is not None  # only called while the Kernel is being built
        surface = SharedSurface(shape, dtype)
        self.surfaces.append(surface)
        self._pool._segments[surface.name] = surface
        return surface

    def _live(self) -> WorkerPool:
        if self._pool is None:
            raise RuntimeError(f"kernel {self._rec.function!r} has been closed")
        return self._pool

    def evaluate(self, inputs: Sequence[Any], outputs: Sequence[Any], *, path: str, qos: int) -> float | None:
        return self._live()._run(self._rec, inputs, outputs, path, qos)

    def evaluate_arrays(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._live()._run_arrays(self._rec, inputs)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool._release(self._rec, self.surfaces)


def _shutdown_all(
    workers: dict[int, WorkerProcess], stopping: list[WorkerProcess], segments: dict[str, SharedSurface]
) -> None:
    for worker in list(workers.values()):
        worker.request_exit()
        stopping.append(worker)
    workers.clear()
    for worker in stopping:
        worker.reap(timeout=5.0)
    stopping.clear()
    for surface in list(segments.values()):
        surface.unlink()
    segments.clear()


class WorkerPool:
    """Compile and run kernels in recycled worker processes (see the module docstring).

    Args:
        per_worker: compiles each worker may spend (default: ``anekit.budget`` limit minus safety margin).
        prewarm_at: start and prewarm the standby when the active worker has this many compiles left
            (default: half of ``per_worker``).
        max_workers: most worker processes alive at once, standby included (at least 2).
        timeout: seconds to wait for any one reply before the worker is declared stuck and replaced.
        start_timeout: seconds a new worker may take to start.
        check_compiles: run the silent-failure check after every compile (ane-private-api.md §11.4).
        keep_unused: closed kernels kept compiled (per content key) for a later identical compile.
        worker_context: ``(module, name, kwargs)`` of a context manager every worker enters for its whole life,
            e.g. ``("anekit.testing", "fake_ane", {"compile_budget": 119})`` to run workers on the fake framework.

    Raises:
        ValueError: an invalid argument.
    """

    def __init__(
        self,
        *,
        per_worker: int | None = None,
        prewarm_at: int | None = None,
        max_workers: int = 4,
        timeout: float = 120.0,
        start_timeout: float = 60.0,
        check_compiles: bool = True,
        keep_unused: int = 256,
        worker_context: tuple[str, str, dict[str, Any]] | None = None,
    ) -> None:
        from .. import budget

        if per_worker is None:
            per_worker = budget.limit() - budget.safety_margin()
        _check_int("per_worker", per_worker, 1)
        if prewarm_at is None:
            prewarm_at = max(1, per_worker // 2)
        _check_int("prewarm_at", prewarm_at, 0)
        _check_int("max_workers", max_workers, 2)
        _check_int("keep_unused", keep_unused, 0)
        if not timeout > 0 or not start_timeout > 0:
            raise ValueError(f"timeouts must be positive, got timeout={timeout!r}, start_timeout={start_timeout!r}")
        self.per_worker = per_worker
        self.prewarm_at = min(prewarm_at, per_worker - 1)
        self.max_workers = max_workers
        self.timeout = float(timeout)
        self.start_timeout = float(start_timeout)
        self.check_compiles = bool(check_compiles)
        self.keep_unused = keep_unused
        if worker_context is not None and not (
            isinstance(worker_context, tuple)
            and len(worker_context) == 3
            and all(isinstance(x, str) for x in worker_context[:2])
            and isinstance(worker_context[2], dict)
        ):
            raise ValueError(f"WorkerPool: worker_context must be (module, name, kwargs), got {worker_context!r}")
        self.worker_context = worker_context
        self._lock = threading.RLock()
        self._workers: dict[int, WorkerProcess] = {}
        self._stopping: list[WorkerProcess] = []  # asked to exit, not yet reaped
        self._segments: dict[str, SharedSurface] = {}
        self._records: dict[int, _Record] = {}
        self._by_key: dict[CacheKey, _Record] = {}
        self._unused: OrderedDict[int, _Record] = OrderedDict()
        self._active: WorkerProcess | None = None
        self._standby: WorkerProcess | None = None
        self._prewarm: threading.Thread | None = None
        self._prewarmed: list[int] = []
        self._gen = 0
        self._ids = itertools.count(1)
        self._closed = False
        self.stats = PoolStats(per_worker=per_worker)
        self._finalizer = weakref.finalize(self, _shutdown_all, self._workers, self._stopping, self._segments)

    # -- public API ------------------------------------------------------------------------------------------

    def compile(
        self,
        program: Program,
        *,
        backend: str | None = None,
        function: str = "main",
        path: str = "standard",
        qos: int = DEFAULT_QOS,
        cache: bool = True,
        **options: Any,
    ) -> Kernel:
        """Compile ``program`` in a worker and return a Kernel handle (same arguments as :func:`anekit.compile`).

        Raises:
            TypeError: ``program`` is not a Program.
            CompileError: the program does not compile (checked on a healthy worker).
            UnexpectedCompileError: a real compile while ``ANEKIT_ASSERT_NO_COMPILE`` is on.
            WorkingSetTooLarge: no worker can be started without stopping kernels in use.
            WorkerError: workers failed twice in a row.
        """
        from .. import budget
        from .compile import resolve_backend

        if not isinstance(program, Program):
            raise TypeError(f"WorkerPool.compile: expected an anekit.mil.Program, got {type(program).__name__}")
        chosen = resolve_backend(backend)
        opts = {"qos": qos, "path": path, **options}
        key = program_key(program, chosen.name, function, opts) if cache else None
        with self._lock:
            self._check_open()
            rec = self._by_key.get(key) if key is not None else None
            if rec is None:
                if config.get().assert_no_compile:
                    budget.check_compile(f"function {function!r} in the worker pool")
                rec = _Record(next(self._ids), key, program, chosen.name, function, opts, self._gen)
                self._place(rec)
                self._records[rec.rid] = rec
                if key is not None:
                    self._by_key[key] = rec
            else:
                self.stats.cache_hits += 1
                self._unused.pop(rec.rid, None)
            rec.refs += 1
        exe = _PoolExecutable(self, rec)
        try:
            kernel = Kernel(exe, backend=chosen.name, paths=chosen.paths, path=path, qos=qos, name=function,
                            surface_factory=exe.new_surface)  # fmt: skip
        except BaseException:
            exe.close()
            raise
        return kernel

    def close(self) -> None:
        """Stop every worker and unlink every shared-memory segment (idempotent); handles stop working."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            standby = self._standby
        if standby is not None:
            standby.kill()  # ends a prewarm in progress
        if self._prewarm is not None:
            self._prewarm.join()
        with self._lock:
            self._finalizer()
            self._records.clear()
            self._by_key.clear()
            self._unused.clear()
            self._active = self._standby = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (oldest first)."""
        with self._lock:
            return [w.pid for w in self._workers.values() if w.alive]

    def snapshot(self) -> PoolStats:
        """A copy of the counters, with the current number of live workers."""
        with self._lock:
            return dataclasses.replace(self.stats, live_workers=len(self.worker_pids()), stalls=list(self.stats.stalls))

    # -- compile placement -----------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the worker pool is closed")

    def _compile_on(self, worker: WorkerProcess, rec: _Record) -> tuple[Any, ...]:
        reply = worker.request(
            "compile", rec.rid, rec.text, rec.weights, rec.function, rec.backend, rec.options,
            self.check_compiles, timeout=self.timeout,
        )  # fmt: skip
        worker.used = int(reply[1])
        return reply

    def _place(self, rec: _Record) -> WorkerProcess:
        """Compile ``rec`` on the active worker (switching workers when needed); retried once on failure."""
        failure = ""
        for _attempt in range(2):
            worker = self._active_with_room()
            before = worker.used
            try:
                reply = self._compile_on(worker, rec)
            except WorkerLost as lost:
                self._lost(worker, lost)
                failure = str(lost)
                continue
            self.stats.compiles += 1
            if reply[0] == "ok":
                rec.workers.add(worker.wid)
                self._maybe_prewarm()
                return worker
            if reply[0] == "silent":
                self._exhausted(worker, worker.used - 1, silent=True)
                failure = f"silent compile failure on worker pid {worker.pid}: {reply[2]}"
                continue
            error = _remote_error(reply, worker.pid)
            if isinstance(error, CompileError) and before > 0 and not self._canary_passes(worker, rec.backend):
                self._exhausted(worker, before, silent=False)
                failure = f"worker pid {worker.pid} failed its known-answer canary after {before} compiles"
                continue
            raise error
        raise WorkerError(f"compiling {rec.function!r} failed on two workers in a row; last: {failure}")

    def _canary_passes(self, worker: WorkerProcess, backend: str) -> bool:
        try:
            reply = worker.request("canary", backend, timeout=self.timeout)
        except WorkerLost as lost:
            self._lost(worker, lost)
            return False
        if reply[0] != "ok":
            return False
        worker.used = int(reply[1])
        return bool(reply[2])

    def _exhausted(self, worker: WorkerProcess, observed: int, *, silent: bool) -> None:
        """``worker`` hit the real limit after ``observed`` good compiles: retire it, learn the limit."""
        if silent:
            self.stats.silent_failures += 1
        else:
            self.stats.exhausted_workers += 1
        learned = max(1, observed)
        if learned < self.per_worker:
            self.per_worker = learned
            self.prewarm_at = min(self.prewarm_at, max(0, learned - 1))
            self.stats.per_worker = learned
        worker.budget = min(worker.budget, worker.used)
        if worker is self._active:
            self._switch()

    def _active_with_room(self) -> WorkerProcess:
        worker = self._active
        if worker is None or not worker.alive or worker.used + 1 > worker.budget:
            self._switch()
            worker = self._active
            assert worker is not None
        return worker

    def _spawn(self) -> WorkerProcess:
        fields = {f.name: getattr(config.get(), f.name) for f in dataclasses.fields(config.Config)}
        worker = WorkerProcess(next(self._ids), self.per_worker, fields, self.start_timeout, self.worker_context)
        self._workers[worker.wid] = worker
        self.stats.workers_started += 1
        return worker

    def _switch(self) -> None:
        """Make a fresh worker active: the prewarmed standby if there is one, else a new one (a stall)."""
        t0 = time.perf_counter()
        old = self._active
        new = self._take_standby()
        while new is None:
            self._make_room(1)
            new = self._spawn()
            try:
                new.wait_ready()
            except WorkerLost as lost:
                self._lost(new, lost)
                self.stats.retries += 1
                if self.stats.retries > 2 * self.stats.workers_started:
                    raise WorkerError(f"pool workers cannot start: {lost}") from None
                new = None
        if old is not None and old.state == "active":
            old.state = "draining"
            self.stats.recycles += 1
        new.state = "active"
        self._active = new
        self._gen += 1
        self._reap()
        stall = time.perf_counter() - t0
        self.stats.stalls.append(stall)
        self._maybe_prewarm()

    # -- prewarming ------------------------------------------------------------------------------------------

    def _maybe_prewarm(self) -> None:
        active = self._active
        if self._standby is not None or active is None or active.remaining > self.prewarm_at or self._closed:
            return
        try:
            self._make_room(1)
        except WorkingSetTooLarge:
            return  # no standby; the switch will try again and explain
        # Long-lived kernels in use: created before this generation and run during it (module docstring).
        hot = [
            r for r in self._records.values()
            if r.refs > 0 and r.gen < self._gen and r.used_gen == self._gen
        ]  # fmt: skip
        hot.sort(key=lambda r: r.rid)
        standby = self._spawn()
        self._standby = standby
        room = max(0, self.per_worker - self.prewarm_at - 1)
        self._prewarm = threading.Thread(
            target=self._prewarm_run, args=(standby, hot[:room]), name="anekit-pool-prewarm", daemon=True
        )
        self._prewarm.start()

    def _prewarm_run(self, worker: WorkerProcess, recs: list[_Record]) -> None:
        done: list[int] = []
        try:
            worker.wait_ready()
            for rec in recs:
                if rec.refs == 0 or worker.used + 1 > worker.budget:
                    continue
                reply = self._compile_on(worker, rec)
                if reply[0] != "ok":
                    break  # a silent or loud failure on a fresh worker: leave it to the switch to sort out
                done.append(rec.rid)
        except WorkerLost:
            pass
        self._prewarmed = done

    def _take_standby(self) -> WorkerProcess | None:
        standby, thread = self._standby, self._prewarm
        self._standby = self._prewarm = None
        if standby is None:
            return None
        if thread is not None:
            thread.join()
        for rid in self._prewarmed:
            rec = self._records.get(rid)
            if rec is not None:
                rec.workers.add(standby.wid)
                self.stats.prewarm_compiles += 1
            else:
                standby.drops.append(rid)
        self._prewarmed = []
        if not standby.alive:
            self._lost(standby, WorkerLost(f"standby worker pid {standby.pid} died while prewarming"))
            return None
        return standby

    # -- reaping and capacity ----------------------------------------------------------------------------------

    def _only_home(self, worker: WorkerProcess) -> list[_Record]:
        """Records whose only live home is ``worker``."""
        live = {wid for wid, w in self._workers.items() if w.alive}
        return [r for r in self._records.values() if worker.wid in r.workers and not (r.workers & live) - {worker.wid}]

    def _reap(self) -> None:
        for worker in list(self._workers.values()):
            if worker.state == "dead" or (worker.state == "draining" and not any(r.refs for r in self._only_home(worker))):
                self._retire(worker)

    def _retire(self, worker: WorkerProcess) -> None:
        for rec in self._only_home(worker):
            if rec.refs == 0:
                self._forget(rec)
        for rec in self._records.values():
            rec.workers.discard(worker.wid)
        # Not waited for: the old worker unloads and exits on its own while the caller carries on.
        worker.request_exit()
        self._workers.pop(worker.wid, None)
        self._stopping.append(worker)
        self._stopping[:] = [w for w in self._stopping if not w.reap()]

    def _make_room(self, extra: int) -> None:
        live = [w for w in self._workers.values() if w.alive]
        while len(live) + extra > self.max_workers:
            cold = [
                w for w in live
                if w.state == "draining" and not any(r.refs and r.used_gen >= self._gen - 1 for r in self._only_home(w))
            ]  # fmt: skip
            if not cold:
                in_use = sum(1 for r in self._records.values() if r.refs)
                raise WorkingSetTooLarge(
                    f"the {in_use} kernels in use are spread over {len(live)} worker processes (each may compile "
                    f"{self.per_worker} programs) and max_workers is {self.max_workers}; kernels run together must "
                    f"fit in {self.max_workers - 1} worker(s) of {self.per_worker} compiles (one slot is the standby): close "
                    "kernels you no longer need, raise max_workers, or pass weights as inputs (ane-private-api.md §20.2)"
                )
            self._retire(cold[0])
            live.remove(cold[0])

    def _lost(self, worker: WorkerProcess, why: WorkerLost) -> None:
        self.stats.worker_deaths += 1
        self.stats.last_failure = str(why)
        worker.kill()
        for rec in self._records.values():
            rec.workers.discard(worker.wid)
        self._workers.pop(worker.wid, None)
        if worker is self._active:
            self._active = None

    def _forget(self, rec: _Record) -> None:
        self._records.pop(rec.rid, None)
        self._unused.pop(rec.rid, None)
        if rec.key is not None and self._by_key.get(rec.key) is rec:
            del self._by_key[rec.key]
        for wid in rec.workers:
            worker = self._workers.get(wid)
            if worker is not None:
                worker.drops.append(rec.rid)

    # -- running -----------------------------------------------------------------------------------------------

    def _home(self, rec: _Record) -> WorkerProcess:
        active = self._active
        if active is not None and active.wid in rec.workers and active.alive:
            return active
        homes = [self._workers[w] for w in sorted(rec.workers, reverse=True) if w in self._workers]
        for worker in homes:
            if worker.alive:
                return worker
        self.stats.recompiles += 1
        return self._place(rec)

    def _call(self, rec: _Record, op: str, *args: Any) -> Any:
        with self._lock:
            self._check_open()
            if rec.rid not in self._records:
                raise RuntimeError(f"kernel {rec.function!r} is no longer held by the pool")
            rec.used_gen = self._gen
            failure = ""
            for _attempt in range(2):
                worker = self._home(rec)
                try:
                    reply = worker.request(op, rec.rid, *args, timeout=self.timeout)
                except WorkerLost as lost:
                    self._lost(worker, lost)
                    self.stats.retries += 1
                    failure = str(lost)
                    continue
                if reply[0] == "ok":
                    return reply[1]
                if reply[0] == "missing":
                    rec.workers.discard(worker.wid)
                    failure = f"worker pid {worker.pid} no longer had the kernel"
                    continue
                raise _remote_error(reply, worker.pid)
            raise WorkerError(f"running {rec.function!r} failed twice; last: {failure}")

    def _run(self, rec: _Record, inputs: Sequence[Any], outputs: Sequence[Any], path: str, qos: int) -> float | None:
        ins = [(spec.name, s.name, s.shape, s.dtype) for spec, s in zip(rec.inputs, inputs)]
        outs = [(spec.name, s.name, s.shape, s.dtype) for spec, s in zip(rec.outputs, outputs)]
        return self._call(rec, "run", ins, outs, path, qos)

    def _run_arrays(self, rec: _Record, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._call(rec, "run_arrays", dict(inputs))

    def _release(self, rec: _Record, surfaces: list[SharedSurface]) -> None:
        with self._lock:
            for surface in surfaces:
                self._segments.pop(surface.name, None)
                surface.unlink()
            if self._closed:
                return
            rec.refs -= 1
            if rec.refs > 0:
                return
            if rec.key is None or self.keep_unused == 0:
                self._forget(rec)
            else:
                self._unused[rec.rid] = rec
                while len(self._unused) > self.keep_unused:
                    self._forget(self._unused.popitem(last=False)[1])
            self._reap()


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"WorkerPool: {name} must be an int >= {minimum}, got {value!r}")


class _Default:
    lock = threading.Lock()
    pool: WorkerPool | None = None
    pid = 0


def default_pool() -> WorkerPool:
    """The process's pool used by the ``"recycle"`` policy (created on first use, closed at exit)."""
    with _Default.lock:
        if _Default.pool is None or _Default.pool.closed or _Default.pid != os.getpid():
            _Default.pool = WorkerPool()
            _Default.pid = os.getpid()
        return _Default.pool


def close_default_pool() -> None:
    """Close the process's default pool if it exists (its kernels stop working)."""
    with _Default.lock:
        pool, _Default.pool = _Default.pool, None
    if pool is not None:
        pool.close()
