"""Surface I/O throughput: Surface.write / Surface.read against numpy astype and a plain fp16 memcpy.

For tensors from [1,64,1,32] to [1,4096,1,4096] this times, in one run:

* ``Surface.write`` from float32 (fp32 -> fp16 conversion into the surface, lock/unlock included),
* ``Surface.read`` to float32,
* numpy ``astype(np.float16)`` of the same data (allocating, as a user would call it),
* ``np.copyto`` of the fp16 bytes into a preallocated array (memcpy: the bandwidth ceiling).

Targets (issue 2, x86-64 with F16C, tensors >= 1 MiB): write >= 10x astype and >= 0.4x memcpy, in elements/s.

A second table converts hostile layouts of a 4096 x 4096 input (broadcast scalar / row / column, strided,
transposed, big-endian, int64) with ``anekit.fp16.to_fp16`` and with numpy ``astype(np.float16)``: throughput
(ratio in the same run) and peak memory, as the growth of the peak resident set (VmHWM, Linux) of a fresh
process across the one conversion, beyond the 32 MiB output. Target (issue 11 item 12): anekit needs no more
than the output plus a bounded chunk (<= 4 MiB beyond it), i.e. never a full intermediate copy of the input.

Usage: python benchmarks/bench_io.py [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable

import numpy as np

from _timing import machine, time_call, write_json
from anekit import fp16
from anekit.bench.suites.io import SHAPES, bench_shape

LAYOUT_SIDE = 4096
#: Input builders of the layout table; each returns a 4096 x 4096 array (a view where the layout allows).
LAYOUTS: dict[str, Callable[[], np.ndarray]] = {
    "broadcast scalar f32": lambda: np.broadcast_to(np.float32(1.5), (LAYOUT_SIDE, LAYOUT_SIDE)),
    "broadcast row f32": lambda: np.broadcast_to(np.linspace(-9, 9, LAYOUT_SIDE, dtype=np.float32), (LAYOUT_SIDE,) * 2),
    "broadcast column f64": lambda: np.broadcast_to(np.linspace(-9, 9, LAYOUT_SIDE)[:, None], (LAYOUT_SIDE,) * 2),
    "strided [:, ::2] f32": lambda: np.ones((LAYOUT_SIDE, 2 * LAYOUT_SIDE), np.float32)[:, ::2],
    "transposed f32": lambda: np.ones((LAYOUT_SIDE, LAYOUT_SIDE), np.float32).T,
    "big-endian >f4": lambda: np.ones((LAYOUT_SIDE, LAYOUT_SIDE), ">f4"),
    "int64": lambda: np.ones((LAYOUT_SIDE, LAYOUT_SIDE), np.int64),
}
CONVERTERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "anekit": fp16.to_fp16,
    "numpy": lambda a: a.astype(np.float16),
}


def peak_rss() -> int:
    """This process's peak resident set in bytes: VmHWM, which (unlike ru_maxrss) starts afresh at exec."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def peak_growth_child(layout: str, converter: str) -> None:
    """In a fresh process: print the growth of the peak RSS across one conversion (bytes)."""
    src = LAYOUTS[layout]()
    before = peak_rss()
    out = CONVERTERS[converter](src)
    print(json.dumps({"grown": peak_rss() - before, "out_bytes": out.nbytes}))


def peak_growth(layout: str, converter: str) -> float:
    """MiB of peak RSS beyond the output that one conversion needed, measured in a fresh process."""
    proc = subprocess.run(
        [sys.executable, __file__, "--peak-child", layout, converter], capture_output=True, text=True, check=True
    )
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return (r["grown"] - r["out_bytes"]) / 2**20


def bench_layouts(min_time: float) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, make in LAYOUTS.items():
        src = make()
        got, want = fp16.to_fp16(src), src.astype(np.float16)
        np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))  # what is timed is right
        del got, want
        t = {k: time_call(lambda f=f, a=src: f(a), min_time=min_time)["median_s"] for k, f in CONVERTERS.items()}
        row: dict[str, object] = {"layout": name, "elements": src.size}
        for k in CONVERTERS:
            row[f"{k}_gelem_s"] = src.size / t[k] / 1e9
            row[f"{k}_extra_mib"] = peak_growth(name, k)
        row["anekit_vs_numpy"] = t["numpy"] / t["anekit"]
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write results to this file")
    ap.add_argument("--quick", action="store_true", help="shorter timing (smoke test)")
    ap.add_argument("--peak-child", nargs=2, metavar=("LAYOUT", "CONVERTER"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.peak_child:
        peak_growth_child(*args.peak_child)
        return 0
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

    layout_rows = bench_layouts(min_time)
    side = f"{LAYOUT_SIDE}x{LAYOUT_SIDE}"
    print(f"\nto_fp16 of a {side} input (32 MiB fp16 output): Gelem/s and MiB of peak RSS beyond the output")
    print(f"{'layout':>22} {'anekit':>8} {'numpy':>8} {'ratio':>6} {'anekit MiB':>10} {'numpy MiB':>10}")
    bounded = True
    for r in layout_rows:
        print(
            f"{r['layout']:>22} {r['anekit_gelem_s']:8.2f} {r['numpy_gelem_s']:8.2f} {r['anekit_vs_numpy']:6.1f} "
            f"{r['anekit_extra_mib']:10.1f} {r['numpy_extra_mib']:10.1f}"
        )
        bounded &= float(r["anekit_extra_mib"]) <= 4  # type: ignore[arg-type]
    print(f"target (anekit peak <= output + 4 MiB for every layout): {'MET' if bounded else 'NOT MET'}")
    write_json(
        args.json,
        {
            "benchmark": "bench_io",
            "machine": m,
            "rows": rows,
            "layout_rows": layout_rows,
            "targets_met": ok and bounded,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
