"""peak: chains of 1×1 convs (``inmem_peak``'s graph, reference-numbers.md §2.1) -> TFLOPS and % of the chip's
nominal fp16 peak, every result checked against the reference executor (upstream's never were, §1)."""

from __future__ import annotations

from ..context import BenchContext
from ..machine import nominal_fp16_tflops
from ..programs import conv_chain, cost
from ..results import Row, SuiteResult

NAME = "peak"
DESCRIPTION = "1x1 conv chains (depth x channels x spatial): TFLOPS, % of nominal fp16 peak"

#: (channels, spatial, depth), after inmem_peak's sweep (reference-numbers.md §2.1; best case 512, 64, 128).
CONFIGS = [(256, 64, 64), (256, 64, 128), (384, 64, 64), (512, 64, 32), (512, 64, 64), (512, 64, 128)]
QUICK_CONFIGS = [(256, 64, 8), (512, 64, 16)]


def planned_compiles(ctx: BenchContext) -> int:
    return len(QUICK_CONFIGS if ctx.quick else CONFIGS)


def run(ctx: BenchContext) -> SuiteResult:
    configs = QUICK_CONFIGS if ctx.quick else CONFIGS
    nominal = nominal_fp16_tflops(ctx.chip) if ctx.ane_figures else None
    result = SuiteResult(
        NAME,
        DESCRIPTION,
        ctx.measurement.to_dict(),
        columns={
            "weights_mb": ("weights", "MB"),
            "gflop": ("work", "GFLOP"),
            "ms": ("median", "ms"),
            "p10_ms": ("p10", "ms"),
            "p90_ms": ("p90", "ms"),
            "tflops": ("throughput", "TFLOPS"),
            "pct_nominal": ("of nominal", "%"),
        },
    )
    for i, (c, s, depth) in enumerate(configs):
        ctx.say(f"peak {i + 1}/{len(configs)}: {depth} x conv {c}ch sp{s}")
        program = conv_chain(c, s, depth, seed=i, opset=ctx.opset)
        k = cost(program)
        row = Row(f"{depth}x conv {c}ch sp{s}", {"C": c, "S": s, "depth": depth})
        t = ctx.measure(program, row)
        if t is not None:
            tflops = k.flops / t["median_s"] / 1e12
            row.metrics = {
                "weights_mb": k.weight_bytes / 1e6,
                "gflop": k.flops / 1e9,
                "ms": t["median_s"] * 1e3,
                "p10_ms": t["p10_s"] * 1e3,
                "p90_ms": t["p90_s"] * 1e3,
                "tflops": tflops,
                "pct_nominal": 100 * tflops / nominal if nominal else None,
                "flop_per_byte": k.intensity,
            }
        result.rows.append(row)
    good = [r for r in result.rows if not r.flagged and r.metrics.get("tflops")]
    if good:
        best = max(good, key=lambda r: r.metrics["tflops"] or 0.0)
        result.summary["best"] = f"{best.name}: {best.metrics['tflops']:.4g} TFLOPS (verified)"
    result.summary["nominal fp16 peak (TFLOPS)"] = nominal
    result.notes.append(
        "FLOPs = 2·C·C·S·depth (1 MAC = 2 FLOPs), counted from the program by anekit.mil.analysis.flops"
    )
    return result
