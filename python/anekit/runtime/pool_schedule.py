"""The pool's scheduling: which worker compiles, when to switch, what to prewarm, what to stop.

See :mod:`anekit.runtime.pool` for the design (active, standby and draining workers; generations; the hot set
prewarmed in the background; failure handling; the working set and the ``max_workers`` limit). :class:`Scheduler`
holds the state and the decisions; :class:`~anekit.runtime.pool.WorkerPool` adds the public API and the calls.
Every method here runs with the pool lock held, except :meth:`Scheduler._prewarm_run`, which only touches the
standby.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from typing import Any

from .. import config
from ..errors import CompileError
from .cache import CacheKey
from .pool_records import Record, WorkerError, WorkingSetTooLarge, remote_error
from .pool_stats import PoolStats
from .procs import WorkerLost, WorkerProcess
from .shm import SharedSurface

__all__ = ["Scheduler"]


class Scheduler:
    """Worker placement state and decisions (the base of :class:`~anekit.runtime.pool.WorkerPool`)."""

    def __init__(
        self,
        *,
        per_worker: int,
        prewarm_at: int,
        max_workers: int,
        timeout: float,
        start_timeout: float,
        check_compiles: bool,
        worker_context: tuple[str, str, dict[str, Any]] | None,
        spread: bool,
        budget_source: tuple[int, int, bool],
    ) -> None:
        self.per_worker = per_worker
        self.spread = spread
        # (compile limit, safety margin, per_worker given explicitly): what per_worker derives from, for messages.
        self._budget_source = budget_source
        self._initial_per_worker = per_worker
        self.prewarm_at = min(prewarm_at, per_worker - 1)
        self.max_workers = max_workers
        self.timeout = float(timeout)
        self.start_timeout = float(start_timeout)
        self.check_compiles = bool(check_compiles)
        self.worker_context = worker_context
        self._lock = threading.RLock()
        self._workers: dict[int, WorkerProcess] = {}
        self._stopping: list[WorkerProcess] = []  # asked to exit, not yet reaped
        self._segments: dict[str, SharedSurface] = {}
        self._records: dict[int, Record] = {}
        self._by_key: dict[CacheKey, Record] = {}
        self._unused: OrderedDict[int, Record] = OrderedDict()
        self._active: WorkerProcess | None = None
        self._standby: WorkerProcess | None = None
        self._prewarm: threading.Thread | None = None
        self._prewarmed: list[int] = []
        self._gen = 0
        self._ids = itertools.count(1)
        self._closed = False
        self.stats = PoolStats(per_worker=per_worker)

    def _compile_on(self, worker: WorkerProcess, rec: Record) -> tuple[Any, ...]:
        reply = worker.request(
            "compile", rec.rid, rec.payload, rec.function, rec.backend, rec.options,
            self.check_compiles, timeout=self.timeout,
        )  # fmt: skip
        worker.used = int(reply[1])
        return reply

    def _place(self, rec: Record) -> WorkerProcess:
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
                if lost.crashed and before > 0:
                    # The crash end of the budget (libane: silent failures, then SIGSEGV,
                    # docs/internals/ane-private-api.md §16.1): the process died by itself inside a compile after
                    # `before` good ones.
                    self._exhausted(worker, before, silent=False)
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
            error = remote_error(reply, worker.pid)
            if isinstance(error, CompileError) and before > 0 and not self._canary_passes(worker, rec.backend):
                self._exhausted(worker, before, silent=False)
                failure = f"worker pid {worker.pid} failed its known-answer canary after {before} compiles"
                continue
            raise error
        raise WorkerError(f"compiling {rec.function!r} failed on two workers in a row; last: {failure}")

    # -- the working set -------------------------------------------------------------------------------------------

    def _in_use(self, rec: Record) -> bool:
        """Whether ``rec`` is in the working set: an open handle compiled or run in this or the previous generation."""
        return rec.refs > 0 and rec.used_gen >= self._gen - 1

    def _working_set(self) -> int:
        return sum(1 for r in self._records.values() if self._in_use(r))

    def _admit(self, function: str) -> None:
        """Default mode: refuse, before compiling, a kernel that would not fit in one worker with those in use.

        Raises:
            WorkingSetTooLarge: the kernels in use plus the new one exceed ``per_worker`` (and ``spread`` is off).
        """
        if self.spread:
            return
        in_use = self._working_set()
        if in_use + 1 <= self.per_worker:
            return
        limit, margin, explicit = self._budget_source
        if self.per_worker < self._initial_per_worker:
            source = (f"lowered from {self._initial_per_worker} after a worker failed past {self.per_worker} "
                      f"compiles; compile limit {limit}, safety margin {margin}")  # fmt: skip
        elif explicit:
            source = f"set explicitly; compile limit {limit}, safety margin {margin}"
        else:
            source = f"compile limit {limit} - safety margin {margin}"
        raise WorkingSetTooLarge(
            f"WorkerPool: compiling {function!r} would make {in_use + 1} kernels in use ({in_use} open kernels "
            f"compiled or run in this or the previous worker generation, plus this new one), but one worker process "
            f"may compile only per_worker={self.per_worker} programs ({source}); nothing was compiled. Close kernels "
            "you no longer need; pass weights as inputs instead of baking them as constants, so one compiled kernel "
            "serves every weight update (docs/internals/ane-private-api.md §20.2); or opt in to spreading the kernels "
            "in use over "
            f"up to max_workers={self.max_workers} worker processes with WorkerPool(spread=True) or "
            "ANEKIT_POOL_SPREAD=1"
        )

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
            # Workers already started (the standby above all) were given the old budget: they have the same
            # limit, so they must not run into it again.
            for other in self._workers.values():
                other.budget = min(other.budget, learned)
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
        # Only what was set explicitly (environment or override): a field left at its default stays unset in the
        # worker, so there too config.setting() applies this machine's doctor report (same cache directory).
        cfg = config.get()
        fields = {name: getattr(cfg, name) for name in cfg.sources}
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
            self._make_room(1, evict=True)
            new = self._spawn()
            try:
                new.wait_ready()
            except BaseException as exc:
                if not isinstance(exc, WorkerLost):  # interrupted: this worker would belong to nobody
                    self._discard(new)
                    raise
                lost = exc
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
        self._ensure_standby()
        self._maybe_prewarm()

    # -- prewarming ------------------------------------------------------------------------------------------

    def _ensure_standby(self) -> None:
        """Start the next worker process now, idle: starting an interpreter is the slow part of a switch."""
        if self._standby is not None or self._active is None or self._closed:
            return
        try:
            self._make_room(1)
        except WorkingSetTooLarge:
            return  # no standby for now; the switch will try again and explain
        self._standby = self._spawn()

    def _maybe_prewarm(self) -> None:
        """Once the active worker is down to ``prewarm_at`` compiles, compile the hot set on the standby."""
        active = self._active
        if self._prewarm is not None or active is None or active.remaining > self.prewarm_at or self._closed:
            return
        self._ensure_standby()
        standby = self._standby
        if standby is None:
            return
        # Long-lived kernels in use: created before this generation and run during it (module docstring).
        hot = [
            r for r in self._records.values()
            if r.refs > 0 and r.gen < self._gen and r.used_gen == self._gen
        ]  # fmt: skip
        hot.sort(key=lambda r: r.rid)
        room = max(0, self.per_worker - self.prewarm_at - 1)
        self._prewarm = threading.Thread(
            target=self._prewarm_run, args=(standby, hot[:room]), name="anekit-pool-prewarm", daemon=True
        )
        self._prewarm.start()

    def _prewarm_run(self, worker: WorkerProcess, recs: list[Record]) -> None:
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
            try:
                thread.join()
            except BaseException:  # interrupted: stop the half-prewarmed standby rather than orphan it
                self._discard(standby)
                raise
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

    def _only_home(self, worker: WorkerProcess) -> list[Record]:
        """Records whose only live home is ``worker``."""
        live = {wid for wid, w in self._workers.items() if w.alive}
        return [r for r in self._records.values() if worker.wid in r.workers and not (r.workers & live) - {worker.wid}]

    def _reap(self) -> None:
        for worker in list(self._workers.values()):
            # A dead process (killed, crashed) is retired at once, whatever it held: its socket and its record
            # go now, not at close (issue #11 item 10). So is a worker that is neither the active one, the
            # standby nor draining (orphaned when an interrupt cut a switch short).
            orphan = worker is not self._active and worker is not self._standby and worker.state != "draining"
            if orphan or not worker.alive or (
                worker.state == "draining" and not any(r.refs for r in self._only_home(worker))
            ):
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

    def _make_room(self, extra: int, *, evict: bool = False) -> None:
        """Stop draining workers until ``extra`` more fit under ``max_workers``.

        Workers holding no kernel in use go first. When the working set fits in one worker's budget (always
        without ``spread``: :meth:`_admit` sees to it), ``evict`` (a switch that needs a worker) also stops the
        draining worker holding the fewest kernels in use: they fit in one worker and are recompiled on the active
        one when next run. Otherwise (``spread``) they stay where they are and :class:`WorkingSetTooLarge` is
        raised instead.
        """
        live = [w for w in self._workers.values() if w.alive]
        while len(live) + extra > self.max_workers:
            draining = [(sum(1 for r in self._only_home(w) if self._in_use(r)), w.wid, w) for w in live
                        if w.state == "draining"]  # fmt: skip
            draining.sort(key=lambda t: t[:2])
            fits = not self.spread or self._working_set() <= self.per_worker
            if draining and (draining[0][0] == 0 or (evict and fits)):
                victim = draining[0][2]
                self._retire(victim)
                live.remove(victim)
                continue
            in_use = sum(1 for r in self._records.values() if r.refs)
            raise WorkingSetTooLarge(
                f"the {in_use} kernels in use are spread over {len(live)} worker processes (each may compile "
                f"{self.per_worker} programs) and max_workers is {self.max_workers}; kernels run together must "
                f"fit in {self.max_workers - 1} worker(s) of {self.per_worker} compiles (one slot is the "
                "standby): close kernels you no longer need, raise max_workers, or pass weights as inputs "
                "(docs/internals/ane-private-api.md §20.2)"
            )

    def _lost(self, worker: WorkerProcess, why: WorkerLost) -> None:
        self.stats.worker_deaths += 1
        self.stats.last_failure = str(why)
        self._discard(worker)

    def _discard(self, worker: WorkerProcess) -> None:
        """Kill ``worker`` now and forget it (its process is reaped and its socket closed here)."""
        worker.kill()
        for rec in self._records.values():
            rec.workers.discard(worker.wid)
        self._workers.pop(worker.wid, None)
        if worker is self._active:
            self._active = None
        if worker is self._standby:
            self._standby = None

    def _forget(self, rec: Record) -> None:
        self._records.pop(rec.rid, None)
        self._unused.pop(rec.rid, None)
        if rec.key is not None and self._by_key.get(rec.key) is rec:
            del self._by_key[rec.key]
        for wid in rec.workers:
            worker = self._workers.get(wid)
            if worker is not None:
                worker.drops.append(rec.rid)

    # -- where a kernel runs -------------------------------------------------------------------------------------

    def _home(self, rec: Record) -> WorkerProcess:
        active = self._active
        if active is not None and active.wid in rec.workers and active.alive:
            return active
        homes = [self._workers[w] for w in sorted(rec.workers, reverse=True) if w in self._workers]
        for worker in homes:
            if worker.alive:
                return worker
            self._lost(worker, WorkerLost(f"worker pid {worker.pid} was found dead"))
        self.stats.recompiles += 1
        return self._place(rec)
