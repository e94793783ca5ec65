"""quant: the bandwidth suite's kernel with fp16, int8 affine (``constexpr_affine_dequantize``), 4-bit
palettized (``constexpr_lut_to_dense``) and int4 blockwise (``constexpr_blockwise_shift_scale``) weights ->
latency and effective bandwidth: does storing fewer bits per weight make the ANE faster?

"effective" bandwidth counts the fp16-equivalent bytes (what the kernel would have read uncompressed); if
the ANE expands constexpr weights at load time (mil-format.md §10.7) the latency will not change with the format,
and only a Mac can show which it does.
"""

from __future__ import annotations

from ..context import BenchContext
from ..programs import WEIGHT_FORMATS
from ..results import SuiteResult
from .bandwidth import weight_row

NAME = "quant"
DESCRIPTION = "weight formats (fp16, int8 affine, 4-bit palette, int4 blockwise): latency and effective GB/s"

SIZES = [(2048, 8192), (4096, 16384)]
QUICK_SIZES = [(1024, 4096)]
COLUMNS = 32


def _formats(ctx: BenchContext) -> list[str]:
    # constexpr_blockwise_shift_scale exists from ios18 on; M1/M2 programs are ios16 (the runner's opset).
    return [f for f in WEIGHT_FORMATS if f != "int4-blockwise" or ctx.opset == "ios18"]


def planned_compiles(ctx: BenchContext) -> int:
    return len(QUICK_SIZES if ctx.quick else SIZES) * len(_formats(ctx))


def run(ctx: BenchContext) -> SuiteResult:
    sizes = QUICK_SIZES if ctx.quick else SIZES
    result = SuiteResult(
        NAME,
        DESCRIPTION,
        ctx.measurement.to_dict(),
        columns={
            "stored_mb": ("stored", "MB"),
            "ms": ("median", "ms"),
            "gbps": ("stored", "GB/s"),
            "fp16_equiv_gbps": ("effective", "GB/s"),
            "speedup_vs_fp16": ("vs fp16", "x"),
        },
    )
    for i, (d_in, d_out) in enumerate(sizes):
        base_ms = None
        for fmt in _formats(ctx):
            ctx.say(f"quant {i + 1}/{len(sizes)}: linear {d_in}->{d_out}, {fmt} weights")
            row = weight_row(ctx, d_in, d_out, COLUMNS, fmt, i)
            ms = row.metrics.get("ms")
            if fmt == "fp16" and not row.flagged:
                base_ms = ms
            row.metrics["speedup_vs_fp16"] = base_ms / ms if base_ms and ms and not row.flagged else None
            result.rows.append(row)
    result.notes.append("palette-4bit: one 16-entry table per tensor; int4-blockwise: one scale per 32 inputs")
    if "int4-blockwise" not in _formats(ctx):
        result.notes.append(f"int4-blockwise not run: it needs opset ios18 and this chip's programs are {ctx.opset}")
    return result
