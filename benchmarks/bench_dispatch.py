"""Host overhead of dispatching a kernel, measured against the fake framework in echo mode.

A [1, 768, 1, 256] fp16 in/out kernel (about 0.2 ms of work on a real ANE, docs/internals/reference-numbers.md) is
compiled through the real Objective-C++ backend against the bundled fake AppleNeuralEngine framework in "echo" mode,
whose evaluate only copies the input surface to the output surface. Timed in one run:

* ``Kernel.run()``: the zero-copy path (Python -> C++ -> request -> framework);
* ``Kernel.__call__`` with fp32 numpy in and out (conversion into and out of the surfaces included);
* the floor under both: ``_core.ane.Model.evaluate`` called directly, and a plain ``memmove`` of the
  surface's bytes (what echo mode itself costs).

The four alternate in rounds of about 25 ms each (``_timing.time_interleaved``), and host overhead is the
median over rounds of (time per call - echo copy) within a round: this shared machine changes speed in phases
of seconds, which would otherwise land in one measurement and not in its baseline.

Targets (issue 5): run() host overhead <= 20 us; __call__ <= 60 us. Needs a build with
``-Ccmake.define.ANEKIT_BUILD_ANE=ON`` (Linux: clang + GNUstep).

Usage: python benchmarks/bench_dispatch.py [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import ctypes
import sys

import numpy as np

import anekit
from _timing import machine, paired_median, time_interleaved, write_json
from anekit import testing
from anekit.doctor.programs import identity_program

C, S = 768, 256


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write results to this file")
    ap.add_argument("--quick", action="store_true", help="shorter timing (smoke test)")
    args = ap.parse_args(argv)
    try:
        ctx = testing.fake_ane(mode="echo")
        fake = ctx.__enter__()
    except anekit.AneUnavailableError as exc:
        print(f"bench_dispatch: skipped: {exc}")
        return 0
    try:
        program = identity_program(C, S)
        with anekit.compile(program, backend="ane") as kernel:
            x = np.random.default_rng(0).standard_normal((C, S)).astype(np.float32)
            out = kernel(x=x)["y"]
            # Echo mode copies the input surface: the result must be the fp16-rounded input.
            np.testing.assert_array_equal(out.reshape(C, S), x.astype(np.float16).astype(np.float32))
            model = kernel._exe
            ins, outs = list(kernel.inputs.values()), list(kernel.outputs.values())
            src_ptr, dst_ptr, nbytes = ins[0].data_ptr, outs[0].data_ptr, ins[0].nbytes
            # What echo mode itself does per evaluation: copy the input surface's bytes to the output surface.
            timed = time_interleaved(
                {
                    "run": kernel.run,
                    "call": lambda: kernel(x=x),
                    "eval": lambda: model.evaluate(ins, outs, path="standard", qos=21),
                    "copy": lambda: ctypes.memmove(dst_ptr, src_ptr, nbytes),
                },
                rounds=8 if args.quick else 40,
            )
        evals = fake.stats()["evals"]
    finally:
        ctx.__exit__(None, None, None)
    t_copy = timed["copy"]
    rows = {
        "Kernel.run": timed["run"],
        "Kernel.__call__ (fp32 in/out)": timed["call"],
        "executable.evaluate (no Kernel)": timed["eval"],
        "echo copy alone (memmove)": t_copy,
    }
    m = machine()
    print(f"machine: {m['cpu']} ({m['cores']} cores), {m['platform']}; fake framework, echo mode, [1,{C},1,{S}] fp16")
    print(f"{'':34} {'median us':>10} {'p10 us':>8} {'p90 us':>8}")
    for label, t in rows.items():
        print(f"{label:34} {t['median_s'] * 1e6:10.1f} {t['p10_s'] * 1e6:8.1f} {t['p90_s'] * 1e6:8.1f}")
    # Host overhead: everything but the work the (fake) device does, i.e. minus the echo copy measured alone.
    # (The fake's own bookkeeping per evaluation still counts as overhead, so this errs on the high side.)
    # Rounds alternate the four timings, so each round's difference is taken within one phase of the machine.
    run_overhead = paired_median(timed["run"]["round_median_s"], t_copy["round_median_s"])
    call_overhead = paired_median(timed["call"]["round_median_s"], t_copy["round_median_s"])
    ok = run_overhead <= 20e-6 and call_overhead <= 60e-6
    print(
        f"host overhead (minus the echo copy): run {run_overhead * 1e6:.1f} us (target <= 20), "
        f"__call__ {call_overhead * 1e6:.1f} us (target <= 60): {'MET' if ok else 'NOT MET'}"
    )
    print(f"fake evaluations performed: {evals}")
    write_json(
        args.json,
        {
            "benchmark": "bench_dispatch",
            "machine": m,
            "shape": [1, C, 1, S],
            "results": {k: v for k, v in rows.items()},
            "run_overhead_s": run_overhead,
            "call_overhead_s": call_overhead,
            "targets_met": ok,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
