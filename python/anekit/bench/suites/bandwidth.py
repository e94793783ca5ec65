"""bandwidth: weight-streaming kernels at one token (an LM-head-like linear) -> GB/s of weights.

At one token every weight is read once per evaluation, so weight bytes / time is the bandwidth the ANE gets
from memory: directly comparable with ANEMLL-Bench's per-chip table (llama lm_head through Core ML, about
60-70 GB/s on base M1-M5 and about 120 GB/s on M3 Max / M4 Pro / M4 Max; reference-numbers.md §9.2). The
token is padded to 32 columns (the ``ane-single-token`` rule); a full run also times the unpadded form so a
Mac shows whether single-token kernels are right on it (the check column says).
"""

from __future__ import annotations

from ..context import BenchContext
from ..programs import cost, linear_head
from ..results import Row, SuiteResult

NAME = "bandwidth"
DESCRIPTION = "LM-head-like linear at one token: GB/s of weights streamed"

#: (d_in, d_out, columns): 32 MB, 64 MB and 128 MB of fp16 weights (beyond any on-chip memory).
CONFIGS = [(2048, 8192, 32), (4096, 8192, 32), (4096, 16384, 32), (2048, 8192, 1)]
QUICK_CONFIGS = [(1024, 4096, 32), (2048, 8192, 32)]

#: Published figures to read these against (reference-numbers.md §9.2; docs/bench.md has the sources).
ANEMLL_NOTE = "ANEMLL-Bench (Core ML lm_head): ~60-70 GB/s base M1-M5, ~120 GB/s M3 Max / M4 Pro / M4 Max"


def planned_compiles(ctx: BenchContext) -> int:
    return len(QUICK_CONFIGS if ctx.quick else CONFIGS)


def weight_row(ctx: BenchContext, d_in: int, d_out: int, columns: int, fmt: str, seed: int) -> Row:
    """Time one linear head in weight format ``fmt``: stored MB, latency, GB/s stored and fp16-equivalent."""
    program = linear_head(d_in, d_out, weights=fmt, columns=columns, seed=seed, opset=ctx.opset)
    k = cost(program)
    row = Row(f"{fmt} {d_in}->{d_out} x{columns}", {"format": fmt, "d_in": d_in, "d_out": d_out, "columns": columns})
    t = ctx.measure(program, row)
    if t is not None:
        fp16_bytes = 2 * d_in * d_out
        row.metrics = {
            "stored_mb": k.weight_bytes / 1e6,
            "ms": t["median_s"] * 1e3,
            "p10_ms": t["p10_s"] * 1e3,
            "p90_ms": t["p90_s"] * 1e3,
            "gbps": k.weight_bytes / t["median_s"] / 1e9,
            "fp16_equiv_gbps": fp16_bytes / t["median_s"] / 1e9,
            "tflops": k.flops / t["median_s"] / 1e12,
            "flop_per_byte": k.intensity,
        }
    return row


def run(ctx: BenchContext) -> SuiteResult:
    configs = QUICK_CONFIGS if ctx.quick else CONFIGS
    result = SuiteResult(
        NAME,
        DESCRIPTION,
        ctx.measurement.to_dict(),
        columns={
            "stored_mb": ("weights", "MB"),
            "ms": ("median", "ms"),
            "p10_ms": ("p10", "ms"),
            "p90_ms": ("p90", "ms"),
            "gbps": ("bandwidth", "GB/s"),
        },
    )
    for i, (d_in, d_out, columns) in enumerate(configs):
        ctx.say(f"bandwidth {i + 1}/{len(configs)}: linear {d_in}->{d_out}, {columns} column(s)")
        result.rows.append(weight_row(ctx, d_in, d_out, columns, "fp16", i))
    good = [r for r in result.rows if not r.flagged and r.metrics.get("gbps")]
    if good:
        best = max(good, key=lambda r: r.metrics["gbps"] or 0.0)
        result.summary["best"] = f"{best.name}: {best.metrics['gbps']:.4g} GB/s (verified)"
    result.notes.append(ANEMLL_NOTE)
    return result
