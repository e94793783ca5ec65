"""Conversions of strided, broadcast, byte-swapped and integer inputs need no full intermediate copy.

Issue #11 item 12: ``fp16.to_fp16(np.broadcast_to(np.float32(1), (2**20, 2**12)))`` needed 24 GB because the
input was first materialised as a dense float array. Each case runs in a fresh interpreter and measures the
growth of its peak resident set (``VmHWM``) across the one conversion: it must stay within the output's
size plus a bounded allowance (the per-thread staging blocks are 32 KiB; the allowance covers allocator and
thread-stack noise), far below output + one dense copy of the input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

MIB = 1 << 20
#: Extra resident memory a conversion may need beyond its output (a dense copy would be >= 64 MiB here).
ALLOWANCE = 24 * MIB

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import anekit
    from anekit import fp16

    case = sys.argv[1]
    n_rows, n_cols = 2**14, 2**12  # 2**26 elements: a dense float32 copy is 256 MiB
    if case == "surface-write-broadcast":
        target = anekit.Surface((1, n_rows // 2, 1, n_cols))
        with target.view() as v:
            v[...] = 0  # fault every page in before the baseline
    if case == "to_fp16-strided-big-endian":
        big = np.ones((n_rows // 2, n_cols * 2), dtype=">f4")
        src = big[:, ::2]
    elif case == "to_fp32-transposed-fp16":
        src = np.ones((n_cols, n_rows), dtype=np.float16).T
    elif case == "to_fp16-int64-broadcast":
        src = np.broadcast_to(np.int64(7), (n_rows, n_cols))
    else:
        src = np.broadcast_to(np.float64(1.5) if "round" in case else np.float32(1), (n_rows, n_cols))

    def peak():
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork + exec, so a large
        # parent (the test process) would hide any growth here.
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

    before = peak()
    if case.startswith("to_fp16"):
        out = fp16.to_fp16(src)
    elif case.startswith("to_fp32"):
        out = fp16.to_fp32(src)
    elif case.startswith("round_fp16"):
        out = fp16.round_fp16(src)
    else:
        target.write(src[: n_rows // 2])
    grown = peak() - before
    out_bytes = 0 if case.startswith("surface") else out.nbytes  # the surface existed before the baseline
    if case.startswith("surface"):
        out = target.read(dtype=np.float16)
    ok = bool(np.all(out == out.flat[0]))
    print(json.dumps({"grown": grown, "out_bytes": int(out_bytes), "uniform": ok}))
    """
)

CASES = [
    "to_fp16-broadcast",
    "to_fp16-strided-big-endian",
    "to_fp16-int64-broadcast",
    "to_fp32-transposed-fp16",
    "round_fp16-broadcast",
    "surface-write-broadcast",
]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads VmHWM from /proc/self/status (Linux)")
@pytest.mark.parametrize("case", CASES)
def test_conversion_peak_memory_is_output_plus_a_bounded_chunk(case: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, case], capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["uniform"], "conversion of a uniform input gave non-uniform values"
    extra = result["grown"] - result["out_bytes"]
    assert extra <= ALLOWANCE, (
        f"{case}: peak RSS grew {result['grown'] / MIB:.0f} MiB for a {result['out_bytes'] / MIB:.0f} MiB "
        f"output ({extra / MIB:.0f} MiB beyond it; allowed {ALLOWANCE / MIB:.0f})"
    )
