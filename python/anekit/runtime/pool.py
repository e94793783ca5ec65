"""The recycling worker pool behind ``anekit.budget.set_policy("recycle")``: unbounded compiles per program.

Kernels are compiled and run in worker processes (:mod:`anekit.runtime.worker`), each with its own compile
budget (docs/internals/ane-private-api.md §16.1). The parent holds ordinary :class:`~anekit.runtime.kernel.Kernel`
objects whose surfaces are shared memory (:mod:`anekit.runtime.shm`), so the API is unchanged and tensors are never
pickled. How the budget is made invisible:

* **Active, standby, draining.** New programs compile on the *active* worker. A *standby* worker process is
  started (idle) as soon as a worker becomes active, since starting an interpreter is the slow part; when the
  active worker's remaining budget drops to ``prewarm_at``, the long-lived kernels in use (created before the
  current generation and run during it) are compiled on the standby in the background. When the active
  worker is full, the standby takes over (a *recycle*); the old worker becomes *draining*: it compiles nothing
  more but keeps running the kernels it holds until they are closed or prewarmed elsewhere, then exits. So no
  kernel is ever compiled twice just because the budget ran out, and a switch costs no compile on the caller's
  path once the standby is warm (the double-buffered background compile of docs/internals/ane-private-api.md §16.3).
* **Handles stay valid.** A kernel record lists the workers holding it; a run goes to the active worker when
  it has the kernel, else to the youngest worker that has it, else the kernel is compiled on the active worker.
* **Failures.** A worker that dies (killed, crashed) or does not answer within ``timeout`` is stopped and
  replaced; the failed call is retried once, then raises :class:`WorkerError`. After each compile the worker
  runs the new kernel on probe inputs; all-zero outputs where the reference executor's are not reveal a silent
  compile failure (docs/internals/ane-private-api.md §11.4): the worker is retired, the per-worker budget lowered to
  what was observed, and the compile retried on a fresh worker. A compile error on a worker that has compiled before is
  checked with a known-answer canary to tell an exhausted worker from a genuinely invalid program.
* **The working set.** A *generation* is one active worker's time (it starts at each switch). The kernels
  *in use* are the open handles (a record with ``refs > 0``) whose kernel was compiled or run in the current or
  the previous generation (``used_gen >= gen - 1``); :meth:`WorkerPool.working_set` counts them. Open kernels
  not run for longer do not count: they stay valid and are recompiled if run again (and then count again).
* **A working set larger than one worker's budget** (the default, ``spread=False``): a compile that would make
  the kernels in use exceed ``per_worker`` raises :class:`WorkingSetTooLarge` *before* compiling, naming the
  numbers and what to do; nothing is changed (handles, records, budgets). Cache hits and runs are never refused.
  Since the working set fits in one worker, old workers can always be stopped to make room: when a switch needs
  a process and ``max_workers`` are alive, draining workers holding no kernel in use go first, then the one
  holding the fewest (its kernels in use are recompiled on the active worker when next run).
* **Spreading** (opt-in: ``WorkerPool(spread=True)``, ``pool_spread`` / ``ANEKIT_POOL_SPREAD=1`` for the
  default pool): no per-compile check; kernels in use stay on the draining workers holding them, so the working
  set may span up to ``max_workers`` processes. When a new one is needed, draining workers whose kernels are
  not in use are stopped (those kernels recompile if used again); if every draining worker still holds kernels
  in use, the one holding the fewest is stopped as above while the working set fits in one worker's budget, and
  past that :class:`WorkingSetTooLarge` names the numbers (rather than thrashing, recompiling them over and
  over).

Calls into the pool are serialised (one lock); the background prewarm runs concurrently with them.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import config
from ..mil.ir import Program
from .cache import program_key
from .kernel import DEFAULT_QOS, Kernel
from .pool_records import PoolClosedError, PoolExecutable, Record, WorkerError, WorkingSetTooLarge, remote_error
from .pool_schedule import Scheduler
from .pool_stats import PoolStats
from .procs import WorkerLost, WorkerProcess
from .shm import SegmentStore, SharedSurface

__all__ = [
    "PoolClosedError",
    "PoolStats",
    "WorkerError",
    "WorkerPool",
    "WorkingSetTooLarge",
    "close_default_pool",
    "default_pool",
]


def _shutdown_all(
    workers: dict[int, WorkerProcess],
    stopping: list[WorkerProcess],
    segments: dict[str, SharedSurface],
    spares: SegmentStore,
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
    spares.unlink_all()


class WorkerPool(Scheduler):
    """Compile and run kernels in recycled worker processes (see the module docstring).

    Args:
        per_worker: compiles each worker may spend (default: ``anekit.budget.allowed()``, the limit minus the
            safety margin, or the limit observed in this process if lower).
        prewarm_at: start and prewarm the standby when the active worker has this many compiles left
            (default: half of ``per_worker``).
        max_workers: most worker processes alive at once, standby included (at least 2).
        timeout: seconds to wait for any one reply before the worker is declared stuck and replaced.
        start_timeout: seconds a new worker may take to start.
        check_compiles: run the silent-failure check after every compile (docs/internals/ane-private-api.md §11.4).
        keep_unused: closed kernels kept compiled (per content key) for a later identical compile.
        worker_context: ``(module, name, kwargs)`` of a context manager every worker enters for its whole life,
            e.g. ``("anekit.testing", "fake_ane", {"compile_budget": 119})`` to run workers on the fake framework.
        spread: let the kernels in use spread over up to ``max_workers`` workers instead of refusing a compile
            that would make them exceed one worker's budget (module docstring; default: the configuration's
            ``pool_spread``, ``ANEKIT_POOL_SPREAD``, which is off).

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
        spread: bool | None = None,
    ) -> None:
        from .. import budget

        explicit = per_worker is not None
        if per_worker is None:
            per_worker = max(1, budget.allowed())
        _check_int("per_worker", per_worker, 1)
        if prewarm_at is None:
            prewarm_at = max(1, per_worker // 2)
        _check_int("prewarm_at", prewarm_at, 0)
        _check_int("max_workers", max_workers, 2)
        _check_int("keep_unused", keep_unused, 0)
        if not timeout > 0 or not start_timeout > 0:
            raise ValueError(f"timeouts must be positive, got timeout={timeout!r}, start_timeout={start_timeout!r}")
        if worker_context is not None and not (
            isinstance(worker_context, tuple)
            and len(worker_context) == 3
            and all(isinstance(x, str) for x in worker_context[:2])
            and isinstance(worker_context[2], dict)
        ):
            raise ValueError(f"WorkerPool: worker_context must be (module, name, kwargs), got {worker_context!r}")
        if spread is None:
            spread = config.get().pool_spread
        if not isinstance(spread, bool):
            raise ValueError(f"WorkerPool: spread must be a bool or None, got {spread!r}")
        super().__init__(
            per_worker=per_worker,
            prewarm_at=prewarm_at,
            max_workers=max_workers,
            timeout=timeout,
            start_timeout=start_timeout,
            check_compiles=check_compiles,
            worker_context=worker_context,
            spread=spread,
            budget_source=(budget.limit(), budget.safety_margin(), explicit),
        )
        self.keep_unused = keep_unused
        self._spares = SegmentStore()
        self._finalizer = weakref.finalize(
            self, _shutdown_all, self._workers, self._stopping, self._segments, self._spares
        )

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
            MILError: ``mil.validate`` finds an error in ``function`` (checked here, before any worker sees it).
            CompileError: the program does not compile (checked on a healthy worker).
            UnexpectedCompileError: a real compile while ``ANEKIT_ASSERT_NO_COMPILE`` is on.
            WorkingSetTooLarge: without ``spread``, the kernels in use plus this one would exceed ``per_worker``
                (checked before compiling; nothing changes); with ``spread``, no worker can be started without
                stopping kernels in use.
            WorkerError: workers failed twice in a row.
        """
        from .. import budget
        from .compile import refuse_invalid, resolve_backend

        if not isinstance(program, Program):
            raise TypeError(f"WorkerPool.compile: expected an anekit.mil.Program, got {type(program).__name__}")
        chosen = resolve_backend(backend)
        opts = {"qos": qos, "path": path, **options}
        key = program_key(program, chosen.name, function, opts) if cache else None
        if key is None or key not in self._by_key:
            # As anekit.compile does before a real compile: a program validation marks as an error never reaches
            # a worker (a [1, 2**31, 1, 1] input would otherwise zero-fill 8 GB of shared memory there).
            refuse_invalid(program, function)
        with self._lock:
            self._check_open()
            rec = self._by_key.get(key) if key is not None else None
            if rec is None:
                if config.get().assert_no_compile:
                    budget.check_compile(f"function {function!r} in the worker pool", backend=chosen.name)
                self._admit(function)
                rec = Record(next(self._ids), key, program, chosen.name, function, opts, self._gen)
                try:
                    self._place(rec)
                except BaseException:
                    # Interrupted after a worker compiled it: nobody will hold this kernel, unload it.
                    for wid in rec.workers:
                        if wid in self._workers:
                            self._workers[wid].drops.append(rec.rid)
                    raise
                # Placing may have switched workers: the kernel belongs to the generation it was compiled in.
                rec.gen = rec.used_gen = self._gen
                self._records[rec.rid] = rec
                if key is not None:
                    self._by_key[key] = rec
            else:
                self.stats.cache_hits += 1
                self._unused.pop(rec.rid, None)
            rec.refs += 1
        exe = PoolExecutable(self, rec)
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

    def active_pid(self) -> int | None:
        """Process id of the worker that compiles new programs now (None before the first compile)."""
        with self._lock:
            active = self._active
            return active.pid if active is not None and active.alive else None

    def working_set(self) -> int:
        """Kernels in use now: open handles compiled or run in this or the previous generation (module docstring)."""
        with self._lock:
            return self._working_set()

    def snapshot(self) -> PoolStats:
        """A copy of the counters, with the current number of live workers."""
        with self._lock:
            return dataclasses.replace(self.stats, live_workers=len(self.worker_pids()), stalls=list(self.stats.stalls))

    def _check_open(self) -> None:
        if self._closed:
            raise PoolClosedError("the worker pool is closed")

    # -- running -----------------------------------------------------------------------------------------------

    def _call(self, rec: Record, op: str, *args: Any, mapped: set[int] | None = None) -> Any:
        with self._lock:
            self._check_open()
            if rec.rid not in self._records:
                raise PoolClosedError(f"kernel {rec.function!r} is no longer held by the pool")
            rec.used_gen = self._gen
            failure = ""
            for _attempt in range(2):
                worker = self._home(rec)
                if mapped is not None:
                    mapped.add(worker.wid)
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
                raise remote_error(reply, worker.pid)
            raise WorkerError(f"running {rec.function!r} failed twice; last: {failure}")

    def _run(
        self, rec: Record, inputs: Sequence[Any], outputs: Sequence[Any], path: str, qos: int, mapped: set[int]
    ) -> float | None:
        ins = [(spec.name, s.name, s.shape, s.dtype) for spec, s in zip(rec.inputs, inputs, strict=True)]
        outs = [(spec.name, s.name, s.shape, s.dtype) for spec, s in zip(rec.outputs, outputs, strict=True)]
        return self._call(rec, "run", ins, outs, path, qos, mapped=mapped)

    def _run_arrays(self, rec: Record, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._call(rec, "run_arrays", dict(inputs))

    def _release(self, rec: Record, surfaces: list[SharedSurface], mapped: set[int]) -> None:
        with self._lock:
            names = []
            for surface in surfaces:
                self._segments.pop(surface.name, None)
                if self._closed or not self._spares.give(surface):
                    surface.unlink()
                    names.append(surface.name)  # reused segments stay mapped in the workers
            if self._closed:
                return
            for wid in mapped:
                worker = self._workers.get(wid)
                if worker is not None:
                    worker.unmaps.extend(names)
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
    """The process's pool used by the ``"recycle"`` policy (created on first use, closed at exit).

    It is built from the configuration at that moment: ``spread`` is ``pool_spread`` (``ANEKIT_POOL_SPREAD``).
    """
    with _Default.lock:
        if _Default.pool is None or _Default.pool.closed or _Default.pid != os.getpid():
            _Default.pool = WorkerPool(spread=config.get().pool_spread)
            _Default.pid = os.getpid()
        return _Default.pool


def close_default_pool() -> None:
    """Close the process's default pool if it exists (its kernels stop working)."""
    with _Default.lock:
        pool, _Default.pool = _Default.pool, None
    if pool is not None:
        pool.close()
