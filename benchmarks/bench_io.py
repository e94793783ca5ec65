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

from _timing import machine, write_json
from anekit.bench.suites.io import SHAPES, bench_shape


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write results to this file")
    ap.add_argument("--quick", action="store_true", help="shorter timing (smoke test)")
    args = ap.parse_args(argv)
    min_time = 0.05 if args.quick else 0.3
    rows = []
    for c, s in SHAPES:
        row, correct = bench_shape(c, s, min_time)
        # A benchmark that never checks its result measures nothing.
        if not correct:
            raise SystemExit(f"bench_io: the surface of [1,{c},1,{s}] does not hold what was written")
        rows.append(row)
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
