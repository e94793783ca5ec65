"""train: ms per training step and ANE TFLOPS for a llama model trained with :mod:`anekit.train` (forward and
backward kernels with the weights as inputs, AdamW on the CPU).

On the ANE the model has Stories110M's configuration (dim 768, hidden 2048, 12 heads, 12 layers, sequence 256,
vocabulary 32000, the LM head in two 16000-row chunks; the example's 4-layer dim-256 model with ``--quick``), for
comparison with the 60-110 ms/step published for Stories110M (docs/internals/reference-numbers.md §7). The head is
untied here so that a fresh model's first loss is predictable (:meth:`~anekit.train.ModelConfig.initial_loss`, the
check below); tying it to the embedding, as llama2.c's checkpoint does, runs the same kernels and only changes
which host array the head's rows come from. Elsewhere a tiny model with a head in three chunks runs a few steps on
the reference executor, which checks the suite end to end; its figures are the CPU's, not the ANE's (the reference
executor takes seconds per Stories110M step). TFLOPS count the training FLOPs
(:meth:`anekit.train.ModelConfig.flops_per_token`) over the kernels' time.
"""

from __future__ import annotations

import math
import statistics

from ...train import ModelConfig, TrainConfig, Trainer, pydoc_topics_bytes
from ..context import BenchContext
from ..results import Row, SuiteResult

NAME = "train"
DESCRIPTION = "llama training step (forward + derived backward kernels, AdamW on CPU): ms/step, TFLOPS"

STORIES110M = ModelConfig(vocab_size=32000, dim=768, hidden=2048, heads=12, kv_heads=12, layers=12, seq=256)
EXAMPLE = ModelConfig()
TINY = ModelConfig(dim=64, layers=2, heads=4, kv_heads=2, hidden=128, seq=32, head_chunk=96)
#: Steps timed after the first (which compiles).
STEPS, QUICK_STEPS = 5, 2
#: Compiles of one model: the layer and head programs, forward and backward.
COMPILES_PER_MODEL = 4


def _model(ctx: BenchContext) -> tuple[str, ModelConfig]:
    if not ctx.ane_figures:
        return "tiny (reference check)", TINY
    return ("example", EXAMPLE) if ctx.quick else ("stories110m", STORIES110M)


def planned_compiles(ctx: BenchContext) -> int:
    return COMPILES_PER_MODEL


def run(ctx: BenchContext) -> SuiteResult:
    name, model = _model(ctx)
    result = SuiteResult(
        NAME,
        DESCRIPTION,
        {"steps_timed": QUICK_STEPS if ctx.quick else STEPS, "statistic": "median", "clock": "time.perf_counter"},
        columns={
            "ms_per_step": ("step", "ms"),
            "kernel_ms": ("kernels", "ms"),
            "io_ms": ("I/O", "ms"),
            "cpu_ms": ("CPU", "ms"),
            "tokens_per_s": ("tokens/s", ""),
            "tflops": ("kernels", "TFLOPS"),
            "kernels_per_step": ("dispatches", ""),
            "compiles_after_first": ("recompiles", ""),
        },
    )
    row = Row(
        name,
        {
            "dim": model.dim,
            "layers": model.layers,
            "hidden": model.hidden,
            "seq": model.seq,
            "vocab": model.vocab_size,
            "head_chunks": len(model.head_chunks),
        },
    )
    steps = 1 + (QUICK_STEPS if ctx.quick else STEPS)

    def body() -> None:
        ctx.say(f"train: {name}, {steps} steps")
        trainer = Trainer(model, TrainConfig(accum=1), pydoc_topics_bytes(), backend=ctx.backend)
        try:
            for _ in range(steps):
                trainer.step()
        finally:
            trainer.close()
        warm = trainer.history[1:]
        kernel_s = statistics.median(s.kernel_s for s in warm)
        seconds = statistics.median(s.seconds for s in warm)
        tokens = warm[0].tokens
        row.metrics = {
            "ms_per_step": seconds * 1e3,
            "kernel_ms": kernel_s * 1e3,
            "io_ms": statistics.median(s.io_s for s in warm) * 1e3,
            "cpu_ms": statistics.median(s.cpu_s for s in warm) * 1e3,
            "tokens_per_s": tokens / seconds,
            "tflops": model.flops_per_token() * tokens / kernel_s / 1e12,
            "kernels_per_step": float(warm[0].dispatches),
            "compiles_after_first": float(sum(s.compiles for s in warm)),
        }
        # A freshly initialised model predicts almost uniformly: its first loss is about ModelConfig.initial_loss
        # (ln(vocab) plus half the logits' variance). Wrong kernels give another first loss, or non-finite ones.
        first = trainer.history[0].loss
        expected = model.initial_loss()
        finite = all(math.isfinite(s.loss) for s in trainer.history)
        row.verified = finite and abs(first - expected) < 0.1
        row.max_abs_error = abs(first - expected)
        if not row.verified:
            row.note = f"first loss {first:.4f}, expected about {expected:.4f} (ln({model.vocab_size}) + variance / 2)"

    ctx.guarded(row, body)
    result.rows.append(row)
    if not ctx.ane_figures:
        result.notes.append(
            "not on an ANE: a tiny model on the reference executor checks the suite; Stories110M runs only on the "
            "ANE (benchmarks/bench_train.py measures it on the reference backend beside PyTorch)"
        )
    result.notes.append(
        "verified: the first loss is within 0.1 of a fresh model's expected loss (ln(vocab) + half the logits' "
        "variance, ModelConfig.initial_loss) and every loss is finite"
    )
    return result
