"""Surface I/O throughput: Surface.write / Surface.read against numpy astype and a plain fp16 memcpy.

For tensors from [1,64,1,32] to [1,4096,1,4096] this times, in one run:

* ``Surface.write`` from float32 (fp32 -> fp16 conversion into the surface, lock/unlock included),
* ``Surface.read`` to float32,
* numpy ``astype(np.float16)`` of the same data (allocating, as a user would call it),
* ``np.copyto`` of the fp16 bytes into a preallocated array (memcpy: the bandwidth ceiling).

Targets (issue 2, x86-64 with F16C, tensors >= 1 MiB): write >= 10x astype and >= 0.4x memcpy, in elements/s.

Usage: python benchmarks/bench_io.py [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import anekit
from _timing import machine, time_call, write_json

SHAPES = [(64, 32), (256, 256), (768, 256), (1024, 1024), (2048, 2048), (4096, 4096)]


def bench_shape(c: int, s: int, min_time: float) -> dict[str, float]:
    rng = np.random.default_rng(0)
    src = rng.standard_normal((1, c, 1, s)).astype(np.float32)
    surf = anekit.Surface((1, c, 1, s))
    out = np.empty_like(src)
    half = src.astype(np.float16)
    half_dst = np.empty_like(half)
    n = src.size
    times = {
        "write": time_call(lambda: surf.write(src), min_time=min_time)["median_s"],
        "read": time_call(lambda: surf.read(out=out), min_time=min_time)["median_s"],
        "astype": time_call(lambda: src.astype(np.float16), min_time=min_time)["median_s"],
        "memcpy": time_call(lambda: np.copyto(half_dst, half), min_time=min_time)["median_s"],
    }
    # Correctness of what was timed: a benchmark that never checks its result measures nothing.
    np.testing.assert_array_equal(surf.read(), half.astype(np.float32))
    row: dict[str, float] = {"C": c, "S": s, "elements": n, "fp32_mib": n * 4 / 2**20}
    for k, t in times.items():
        row[f"{k}_s"] = t
        row[f"{k}_gelem_s"] = n / t / 1e9
    row["write_vs_astype"] = times["astype"] / times["write"]
    row["write_vs_memcpy"] = times["memcpy"] / times["write"]
    row["read_vs_memcpy"] = times["memcpy"] / times["read"]
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write results to this file")
    ap.add_argument("--quick", action="store_true", help="shorter timing (smoke test)")
    args = ap.parse_args(argv)
    min_time = 0.05 if args.quick else 0.3
    rows = [bench_shape(c, s, min_time) for c, s in SHAPES]
    m = machine()
    print(f"machine: {m['cpu']} ({m['cores']} cores), {m['platform']}, fp16 path {m.get('fp16_simd')}")
    print("throughput in Gelem/s")
    cols = ("write", "read", "astype", "memcpy")
    print(f"{'shape':>18} {'MiB':>6} " + " ".join(f"{c:>8}" for c in cols) + f"  {'w/astype':>8} {'w/memcpy':>8}")
    ok = True
    for r in rows:
        shape = f"[1,{r['C']},1,{r['S']}]"
        rates = " ".join(f"{r[f'{c}_gelem_s']:8.2f}" for c in cols)
        print(f"{shape:>18} {r['fp32_mib']:6.1f} {rates}  {r['write_vs_astype']:8.1f} {r['write_vs_memcpy']:8.2f}")
        if r["fp32_mib"] >= 1:
            ok &= r["write_vs_astype"] >= 10 and r["write_vs_memcpy"] >= 0.4
    verdict = "MET" if ok else "NOT MET"
    print(f"targets (>= 1 MiB: write >= 10x astype and >= 0.4x memcpy): {verdict}")
    write_json(args.json, {"benchmark": "bench_io", "machine": m, "rows": rows, "targets_met": ok})
    return 0


if __name__ == "__main__":
    sys.exit(main())
