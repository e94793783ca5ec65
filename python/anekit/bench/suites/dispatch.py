"""dispatch: per-kernel latency over a size sweep × every execution path, split into host write, evaluate
and read.

Two kernel families: the 1×1 convs ``C -> C`` of dev-erik's path table (``test_bench_paths.m``,
ane-private-api.md §17.4: 64×32 ... 768×256), so the two tables read side by side; and ``y = x · 0.5`` from
64×32 to 4096×1024, whose cost is dispatch and data movement only. Each path is the one named in
ane-private-api.md §17 (standard ``evaluateWithQoS:``, real-time, ``processRequest:``, ``doEvaluateDirect``);
a path the framework does not offer is not timed and the note says so.

Off a Mac the kernels run on the reference executor, and also through the real Objective-C++ backend driving
the bundled fake framework (``anekit.testing.fake_ane(mode="reference")``), which offers every path: those
rows time anekit's host side and the fake's bookkeeping, not a Neural Engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import partial

import numpy as np

from ...errors import AneUnavailableError
from ...mil.ir import Program
from ...runtime.compile import resolve_backend
from ...runtime.kernel import Kernel
from ..context import BenchContext, random_feeds
from ..programs import conv_chain, scale_program
from ..results import Row, SuiteResult

NAME = "dispatch"
DESCRIPTION = "per-kernel latency by size and execution path: host write, evaluate, read"

#: dev-erik's path-table configurations (ane-private-api.md §17.4).
CONV_SIZES = [(64, 32), (128, 64), (256, 64), (512, 64), (768, 256)]
SCALE_SIZES = [(64, 32), (256, 256), (768, 256), (1024, 1024), (2048, 1024), (4096, 1024)]
QUICK_CONV_SIZES = [(64, 32), (256, 64)]
QUICK_SCALE_SIZES = [(64, 32), (1024, 1024)]


def _configs(ctx: BenchContext) -> list[tuple[str, int, int]]:
    conv, scale = (QUICK_CONV_SIZES, QUICK_SCALE_SIZES) if ctx.quick else (CONV_SIZES, SCALE_SIZES)
    return [("conv", c, s) for c, s in conv] + [("scale", c, s) for c, s in scale]


def _targets(ctx: BenchContext) -> list[str]:
    # (The fake needs compiles of its own: none when the run recycles, since pool workers never load it.)
    return [ctx.backend] + (["fake"] if ctx.fake and ctx.backend == "reference" and not ctx.recycled else [])


def planned_compiles(ctx: BenchContext) -> int:
    return len(_configs(ctx)) * len(_targets(ctx))


@contextlib.contextmanager
def _target(name: str) -> Iterator[str]:
    """Yields the backend to compile on for target ``name`` (``fake``: the ANE backend on the fake framework)."""
    if name != "fake":
        yield name
        return
    from ...testing import fake_ane

    with fake_ane(mode="reference"):
        yield "ane"


def run(ctx: BenchContext) -> SuiteResult:
    result = SuiteResult(
        NAME,
        DESCRIPTION,
        ctx.measurement.to_dict(),
        columns={
            "write_us": ("write", "us"),
            "eval_us": ("evaluate", "us"),
            "eval_p10_us": ("eval p10", "us"),
            "eval_p90_us": ("eval p90", "us"),
            "read_us": ("read", "us"),
            "total_us": ("total", "us"),
        },
    )
    configs = _configs(ctx)
    table: dict[str, dict[str, float | None]] = {}
    for target in _targets(ctx):
        try:
            with _target(target) as backend:
                paths = resolve_backend(backend).paths
                for i, (kind, c, s) in enumerate(configs):
                    ctx.say(f"dispatch [{target}] {i + 1}/{len(configs)}: {kind} {c}x{s}, paths {', '.join(paths)}")
                    rows = _measure(ctx, target, backend, kind, c, s, paths)
                    result.rows.extend(rows)
                    for r in rows:
                        key = f"{target} {kind} {c}x{s}"
                        table.setdefault(key, {})[r.params["path"]] = (
                            None if r.flagged else (r.metrics.get("eval_us") or 0.0) / 1e3
                        )
                missing = [p for p in ("standard", "realtime", "process_request", "direct") if p not in paths]
                if missing:
                    result.notes.append(f"{target}: paths not offered here, not timed: {', '.join(missing)}")
        except AneUnavailableError as exc:
            result.notes.append(f"{target}: not run: {exc}")
    result.summary["evaluate ms by path (cf. ane-private-api.md §17.4)"] = table
    if ctx.recycled and ctx.fake:
        result.notes.append("fake-framework rows skipped: the run compiles in recycling-pool workers")
    return result


def _measure(
    ctx: BenchContext, target: str, backend: str, kind: str, c: int, s: int, paths: tuple[str, ...]
) -> list[Row]:
    program = conv_chain(c, s, 1, opset=ctx.opset) if kind == "conv" else scale_program(c, s, opset=ctx.opset)
    feeds = random_feeds(program)
    x = feeds["x"]
    rows = [
        Row(f"{target} {kind} {c}x{s} {p}", {"via": target, "kernel": kind, "C": c, "S": s, "path": p}) for p in paths
    ]

    def body() -> None:
        with ctx.compile(program, backend=backend) as kernel:
            surface_in, surface_out = kernel.inputs["x"], kernel.outputs["y"]
            out = np.empty(surface_out.shape, np.float32)
            write = ctx.time(lambda: surface_in.write(x))
            read = ctx.time(lambda: surface_out.read(out=out))
            for row, path in zip(rows, paths, strict=True):
                ctx.guarded(row, partial(_one_path, ctx, kernel, program, feeds, row, path, write, read))

    # A compile failure marks every path's row.
    holder = Row("compile")
    ctx.guarded(holder, body)
    if holder.error:
        for r in rows:
            r.error = holder.error
    return rows


def _one_path(
    ctx: BenchContext,
    kernel: Kernel,
    program: Program,
    feeds: dict[str, np.ndarray],
    row: Row,
    path: str,
    write: dict[str, float],
    read: dict[str, float],
) -> None:
    """Time ``kernel.run(path)`` and check its outputs into ``row``; write/read timings are per kernel."""
    kernel.inputs["x"].write(feeds["x"])
    ev = ctx.time(lambda: kernel.run(path))
    ctx.check(kernel, program, feeds, row)
    row.metrics = {
        "write_us": write["median_s"] * 1e6,
        "eval_us": ev["median_s"] * 1e6,
        "eval_p10_us": ev["p10_s"] * 1e6,
        "eval_p90_us": ev["p90_s"] * 1e6,
        "read_us": read["median_s"] * 1e6,
        "total_us": (write["median_s"] + ev["median_s"] + read["median_s"]) * 1e6,
    }
