"""Token generation on a :class:`~anekit.models.Llama`: prefill, then one decode step per token, with sampling,
stop tokens, a per-token streaming callback, timings and compile accounting.

Timings come from ``time.perf_counter``: *prefill* is the prompt's pass (all of its tokens, including those past
the prefill bucket, which the model feeds as decode steps) plus choosing the first token, so the time to the first
token is the prefill time; *decode* covers every later token. Time spent in the caller's ``on_token`` callback is
left out of both. A generation never compiles (the model's kernels are
compiled when it is built); :attr:`GenerationResult.compiles` counts any compile in the process during the
generation, so a regression shows up as a non-zero number.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .sampling import Sampler, SamplingParams

if TYPE_CHECKING:
    from .llama import Llama
    from .tokenizer import Tokenizer

__all__ = ["CompileStats", "GenerationResult", "TokenCallback", "compile_stats_since", "generate", "snapshot"]

#: Called once per generated token with its id and the text it completes ("" while a character is incomplete, and
#: for special tokens).
TokenCallback = Callable[[int, str], None]


@dataclass(frozen=True)
class CompileStats:
    """Compiles and content-cache lookups over a span of time (e.g. building a model).

    Attributes:
        compiles: real compiles spent in the process (:func:`anekit.budget.used`; cache hits are free).
        cache_hits: compiles served by the in-process content cache (an identical program compiled before).
        cache_misses: content-cache lookups that found nothing (each led to a real compile).
    """

    compiles: int
    cache_hits: int
    cache_misses: int

    def __str__(self) -> str:
        return f"{self.compiles} compiles, content cache {self.cache_hits} hits / {self.cache_misses} misses"


def snapshot() -> tuple[int, int, int]:
    """The process's compile count and content-cache hit and miss counters now (pass to
    :func:`compile_stats_since`)."""
    from .. import budget
    from ..runtime.cache import default_cache

    stats = default_cache().stats
    return budget.used(), stats.hits, stats.misses


def compile_stats_since(start: tuple[int, int, int]) -> CompileStats:
    """The compiles and cache lookups since :func:`snapshot` returned ``start``."""
    now = snapshot()
    return CompileStats(*(b - a for a, b in zip(start, now, strict=True)))


@dataclass
class GenerationResult:
    """What a generation produced and how fast.

    Attributes:
        prompt_ids: the prompt's token ids.
        ids: the generated ids (a stop token that ended the generation is included, as transformers does).
        text: the generated text (special tokens left out).
        stop_reason: ``"stop_token"`` (an end-of-turn / EOS id) or ``"max_tokens"``.
        prefill_seconds: the prompt's pass and the first token's choice (= time to first token).
        decode_seconds: every later token.
        compiles: compiles during the generation (0 unless something is wrong: kernels compile with the model).
        load: compiles and cache lookups while the model was built, when known (:func:`anekit.models.load_llm`).
    """

    prompt_ids: list[int]
    ids: list[int]
    text: str
    stop_reason: str
    prefill_seconds: float
    decode_seconds: float
    compiles: int = 0
    load: CompileStats | None = field(default=None)

    @property
    def time_to_first_token(self) -> float:
        """Seconds from the start of the prompt's pass to the first generated token."""
        return self.prefill_seconds

    @property
    def prefill_tokens_per_s(self) -> float:
        """Prompt tokens per second."""
        return len(self.prompt_ids) / self.prefill_seconds if self.prefill_seconds > 0 else float("nan")

    @property
    def decode_tokens_per_s(self) -> float:
        """Generated tokens per second after the first (each is one decode step); NaN with fewer than two."""
        steps = len(self.ids) - 1
        return steps / self.decode_seconds if steps > 0 and self.decode_seconds > 0 else float("nan")

    def summary(self) -> str:
        """Two lines: the token counts and speeds, and the compile accounting."""
        lines = [
            f"prompt {len(self.prompt_ids)} tokens: prefill {self.prefill_tokens_per_s:.1f} tokens/s "
            f"(time to first token {self.time_to_first_token * 1e3:.0f} ms); generated {len(self.ids)} tokens: "
            f"decode {self.decode_tokens_per_s:.2f} tokens/s; stopped by {self.stop_reason}",
        ]
        load = f"model build: {self.load}; " if self.load is not None else ""
        lines.append(f"{load}{self.compiles} compiles while generating")
        return "\n".join(lines)


def _check_count(value: object, label: str) -> int:
    # numpy integers count too (a budget computed with numpy); bools and floats do not.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"generate: {label} must be an int >= 0, got {value!r}")
    return int(value)


