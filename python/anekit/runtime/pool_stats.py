"""Counters of a :class:`~anekit.runtime.pool.WorkerPool` (what recycling cost, and what went wrong)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PoolStats"]


@dataclass
class PoolStats:
    """What a pool has done so far.

    Attributes:
        per_worker: compiles each worker may spend (lowered when a worker is observed to fail earlier).
        recycles: switch-overs from a full worker to a fresh one.
        workers_started: worker processes started (including replacements).
        compiles: compiles of user programs in workers (prewarm compiles excluded).
        prewarm_compiles: compiles done in the background on a standby worker.
        recompiles: kernels compiled again because every worker holding them was gone.
        cache_hits: compiles served from an already compiled identical program.
        retries: calls retried after a worker was lost.
        worker_deaths: workers that died, hung or were killed.
        silent_failures: compiles caught by the silent-failure check (docs/internals/ane-private-api.md §11.4).
        exhausted_workers: workers whose compile failed and whose known-answer canary failed too.
        live_workers: worker processes alive when the snapshot was taken.
        stalls: seconds the caller waited in each switch-over (``len(stalls)`` includes the first start).
        last_failure: description of the last worker failure, if any.
    """

    per_worker: int
    recycles: int = 0
    workers_started: int = 0
    compiles: int = 0
    prewarm_compiles: int = 0
    recompiles: int = 0
    cache_hits: int = 0
    retries: int = 0
    worker_deaths: int = 0
    silent_failures: int = 0
    exhausted_workers: int = 0
    live_workers: int = 0
    stalls: list[float] = field(default_factory=list)
    last_failure: str = ""
