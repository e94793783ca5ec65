"""compile: what a training loop pays for compiling — compile+load latency against program size and weight
bytes, unload, a content-cache hit, and the recycling pool's stall when a worker runs out of budget.

Each size is compiled once (``cache=False``): compiles are the budgeted resource (about 119 per process,
ane-private-api.md §16.1), so they are not repeated for statistics. Every compiled kernel is run once and its
outputs checked. The pool part compiles distinct programs in a :class:`~anekit.runtime.pool.WorkerPool` with a
small per-worker budget so it recycles several times within the run; the stall is the time the caller waited
at each switch (``PoolStats.stalls``).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator

from ... import _core, budget
from ...doctor.programs import identity_program
from ...runtime.kernel import DEFAULT_QOS
from ...runtime.pool import WorkerPool
from ..context import BenchContext, kernel_feeds, random_feeds
from ..programs import conv_chain, cost
from ..results import Row, SuiteResult

NAME = "compile"
DESCRIPTION = "compile+load and unload latency by program size, cache-hit cost, recycling-pool stall"

#: (channels, depth): ops and weight bytes grow separately (256ch: 128 KB per conv; 2048ch: 8 MB per conv).
SIZES = [(256, 1), (256, 8), (256, 32), (1024, 1), (1024, 8), (2048, 4)]
QUICK_SIZES = [(256, 1), (256, 8), (1024, 1)]
SPATIAL = 64
#: Pool part: per-worker budget and programs compiled (POOL_COMPILES / POOL_BUDGET switches).
POOL_BUDGET = 3
POOL_COMPILES = 8
QUICK_POOL_COMPILES = 5
CACHE_HITS = 50


def _reload_target(ctx: BenchContext) -> str | None:
    """Where the reload row runs: the ANE, else the fake framework when available (never through the pool)."""
    if ctx.recycled:
        return None
    if ctx.backend == "ane":
        return "ane"
    return "fake" if ctx.fake else None


def planned_compiles(ctx: BenchContext) -> int:
    # The sizes, the cache-hit program's first compile, and the reload row's compile.
    return len(QUICK_SIZES if ctx.quick else SIZES) + 1 + (_reload_target(ctx) is not None)


def run(ctx: BenchContext) -> SuiteResult:
    result = SuiteResult(
        NAME,
        DESCRIPTION,
        {"samples_per_size": 1, "cache_hits_timed": CACHE_HITS, "clock": "time.perf_counter_ns"},
        columns={
            "ops": ("ops", ""),
            "weights_mb": ("weights", "MB"),
            "compile_ms": ("compile+load", "ms"),
            "first_run_ms": ("first run", "ms"),
            "unload_ms": ("unload", "ms"),
            "load_ms": ("reload", "ms"),
            "hit_us": ("cache hit", "us"),
            "stall_ms": ("stall median", "ms"),
            "stall_max_ms": ("stall max", "ms"),
            "recycles": ("recycles", ""),
        },
    )
    sizes = QUICK_SIZES if ctx.quick else SIZES
    for i, (c, depth) in enumerate(sizes):
        ctx.say(f"compile {i + 1}/{len(sizes)}: {depth} x conv {c}ch")
        result.rows.append(_compile_row(ctx, c, depth, seed=100 + i))
    ctx.say("compile: content-cache hits")
    result.rows.append(_cache_row(ctx))
    target = _reload_target(ctx)
    if target is not None:
        ctx.say(f"compile: unload and reload without recompiling ({target})")
        result.rows.append(_reload_row(ctx, target))
    else:
        result.notes.append("reload (unload + load without recompiling) needs the ANE backend or the fake framework")
    ctx.say("compile: recycling pool (worker processes)")
    result.rows.append(_pool_row(ctx))
    return result


def _compile_row(ctx: BenchContext, c: int, depth: int, seed: int) -> Row:
    program = conv_chain(c, SPATIAL, depth, seed=seed, opset=ctx.opset)
    k = cost(program)
    row = Row(f"{depth}x conv {c}ch", {"part": "compile", "C": c, "depth": depth})

    def body() -> None:
        feeds = random_feeds(program)
        t0 = time.perf_counter_ns()
        kernel = ctx.compile(program, cache=False)
        t1 = time.perf_counter_ns()
        try:
            kernel_feeds(kernel, feeds)
            t2 = time.perf_counter_ns()
            kernel.run()
            t3 = time.perf_counter_ns()
            ctx.check(kernel, program, feeds, row)
        finally:
            t4 = time.perf_counter_ns()
            kernel.close()
            t5 = time.perf_counter_ns()
        row.metrics = {
            "ops": float(len(program.main.operations)),
            "weights_mb": k.weight_bytes / 1e6,
            "compile_ms": (t1 - t0) / 1e6,
            "first_run_ms": (t3 - t2) / 1e6,
            "unload_ms": (t5 - t4) / 1e6,
        }

    return ctx.guarded(row, body)


def _cache_row(ctx: BenchContext) -> Row:
    program = conv_chain(256, SPATIAL, 2, seed=7, opset=ctx.opset)
    row = Row("cache hit, 2x conv 256ch", {"part": "cache"})

    def body() -> None:
        feeds = random_feeds(program)
        with ctx.compile(program):
            pass  # the one real compile; later identical compiles are served from the content cache
        times = []
        with ctx.counting() as spent:
            for _ in range(CACHE_HITS):
                t0 = time.perf_counter_ns()
                kernel = ctx.compile(program)
                times.append(time.perf_counter_ns() - t0)
                kernel.close()
        with ctx.compile(program) as kernel:
            kernel_feeds(kernel, feeds)
            kernel.run()
            ctx.check(kernel, program, feeds, row)
        row.metrics = {"hit_us": statistics.median(times) / 1e3}
        if spent():
            # A hit must not compile; if it did, the figure is not a cache-hit cost.
            row.verified = False
            row.note = f"{spent()} compile(s) spent during {CACHE_HITS} expected cache hits"

    return ctx.guarded(row, body)


def _reload_row(ctx: BenchContext, target: str) -> Row:
    """Compile+load through the core, then time ``unload`` and ``load`` of the same model: what a process pays to
    bring back a model it compiled earlier without spending budget (maderix ``test_weight_reload.m`` measured
    3.8 ms on M5, ane-private-api.md §10). Checked by evaluating after the reload."""
    program = identity_program(64, 32, scale=0.75, opset=ctx.opset)
    row = Row(f"reload 64x32 ({target})", {"part": "reload", "via": target})

    def body() -> None:
        with _on_target(target):
            budget.check_compile("the compile suite's reload row", backend="ane")
            feeds = random_feeds(program)
            t0 = time.perf_counter_ns()
            model = _core.ane.compile(program.to_mil(), program.weights())
            t1 = time.perf_counter_ns()
            with model:
                model.unload()
                t2 = time.perf_counter_ns()
                model.load()
                t3 = time.perf_counter_ns()
                x, y = _core.Surface((1, 64, 1, 32)), _core.Surface((1, 64, 1, 32))
                x.write(feeds["x"])
                model.evaluate([x], [y], "standard", DEFAULT_QOS)
                ctx.check_outputs({"y": y.read().reshape(1, 64, 1, 32)}, program, feeds, row)
        row.metrics = {"compile_ms": (t1 - t0) / 1e6, "unload_ms": (t2 - t1) / 1e6, "load_ms": (t3 - t2) / 1e6}

    return ctx.guarded(row, body)


@contextlib.contextmanager
def _on_target(target: str) -> Iterator[None]:
    if target == "fake":
        from ...testing import fake_ane

        with fake_ane(mode="reference"):
            yield
    else:
        yield


def _pool_row(ctx: BenchContext) -> Row:
    n = QUICK_POOL_COMPILES if ctx.quick else POOL_COMPILES
    row = Row(f"pool: {n} compiles, {POOL_BUDGET} per worker", {"part": "pool"})

    def body() -> None:
        compile_ms = []
        with WorkerPool(per_worker=POOL_BUDGET, max_workers=3) as pool:
            for i in range(n):
                # Distinct programs (a training loop with new constant weights each step): every one compiles.
                program = identity_program(64, 32, scale=1.0 + i / 64, opset=ctx.opset)
                feeds = random_feeds(program, i)
                t0 = time.perf_counter_ns()
                kernel = pool.compile(program, backend=ctx.backend)
                compile_ms.append((time.perf_counter_ns() - t0) / 1e6)
                with kernel:
                    kernel_feeds(kernel, feeds)
                    kernel.run()
                    if i == n - 1:
                        ctx.check(kernel, program, feeds, row)
            stats = pool.snapshot()
        stalls = [s * 1e3 for s in stats.stalls]
        row.metrics = {
            "compile_ms": statistics.median(compile_ms),
            "stall_ms": statistics.median(stalls) if stalls else None,
            "stall_max_ms": max(stalls) if stalls else None,
            "recycles": float(stats.recycles),
        }
        row.note = f"{stats.workers_started} worker processes started; compile_ms is the median through the pool"

    return ctx.guarded(row, body)
