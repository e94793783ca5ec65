"""Compile budget: cache-hit cost, and a training-like loop under the recycling pool versus checkpoint-and-restart.

The loop mimics a static-weights training pipeline (maderix Stories110M, docs/internals/ane-private-api.md §16.3): a
working set of ``--static`` weight-free kernels compiled once, plus ``--kernels`` weight-bearing kernels compiled again
with new weights every step; each step runs every kernel forward, the static ones, and every kernel again
("backward"). Compiles run on the reference backend with a simulated limit of ``--limit`` compiles per process
and a simulated compile latency (``ANEKIT_SIMULATE_COMPILE_LATENCY_MS``; a real compile+load takes ~33 ms on
M5, docs/internals/ane-private-api.md §10). In one run it measures:

* cache hits: ``anekit.compile`` of an already compiled program (target ≤ 50 µs), the memoised program digest,
  and a hit in the worker pool;
* the budget reservation (check, reserve, compile, release as one step) around an uncached compile, and
  8 threads x 10 uncached compiles with 20 allowed: exactly 20 must be spent;
* the cold recompile of the working set (static + one step's kernels) in one process: what every restart pays;
* ``ideal``: the loop in one process with no limit at all (the floor);
* ``recycle``: the loop with ``anekit.budget.policy("recycle")``: steps/s, recycles, and the stall per recycle
  (time the caller waited in the switch-over; target ≤ 10% of the cold recompile);
* ``checkpoint``: the loop with ``anekit.budget.restart_if_needed`` (save, exec the script again, reload,
  recompile), the upstream approach; steps/s and restarts.

Every step checks one kernel's output against the reference executor, so no figure comes from wrong results.

Usage: python benchmarks/bench_budget.py [--json FILE] [--quick] [--steps N] [--latency-ms MS]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import anekit
from anekit import budget, mil
from anekit.errors import CompileBudgetExceeded
from anekit.reference import run as reference_run
from anekit.runtime.cache import program_digest
from anekit.runtime.pool import WorkerPool, close_default_pool, default_pool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine, time_call, write_json

C, S = 64, 32  # small tensors: the benchmark is about compiles, not arithmetic


def static_program(i: int) -> mil.Program:
    """A weight-free kernel (no weight blob), one per index."""

    @mil.program(inputs={"x": mil.tensor((1, C, 1, S), "fp16")}, opset="ios18")
    def prog(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.relu(x=mb.mul(x=x, y=np.float16(1 + i / 16)))

    return prog


def weighted_program(step: int, i: int) -> mil.Program:
    """A weight-bearing kernel; new weights every step (a static-weights training step)."""
    w = (np.random.default_rng(step * 1000 + i).standard_normal((C, C, 1, 1)) * 0.1).astype(np.float16)

    @mil.program(inputs={"x": mil.tensor((1, C, 1, S), "fp16")}, opset="ios18")
    def prog(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.conv(x=x, weight=w, pad_type="valid")

    return prog


X = np.random.default_rng(1).standard_normal((1, C, 1, S)).astype(np.float32)


def one_step(
    step: int, statics: list[anekit.Kernel], n: int, compile_fn: Callable[[mil.Program], anekit.Kernel]
) -> None:
    progs = [weighted_program(step, i) for i in range(n)]
    kernels = [compile_fn(p) for p in progs]
    try:
        for k in kernels:
            k(x=X)
        for k in statics:
            k(x=X)
        for k in reversed(kernels):
            got = k(x=X)
        (want,) = reference_run(progs[0], {"x": X}).values()
        (got_first,) = kernels[0](x=X).values()
        if not np.array_equal(got_first, want.astype(np.float32)):
            raise AssertionError(f"step {step}: a kernel returned a wrong result")
        del got
    finally:
        for k in kernels:
            k.close()


def run_loop(
    steps: int,
    n_static: int,
    n: int,
    compile_fn: Callable[[mil.Program], anekit.Kernel],
    recycles: Callable[[], int] | None = None,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    statics = [compile_fn(static_program(i)) for i in range(n_static)]
    step_times = []
    step_recycles = []
    for step in range(steps):
        before = recycles() if recycles else 0
        s0 = time.perf_counter()
        one_step(step, statics, n, compile_fn)
        step_times.append(time.perf_counter() - s0)
        step_recycles.append((recycles() if recycles else 0) - before)
    for k in statics:
        k.close()
    wall = time.perf_counter() - t0
    return {
        "steps": steps,
        "wall_s": wall,
        "steps_per_s": steps / wall,
        "step_times_s": step_times,
        "step_recycles": step_recycles,
    }


def bench_hits() -> dict[str, float]:
    prog = weighted_program(10_000, 0)
    anekit.compile(prog, backend="reference").close()
    hit = time_call(lambda: anekit.compile(prog, backend="reference").close(), min_time=0.5)["median_s"]
    digest = time_call(lambda: program_digest(prog), min_time=0.3)["median_s"]
    with WorkerPool() as pool:
        pool.compile(prog, backend="reference").close()
        pool_hit = time_call(lambda: pool.compile(prog, backend="reference").close(), min_time=0.5)["median_s"]
    return {"compile_hit_us": hit * 1e6, "digest_hit_us": digest * 1e6, "pool_hit_us": pool_hit * 1e6}


def bench_reservation() -> dict[str, float]:
    """What the atomic budget check adds to an uncached compile, and 8 threads x 10 compiles against 20 allowed.

    The reservation (check and reserve a slot, compile, release) wraps every real compile; its cost is measured
    around a compile that does nothing, against calling that compile directly, in the same run.
    """
    from anekit.runtime.backend import get_backend

    ref = get_backend("reference")
    budget.set_safety_margin(0)
    try:
        with budget.simulate(10**9):  # a limit applies, far away
            direct = time_call(lambda: None, min_time=0.3)["median_s"]
            reserved = time_call(lambda: budget.compile_within_budget(ref, lambda: None), min_time=0.3)["median_s"]
        with budget.simulate(10**9, latency_ms=5.0):
            start = budget.used()
            budget.set_limit(start + 20)
            refused = []

            def work() -> None:
                for i in range(10):
                    try:
                        anekit.compile(weighted_program(30_000 + i, len(refused)), backend="reference",
                                       cache=False).close()  # fmt: skip
                    except CompileBudgetExceeded:
                        refused.append(1)

            threads = [threading.Thread(target=work) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            spent = budget.used() - start
    finally:
        budget.set_limit(None)
        budget.set_safety_margin(None)
    return {"reservation_overhead_us": (reserved - direct) * 1e6, "threads_spent": spent, "threads_allowed": 20}


def bench_cold(n_static: int, n: int) -> float:
    t0 = time.perf_counter()
    kernels = [anekit.compile(static_program(i), backend="reference", cache=False) for i in range(n_static)]
    kernels += [anekit.compile(weighted_program(20_000, i), backend="reference", cache=False) for i in range(n)]
    cold = time.perf_counter() - t0
    for k in kernels:
        k.close()
    return cold


def bench_recycle(steps: int, n_static: int, n: int, limit: int, latency_ms: float) -> dict[str, Any]:
    budget.set_limit(limit)
    try:
        with budget.simulate(limit, latency_ms=latency_ms), budget.policy("recycle"):
            pool = default_pool()
            result = run_loop(
                steps, n_static, n, lambda p: anekit.compile(p, backend="reference"), lambda: pool.stats.recycles
            )
            stats = pool.snapshot()
    finally:
        close_default_pool()
        budget.set_limit(None)
    switch_stalls = stats.stalls[1:]  # the first entry is the very first worker start
    # What the user sees: steps containing a recycle versus the median step without one (step 0 excluded: it
    # also starts the pool); noisy on a shared machine, so reported next to the measured switch stall.
    times, recs = result["step_times_s"][1:], result["step_recycles"][1:]
    plain = [t for t, r in zip(times, recs, strict=True) if r == 0]
    with_recycle = [(t, r) for t, r in zip(times, recs, strict=True) if r > 0]
    base = statistics.median(plain) if plain else float("nan")
    extra = sum(t - base for t, _ in with_recycle) / max(1, sum(r for _, r in with_recycle))
    result.update(
        recycles=stats.recycles,
        workers_started=stats.workers_started,
        prewarm_compiles=stats.prewarm_compiles,
        recompiles=stats.recompiles,
        failures=stats.worker_deaths + stats.silent_failures + stats.exhausted_workers,
        first_start_s=stats.stalls[0] if stats.stalls else 0.0,
        stall_per_recycle_s=statistics.fmean(switch_stalls) if switch_stalls else 0.0,
        stall_max_s=max(switch_stalls, default=0.0),
        extra_step_time_per_recycle_s=extra if with_recycle else 0.0,
        median_plain_step_s=base,
    )
    return result


def checkpoint_child(out: str, steps: int, n_static: int, n: int) -> int:
    """One process of the checkpoint-and-restart loop (re-executed by restart_if_needed until done)."""
    ckpt = out + ".ckpt.npz"
    state = budget.resume_state() or {"step": 0}
    statics = [anekit.compile(static_program(i), backend="reference") for i in range(n_static)]
    while state["step"] < steps:
        budget.restart_if_needed(state, ckpt, needed=n)
        one_step(state["step"], statics, n, lambda p: anekit.compile(p, backend="reference"))
        state["step"] += 1
    Path(out).write_text(json.dumps({"restarts": state.get("anekit_restarts", 0), "steps": state["step"]}))
    return 0


def bench_checkpoint(steps: int, n_static: int, n: int, limit: int, latency_ms: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "result.json")
        env = dict(
            os.environ,
            ANEKIT_COMPILE_LIMIT=str(limit),
            ANEKIT_SIMULATE_COMPILE_LIMIT=str(limit),
            ANEKIT_SIMULATE_COMPILE_LATENCY_MS=str(latency_ms),
            ANEKIT_BACKEND="reference",
        )
        cmd = [sys.executable, __file__, "--checkpoint-child", out, "--steps", str(steps)]
        cmd += ["--static", str(n_static), "--kernels", str(n)]
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, timeout=3600)
        wall = time.perf_counter() - t0
        child = json.loads(Path(out).read_text())
    return {
        "steps": child["steps"],
        "wall_s": wall,
        "steps_per_s": child["steps"] / wall,
        "restarts": child["restarts"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write results to this file")
    ap.add_argument("--quick", action="store_true", help="fewer steps and a shorter latency (smoke run)")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--kernels", type=int, default=60, help="weight-bearing kernels recompiled every step")
    ap.add_argument("--static", type=int, default=12, help="weight-free kernels compiled once")
    ap.add_argument("--limit", type=int, default=119, help="simulated compile limit per process")
    ap.add_argument("--latency-ms", type=float, default=None, help="simulated compile latency")
    ap.add_argument("--checkpoint-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    steps = args.steps or (4 if args.quick else 10)
    latency = args.latency_ms if args.latency_ms is not None else (5.0 if args.quick else 25.0)
    if args.checkpoint_child:
        return checkpoint_child(args.checkpoint_child, steps, args.static, args.kernels)

    m = machine()
    print(f"bench_budget on {m['cpu']} ({m['cores']} cores), {args.static}+{args.kernels} kernels/step, "
          f"{steps} steps, limit {args.limit}, simulated compile latency {latency:g} ms")  # fmt: skip
    hits = bench_hits()
    reservation = bench_reservation()
    budget.set_limit(10**9)  # "ideal" and the cold baseline: one process, no limit at all
    try:
        with budget.simulate(None, latency_ms=latency):
            cold = bench_cold(args.static, args.kernels)
            ideal = run_loop(steps, args.static, args.kernels, lambda p: anekit.compile(p, backend="reference"))
    finally:
        budget.set_limit(None)
    recycle = bench_recycle(steps, args.static, args.kernels, args.limit, latency)
    ckpt = bench_checkpoint(steps, args.static, args.kernels, args.limit, latency)

    ratio = recycle["stall_per_recycle_s"] / cold
    visible = recycle["extra_step_time_per_recycle_s"] / cold
    print(f"\ncache hit: anekit.compile {hits['compile_hit_us']:.1f} us (target <= 50), digest memo "
          f"{hits['digest_hit_us']:.1f} us, pool hit {hits['pool_hit_us']:.1f} us")  # fmt: skip
    print(f"budget reservation around an uncached compile: {reservation['reservation_overhead_us']:.1f} us; "
          f"8 threads x 10 uncached compiles with 20 allowed spent {reservation['threads_spent']}")  # fmt: skip
    print(f"cold recompile of the working set ({args.static + args.kernels} kernels): {cold * 1e3:.0f} ms\n")
    print(f"{'mode':<11} {'steps/s':>8} {'wall s':>8} {'recycles':>9} {'restarts':>9} {'stall/recycle':>14}")
    print(f"{'ideal':<11} {ideal['steps_per_s']:8.3f} {ideal['wall_s']:8.2f} {'-':>9} {'-':>9} {'-':>14}")
    print(f"{'recycle':<11} {recycle['steps_per_s']:8.3f} {recycle['wall_s']:8.2f} {recycle['recycles']:9d} {'-':>9} "
          f"{recycle['stall_per_recycle_s'] * 1e3:11.1f} ms")  # fmt: skip
    print(
        f"{'checkpoint':<11} {ckpt['steps_per_s']:8.3f} {ckpt['wall_s']:8.2f} {'-':>9} {ckpt['restarts']:9d} {'-':>14}"
    )
    print(f"\nstall per recycle / cold recompile = {ratio:.1%} (target <= 10%); max stall "
          f"{recycle['stall_max_s'] * 1e3:.1f} ms; prewarmed compiles {recycle['prewarm_compiles']}, "
          f"recompiles {recycle['recompiles']}, worker failures {recycle['failures']}")  # fmt: skip
    print(f"extra step time per recycle (steps with a recycle vs median plain step "
          f"{recycle['median_plain_step_s'] * 1e3:.0f} ms): {recycle['extra_step_time_per_recycle_s'] * 1e3:.0f} ms "
          f"= {visible:.1%} of the cold recompile")  # fmt: skip
    ok = hits["compile_hit_us"] <= 50 and ratio <= 0.10 and recycle["failures"] == 0
    ok = ok and reservation["threads_spent"] == reservation["threads_allowed"]
    write_json(args.json, {
        "benchmark": "bench_budget", "machine": m, "latency_ms": latency, "limit": args.limit,
        "kernels": args.kernels, "static": args.static, "hits": hits,
        "reservation": reservation, "cold_recompile_s": cold,
        "ideal": ideal, "recycle": recycle, "checkpoint": ckpt, "stall_ratio": ratio, "visible_stall_ratio": visible,
        "targets_met": ok,
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
