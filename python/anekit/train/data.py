"""Training text and deterministic batches.

The default corpus is the Python documentation's topic pages that ship with every CPython installation in
``pydoc_data/topics.py`` (the text ``help("topics")`` shows; about 0.5 MB), as UTF-8 bytes: a byte-level
vocabulary of 256 tokens needs no tokenizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..nn.rules import check_positive

__all__ = ["BatchSampler", "pydoc_topics_bytes"]


def pydoc_topics_bytes() -> np.ndarray:
    """The ``pydoc_data.topics`` texts, in sorted topic order, joined with blank lines, as uint8 tokens."""
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:  # some distributions split pydoc_data out of the interpreter package
        raise ImportError(
            "the training corpus pydoc_data.topics is not installed with this Python (Debian: python3-doc or the "
            "full python3.x package); pass your own uint8 token array instead"
        ) from exc
    text = "\n\n".join(topics[k] for k in sorted(topics))
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


class BatchSampler:
    """Random windows of ``seq + 1`` tokens (inputs and next-token targets), reproducible from a seed.

    The state — the generator's state and how many windows were drawn — is part of a checkpoint, so a resumed run
    draws exactly the windows the uninterrupted run would have.
    """

    def __init__(self, tokens: np.ndarray, seq: int, seed: int) -> None:
        tokens = np.asarray(tokens)
        if tokens.ndim != 1 or tokens.dtype.kind not in "iu":
            raise ValueError(f"BatchSampler: tokens must be a 1-D integer array, got {tokens.dtype} {tokens.shape}")
        check_positive("BatchSampler", seq=seq)
        if tokens.size < seq + 2:
            raise ValueError(f"BatchSampler: {tokens.size} tokens cannot fill one window of {seq + 1}")
        if int(tokens.min()) < 0:
            raise ValueError(f"BatchSampler: token ids must be non-negative, got {int(tokens.min())}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"BatchSampler: seed must be a non-negative int, got {seed!r}")
        self.tokens = tokens
        self.seq = seq
        self.rng = np.random.default_rng(seed)
        self.position = 0

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs[seq], targets[seq])`` of the next window."""
        start = int(self.rng.integers(0, self.tokens.size - self.seq - 1))
        self.position += 1
        window = self.tokens[start : start + self.seq + 1].astype(np.int64)
        return window[:-1], window[1:]

    def state(self) -> dict[str, Any]:
        return {"position": self.position, "rng": self.rng.bit_generator.state}

    def load_state(self, state: Mapping[str, Any]) -> None:
        if not isinstance(state, Mapping):
            raise ValueError(f"BatchSampler.load_state: state must be a mapping, got {type(state).__name__}")
        try:
            self.rng.bit_generator.state = state["rng"]
            self.position = int(state["position"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"BatchSampler.load_state: invalid state: {exc}") from exc
