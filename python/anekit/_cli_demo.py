"""``anekit demo``: the README's main job.

Builds a transformer block (d=768, 12 heads, seq=256 by default), compiles it on the best available backend
(the ANE on a Mac, the reference executor elsewhere), runs it, verifies it against the reference executor, and
prints timings, including the host-side cost of moving the activations through ANE surfaces.
"""

from __future__ import annotations

import argparse
import time
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("demo", help="build, compile, run and verify a transformer block")
    p.add_argument("--d", type=int, default=768, help="model width (default 768)")
    p.add_argument("--heads", type=int, default=12, help="attention heads (default 12)")
    p.add_argument("--seq", type=int, default=256, help="sequence length (default 256)")
    p.add_argument("--runs", type=int, default=5, help="timed runs (default 5)")
    p.add_argument(
        "--backend",
        choices=("best", "ane", "reference"),
        default="best",
        help="backend to run on: the best usable one (default), the ANE, or the reference executor",
    )
    p.set_defaults(func=run)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f} ms"


def _median_time(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import anekit
    from anekit.examples import transformer_block

    from ._cli_common import CliError
    from ._info import format_info
    from .progress import progress

    for flag in ("d", "heads", "seq", "runs"):
        if getattr(args, flag) <= 0:
            raise CliError(f"--{flag} must be positive, got {getattr(args, flag)}", hint="e.g. --d 768 --heads 12")
    if args.d % args.heads:
        raise CliError(
            f"--heads {args.heads} does not divide --d {args.d}",
            hint=f"each head gets d/heads channels; e.g. --heads {_divisor_near(args.d, args.heads)}",
        )
    print(format_info(anekit.info()))
    print()
    t0 = time.perf_counter()
    with progress(f"building the transformer block (d={args.d})"):
        program = transformer_block(args.d, args.heads, args.seq)
    t_build = time.perf_counter() - t0
    summary = (
        f"{len(program.main.operations)} ops, {sum(len(b) for b in program.weights().values()) / 2**20:.1f} MiB weights"
    )
    print(f"transformer block d={args.d} heads={args.heads} seq={args.seq}: {summary}")
    print(f"  build        {_ms(t_build)}")
    t0 = time.perf_counter()
    kernel = anekit.compile(program, backend=None if args.backend == "best" else args.backend)
    print(f"  compile      {_ms(time.perf_counter() - t0)}  on the {kernel.backend} backend")
    x = np.random.default_rng(0).standard_normal((args.d, args.seq)).astype(np.float32)
    with kernel, progress(f"timing {args.runs} runs on the {kernel.backend} backend"):
        # Medians of --runs timings each: a first call also pays one-time costs (thread start, page faults).
        t_in = _median_time(lambda: kernel.inputs["x"].write(x), args.runs)
        t_run = _median_time(kernel.run, args.runs)
        t_out = _median_time(lambda: kernel.outputs["y"].read(), args.runs)
        y = kernel.outputs["y"].read()
    print(f"  input  fp32 -> surface {_ms(t_in)}  (median of {args.runs})")
    print(f"  run                    {_ms(t_run)}  (median of {args.runs})")
    print(f"  output surface -> fp32 {_ms(t_out)}  (median of {args.runs})")
    print(f"  output: shape {y.shape}, finite {bool(np.isfinite(y).all())}, mean |y| {float(np.abs(y).mean()):.4f}")
    # On the ANE this checks the device against the reference's fp16 semantics; on the reference backend it
    # compares those semantics with an fp64 run, i.e. it measures what fp16 costs this block.
    report = anekit.verify(program, {"x": x}, backend=kernel.backend)
    print(report.format())
    if kernel.backend != "reference":  # the device was checked against fp16 semantics: also show what fp16 costs
        with progress("fp64 reference run"):
            fp64 = anekit.reference.run(program, {"x": x.reshape(1, args.d, 1, args.seq)}, precision="fp64")["y"]
        dev = float(np.max(np.abs(y.astype(np.float64) - fp64)))
        scale = float(np.abs(fp64).max())
        print(f"fp16 cost: max |device result - fp64 result| = {dev:.3g} (output scale {scale:.3g})")
    return 0 if report.passed else 1


def _divisor_near(d: int, heads: int) -> int:
    """The divisor of ``d`` closest to ``heads`` (for the hint when heads does not divide d)."""
    return min((h for h in range(1, d + 1) if d % h == 0), key=lambda h: (abs(h - heads), h))