def _check_ids(ids: Sequence[int], vocab: int) -> list[int]:
    if isinstance(ids, (str, bytes)):
        raise ValueError(f"generate: prompt_ids must be token ids, got the text {ids!r} (encode it first)")
    try:
        out = [int(t) for t in ids]
    except (TypeError, ValueError):
        raise ValueError(f"generate: prompt_ids must be a sequence of token ids, got {ids!r}") from None
    if not out:
        raise ValueError("generate: prompt_ids is empty (the model needs at least one token to continue)")
    bad = [t for t in out if not 0 <= t < vocab]
    if bad:
        raise ValueError(f"generate: token ids must be in [0, {vocab}), got {bad[:5]}")
    return out


def _check_stop_tokens(stop_tokens: Collection[int]) -> set[int]:
    # int() alone would take "12" or 3.7 and fail on a bare id with "'int' object is not iterable".
    if isinstance(stop_tokens, (str, bytes)) or not isinstance(stop_tokens, Iterable):
        raise ValueError(f"generate: stop_tokens must be a collection of token ids, got {stop_tokens!r}")
    stop = set()
    for t in stop_tokens:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
            raise ValueError(f"generate: stop_tokens must hold token ids (ints >= 0), got {t!r}")
        stop.add(int(t))
    return stop


def generate(
    model: Llama,
    prompt_ids: Sequence[int],
    *,
    max_new_tokens: int,
    sampling: SamplingParams | None = None,
    stop_tokens: Collection[int] = (),
    tokenizer: Tokenizer | None = None,
    on_token: TokenCallback | None = None,
) -> GenerationResult:
    """Generate up to ``max_new_tokens`` tokens after ``prompt_ids``.

    Args:
        model: the model.
        prompt_ids: the prompt's token ids (non-empty).
        max_new_tokens: most tokens to generate; prompt plus new tokens must fit ``model.config.max_context``
            (the last token needs no cache slot, so ``max_context + 1`` in all).
        sampling: how tokens are chosen (default greedy).
        stop_tokens: ids that end the generation (included in the output); e.g. ``tokenizer.stop_ids``.
        tokenizer: decodes the text and the streamed pieces (without one, ``text`` is empty and the callback gets
            ``""``).
        on_token: called as ``on_token(id, piece)`` for every generated token, as soon as it is chosen.

    Raises:
        ValueError: bad ids, counts or settings, or more tokens than the context holds.
    """
    from .tokenizer import StreamDecoder

    max_new_tokens = _check_count(max_new_tokens, "max_new_tokens")
    prompt = _check_ids(prompt_ids, model.config.vocab_size)
    limit = model.config.max_context
    if len(prompt) + max_new_tokens > limit + 1:
        raise ValueError(
            f"generate: {len(prompt)} prompt + {max_new_tokens} new tokens exceed max_context ({limit}); build the "
            "model with a larger max_context or ask for fewer tokens"
        )
    if on_token is not None and not callable(on_token):
        raise TypeError(f"generate: on_token must be callable, got {type(on_token).__name__}")
    stop = _check_stop_tokens(stop_tokens)
    sampler = Sampler(sampling)
    stream = StreamDecoder(tokenizer) if tokenizer is not None else None
    text: list[str] = []
    out: list[int] = []
    history = list(prompt)  # prompt and output so far (the repetition penalty's), grown in place
    callback_s = 0.0  # the caller's time in on_token, kept out of the timings
    start = snapshot()

    def emit(token: int) -> None:
        nonlocal callback_s
        out.append(token)
        history.append(token)
        piece = stream.push(token) if stream is not None else ""
        text.append(piece)
        if on_token is not None:
            t = time.perf_counter()
            on_token(token, piece)
            callback_s += time.perf_counter() - t

    t0 = time.perf_counter()
    stop_reason = "max_tokens"
    prefill_s = decode_s = 0.0
    if max_new_tokens:
        cache = model.new_cache()
        logits = model.prefill(prompt, cache)
        emit(sampler(logits, history))
        t1 = time.perf_counter()
        prefill_s, callback_s = t1 - t0 - callback_s, 0.0
        pos = len(prompt)
        while out[-1] not in stop and len(out) < max_new_tokens:
            logits = model.decode(out[-1], pos, cache)
            pos += 1
            emit(sampler(logits, history))
        decode_s = time.perf_counter() - t1 - callback_s
        if out[-1] in stop:
            stop_reason = "stop_token"
    if stream is not None:
        text.append(stream.flush())
    return GenerationResult(
        prompt_ids=prompt,
        ids=out,
        text="".join(text),
        stop_reason=stop_reason,
        prefill_seconds=prefill_s,
        decode_seconds=decode_s,
        compiles=compile_stats_since(start).compiles,
    )
