"""Choosing the next token from logits: greedy, or sampled with temperature, top-k, top-p and min-p, after an
optional repetition penalty; reproducible with a seed.

The order is Hugging Face transformers' (``generate``'s logits processors, then its warpers): repetition penalty,
temperature, top-k, top-p, min-p. Temperature 0 is greedy (argmax after the penalty), whatever the other settings.
Probabilities are computed in float64 from the fp16/float32 logits, and the draw is one uniform number from a
``numpy.random.Generator`` per token, so a seed fixes the whole generation.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Sampler", "SamplingParams"]


def _is_int(value: object) -> bool:
    """An integer, numpy's included (``seed=np.int64(3)`` from a numpy computation), but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _number(value: object, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"SamplingParams: {label} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class SamplingParams:
    """How the next token is chosen.

    Attributes:
        temperature: divides the logits; 0 (the default) is greedy decoding.
        top_k: keep only the ``top_k`` most likely tokens (0: no limit).
        top_p: keep the smallest set of most likely tokens whose probability reaches ``top_p`` (1: no limit).
        min_p: drop tokens less likely than ``min_p`` times the most likely one (0: off).
        repetition_penalty: > 1 makes tokens already in the prompt or the output less likely (CTRL's rule: positive
            logits divided by it, negative ones multiplied); 1 is off.
        seed: seeds the random generator (None: a fresh, unpredictable one).

    Raises:
        ValueError: a value outside its range (the message names it).
    """

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if _number(self.temperature, "temperature") < 0:
            raise ValueError(f"SamplingParams: temperature must be >= 0 (0 is greedy), got {self.temperature}")
        if not _is_int(self.top_k) or self.top_k < 0:
            raise ValueError(f"SamplingParams: top_k must be an int >= 0 (0 is off), got {self.top_k!r}")
        object.__setattr__(self, "top_k", int(self.top_k))
        if not 0 < _number(self.top_p, "top_p") <= 1:
            raise ValueError(f"SamplingParams: top_p must be in (0, 1] (1 is off), got {self.top_p}")
        if not 0 <= _number(self.min_p, "min_p") < 1:
            raise ValueError(f"SamplingParams: min_p must be in [0, 1) (0 is off), got {self.min_p}")
        if _number(self.repetition_penalty, "repetition_penalty") <= 0:
            raise ValueError(
                f"SamplingParams: repetition_penalty must be > 0 (1 is off), got {self.repetition_penalty}"
            )
        if self.seed is not None:
            if not _is_int(self.seed) or self.seed < 0:
                raise ValueError(f"SamplingParams: seed must be None or an int >= 0, got {self.seed!r}")
            object.__setattr__(self, "seed", int(self.seed))

    @property
    def greedy(self) -> bool:
        """True when the choice is the argmax (temperature 0)."""
        return self.temperature == 0


class Sampler:
    """Picks tokens as ``params`` say; holds the random generator, so one sampler serves one generation.

    Args:
        params: the settings (default: greedy).
    """

    def __init__(self, params: SamplingParams | None = None) -> None:
        if params is None:
            params = SamplingParams()
        if not isinstance(params, SamplingParams):
            raise TypeError(f"Sampler: params must be SamplingParams, got {type(params).__name__}")
        self.params = params
        self.rng = np.random.default_rng(params.seed)

    def probabilities(self, logits: np.ndarray, history: Sequence[int] = ()) -> np.ndarray:
        """The distribution the next token is drawn from (float64, sums to 1; greedy: one-hot on the argmax)."""
        z = self._penalized(logits, history)
        p = self.params
        if p.greedy:
            out = np.zeros_like(z)
            out[int(np.argmax(z))] = 1.0
            return out
        z = z / p.temperature
        if 0 < p.top_k < z.size:
            kth = np.partition(z, -p.top_k)[-p.top_k]
            z = np.where(z >= kth, z, -np.inf)  # ties with the k-th value stay, as in transformers
        probs = np.exp(z - z.max())
        probs /= probs.sum()
        if p.top_p < 1:
            order = np.argsort(-probs, kind="stable")
            before = np.cumsum(probs[order]) - probs[order]  # mass of the more likely tokens
            drop = order[before >= p.top_p]  # never the most likely token (before == 0)
            probs[drop] = 0.0
        if p.min_p > 0:
            probs[probs < p.min_p * probs.max()] = 0.0
        return probs / probs.sum()

    def __call__(self, logits: np.ndarray, history: Sequence[int] = ()) -> int:
        """The next token for ``logits`` ``[vocab]``; ``history`` (prompt and output so far) feeds the repetition
        penalty."""
        if self.params.greedy:
            return int(np.argmax(self._penalized(logits, history)))
        probs = self.probabilities(logits, history)
        cdf = np.cumsum(probs)
        # One uniform draw per token; clip guards the last bucket against cdf[-1] rounding below the draw.
        return int(min(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right"), probs.size - 1))

    def _penalized(self, logits: np.ndarray, history: Sequence[int]) -> np.ndarray:
        z = np.asarray(logits, dtype=np.float64)
        if z.ndim != 1 or z.size == 0:
            raise ValueError(f"Sampler: logits must be a non-empty 1-D array, got shape {np.shape(logits)}")
        if np.isnan(z).any():
            raise ValueError("Sampler: the logits contain NaN")
        penalty = self.params.repetition_penalty
        if penalty != 1 and len(history):
            seen = np.unique(np.asarray(history, dtype=np.int64))
            if seen.min() < 0 or seen.max() >= z.size:
                raise ValueError(f"Sampler: history ids must be in [0, {z.size})")
            z = z.copy()
            z[seen] = np.where(z[seen] > 0, z[seen] / penalty, z[seen] * penalty)
        return z
