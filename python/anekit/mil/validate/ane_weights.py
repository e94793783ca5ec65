"""ANE rules about the program's weights: on-chip memory and total size.

Target ``"ane"``. Sizes come from :func:`anekit.mil.analysis.summary.summarize` (declared types only; weights are never
read). Facts: docs/internals/reference-numbers.md §6 (the SRAM cliff) and docs/internals/mil-format.md §11 rule 18
(PROBE).

There is deliberately no rule on the *number* of BLOBFILE weights: the "at most 16 per program" claim of
some constraint lists is contradicted by a 128-blob program that ran on M1, M3 Pro, M4 and M5
(docs/internals/mil-format.md §11 rule 18).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ._rules import Context, fmt_bytes, rule

__all__ = ["MAX_PROGRAM_WEIGHT_BYTES", "SRAM_BYTES", "SRAM_BYTES_SMALL"]

#: Effective on-chip memory: "roughly 24-32 MB" on M4 Max (docs/internals/reference-numbers.md §6; the docs' MB are MiB:
#: 2048² fp16 weights = "8 MB"). The lower end is used: weights above it spill out of SRAM.
SRAM_BYTES = 24 * 2**20
#: dev-erik's (partly speculative) A14/M1 figure, ~16 MB (docs/internals/reference-numbers.md §6).
SRAM_BYTES_SMALL = 16 * 2**20
#: "~2 GB of weights per program" (docs/internals/mil-format.md §11 rule 18, PROBE).
MAX_PROGRAM_WEIGHT_BYTES = 2 * 2**30


@rule(
    "ane-weights-sram",
    severity="warning",
    target="ane",
    source="docs/internals/reference-numbers.md §6 (the SRAM cliff: ~24-32 MB effective on-chip memory on M4 Max, "
    "~16 MB on A14/M1); docs/internals/mil-format.md §10.7 (constexpr weights are decompressed at load)",
    summary="decompressed weights exceed the ~24 MiB on-chip estimate (info above ~16 MiB)",
)
def weights_sram(ctx: Context) -> Iterator[Diagnostic]:
    for fs in ctx.summary().functions:
        dense = fs.dense_weight_bytes
        if dense <= SRAM_BYTES_SMALL:
            continue
        f = ctx.program.functions[fs.name]
        if dense > SRAM_BYTES:
            yield ctx.diag(
                "ane-weights-sram",
                f"function {fs.name} holds {fmt_bytes(dense)} of weights once decompressed, above the "
                "~24-32 MiB of effective on-chip memory; upstream 1×1-conv sweeps lost half their "
                "throughput at the first spill (32 MiB) and ~80% at 128 MiB",
                f=f,
                hint="split the program into kernels of < 24 MiB of weights each",
            )
        else:
            yield ctx.diag(
                "ane-weights-sram",
                f"function {fs.name} holds {fmt_bytes(dense)} of weights, above the ~16 MiB estimated "
                "for A14/M1-class chips",
                f=f,
                severity="info",
            )


@rule(
    "ane-weights-total",
    severity="warning",
    target="ane",
    source="docs/internals/mil-format.md §11 rule 18 (~2 GB of weights per program, PROBE)",
    summary="the program stores more than ~2 GiB of weights",
)
def weights_total(ctx: Context) -> Iterator[Diagnostic]:
    s = ctx.summary()
    total = max(s.total_weight_bytes, sum(f.dense_weight_bytes for f in s.functions))
    if total > MAX_PROGRAM_WEIGHT_BYTES:
        yield ctx.diag(
            "ane-weights-total",
            f"the program has {fmt_bytes(total)} of weights; ~2 GB per program is reported as the limit",
            hint="split the model into several programs",
        )
