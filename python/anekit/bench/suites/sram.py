"""sram: one 1×1 conv of growing width -> throughput and GFLOPS per MB of weights, with the cliffs (peak
efficiency, first spill, catastrophic spill) found by :func:`anekit.bench.cliffs.detect_cliffs`.

Method of ``sram_probe.m`` (reference-numbers.md §6): C -> C conv, S = 64 (S = 32 at 8192 channels), weights
C²·2 bytes; upstream's M4 Max curve peaks in efficiency at 12.5 MB and spills at 32 MB and 128 MB.
"""

from __future__ import annotations

from ..cliffs import detect_cliffs
from ..context import BenchContext
from ..programs import conv_chain, cost
from ..results import Row, SuiteResult

NAME = "sram"
DESCRIPTION = "one 1x1 conv of growing width: GFLOPS per MB of weights and the SRAM cliffs"

CHANNELS = [256, 512, 1024, 1536, 2048, 2560, 3072, 3584, 4096, 4608, 5120, 6144, 8192]
QUICK_CHANNELS = [256, 512, 1024, 2048]


def _spatial(c: int) -> int:
    return 32 if c >= 8192 else 64


def planned_compiles(ctx: BenchContext) -> int:
    return len(QUICK_CHANNELS if ctx.quick else CHANNELS)


def run(ctx: BenchContext) -> SuiteResult:
    channels = QUICK_CHANNELS if ctx.quick else CHANNELS
    result = SuiteResult(
        NAME,
        DESCRIPTION,
        ctx.measurement.to_dict(),
        columns={
            "weights_mb": ("weights", "MB"),
            "ms": ("median", "ms"),
            "tflops": ("throughput", "TFLOPS"),
            "tflops_low": ("p90-based", "TFLOPS"),
            "tflops_high": ("p10-based", "TFLOPS"),
            "gflops_per_mb": ("efficiency", "GFLOPS/MB"),
        },
    )
    for i, c in enumerate(channels):
        s = _spatial(c)
        ctx.say(f"sram {i + 1}/{len(channels)}: conv {c}ch sp{s} ({c * c * 2 / 1e6:.1f} MB of weights)")
        program = conv_chain(c, s, 1, seed=i, opset=ctx.opset)
        k = cost(program)
        row = Row(f"conv {c}ch sp{s}", {"C": c, "S": s})
        t = ctx.measure(program, row)
        if t is not None:
            mb = k.weight_bytes / 1e6
            tflops = k.flops / t["median_s"] / 1e12
            row.metrics = {
                "weights_mb": mb,
                "ms": t["median_s"] * 1e3,
                "tflops": tflops,
                "tflops_low": k.flops / t["p90_s"] / 1e12,
                "tflops_high": k.flops / t["p10_s"] / 1e12,
                "gflops_per_mb": tflops * 1e3 / mb,
                "flop_per_byte": k.intensity,
            }
        result.rows.append(row)
    good = [r for r in result.rows if not r.flagged and r.metrics.get("tflops") is not None]
    if len(good) >= 2:
        cliffs = detect_cliffs(
            [r.metrics["weights_mb"] or 0.0 for r in good],
            [r.metrics["tflops"] or 0.0 for r in good],
            low=[r.metrics["tflops_low"] or 0.0 for r in good],
            high=[r.metrics["tflops_high"] or 0.0 for r in good],
        )
        result.summary["cliffs (MB of weights)"] = cliffs.to_dict()
    else:
        result.summary["cliffs (MB of weights)"] = None
        result.notes.append("fewer than two verified sizes: no cliff detection")
    if not ctx.quick:
        result.notes.append("upstream (M4 Max): peak efficiency 12.5 MB, first spill 32 MB, catastrophic 128 MB")
    return result
