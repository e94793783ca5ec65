"""``python -m anekit demo``: the README's main job on the best available backend."""

from __future__ import annotations

import argparse
import time
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("demo", help="run the end-to-end demo and print timings")
    p.add_argument("--channels", type=int, default=768, help="C of the [1, C, 1, S] tensors (default 768)")
    p.add_argument("--seq", type=int, default=256, help="S of the [1, C, 1, S] tensors (default 256)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import anekit

    from ._info import format_info

    if args.channels <= 0 or args.seq <= 0:
        raise SystemExit(f"demo: --channels and --seq must be positive, got {args.channels} and {args.seq}")
    print(format_info(anekit.info()))
    print()
    shape = (1, args.channels, 1, args.seq)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    surface = anekit.Surface(shape)
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        surface.write(x)
    t_write = (time.perf_counter() - t0) / reps
    out = np.empty_like(x)
    t0 = time.perf_counter()
    for _ in range(reps):
        surface.read(out=out)
    t_read = (time.perf_counter() - t0) / reps
    expected = x.astype(np.float16).astype(np.float32)
    exact = bool(np.array_equal(out, expected))
    rel = float(np.max(np.abs(out - x) / np.maximum(np.abs(x), 1e-3)))
    print(f"surface {surface!r}: {surface.nbytes / 2**20:.2f} MiB")
    print(f"  write fp32 -> fp16: {t_write * 1e6:8.1f} us  ({x.size / t_write / 1e9:.2f} Gelem/s)")
    print(f"  read  fp16 -> fp32: {t_read * 1e6:8.1f} us  ({x.size / t_read / 1e9:.2f} Gelem/s)")
    print(f"  bit-exact with numpy astype: {exact}; max relative fp16 error {rel:.2e} (fp16 unit roundoff 4.9e-04)")
    return 0 if exact else 1
