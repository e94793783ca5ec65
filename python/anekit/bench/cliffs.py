"""Cliff detection on a working-set sweep (the SRAM suite): where throughput collapses as weights grow.

Upstream's 1×1-conv sweep on M4 Max (reference-numbers.md §6) shows the pattern: GFLOPS per MB of weights peaks
(2560 channels, 12.5 MB), throughput halves at the first spill (4096 channels, 32 MB: 1.89 TFLOPS after 3.97),
recovers, and collapses at 128 MB (1.02 TFLOPS after 5.73: -82%). So a cliff is a *drop against the best
throughput seen at smaller sizes*, not a low absolute value: throughput normally rises with size as fixed
costs are amortised.

* **first spill**: the first size whose throughput is below ``1 - spill_drop`` (default 0.65) of the best
  throughput at smaller sizes;
* **catastrophic spill**: the first size below ``1 - catastrophic_drop`` (default 0.25) of that best;
* **peak efficiency**: the size with the highest throughput per MB of weights, among sizes before the first
  spill.

Noise: when the per-size spread is given (``low`` / ``high``, e.g. p10 and p90), a drop counts only when even
the size's *high* value is below the threshold taken from the best size's *low* value, so a drop the
measurement cannot tell from noise is not reported.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Cliffs", "detect_cliffs"]


@dataclass(frozen=True)
class Cliffs:
    """Sizes (the sweep's x values, e.g. MB of weights) where the curve changes; None when not found."""

    peak_efficiency: float | None
    first_spill: float | None
    catastrophic_spill: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _floats(name: str, values: Sequence[float], n: int | None = None) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"detect_cliffs: {name} must be a sequence of numbers") from None
    if n is not None and len(out) != n:
        raise ValueError(f"detect_cliffs: {name} has {len(out)} values, expected {n}")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"detect_cliffs: {name} has non-finite values")
    return out


def detect_cliffs(
    sizes: Sequence[float],
    throughput: Sequence[float],
    *,
    low: Sequence[float] | None = None,
    high: Sequence[float] | None = None,
    spill_drop: float = 0.35,
    catastrophic_drop: float = 0.75,
) -> Cliffs:
    """Find the cliffs of a throughput curve (module docstring).

    Args:
        sizes: working-set sizes, strictly increasing and positive (e.g. MB of weights).
        throughput: throughput at each size (e.g. TFLOPS), non-negative.
        low, high: optional lower / upper bounds of each throughput (e.g. from p90 / p10 latency).
        spill_drop: fractional drop against the best smaller size that marks the first spill.
        catastrophic_drop: fractional drop that marks the catastrophic spill (>= ``spill_drop``).

    Raises:
        ValueError: mismatched lengths, sizes not increasing, negative throughput, or bad drop fractions.
    """
    xs = _floats("sizes", sizes)
    ys = _floats("throughput", throughput, len(xs))
    lo = ys if low is None else _floats("low", low, len(xs))
    hi = ys if high is None else _floats("high", high, len(xs))
    if any(b <= a for a, b in itertools.pairwise(xs)) or any(x <= 0 for x in xs):
        raise ValueError("detect_cliffs: sizes must be positive and strictly increasing")
    if any(y < 0 for y in ys):
        raise ValueError("detect_cliffs: throughput must be non-negative")
    if not (0 < spill_drop <= catastrophic_drop < 1):
        raise ValueError(
            f"detect_cliffs: need 0 < spill_drop <= catastrophic_drop < 1, got {spill_drop}, {catastrophic_drop}"
        )
    if not xs:
        return Cliffs(None, None, None)
    first = catastrophic = None
    best_low = lo[0]
    for i in range(1, len(xs)):
        if first is None and hi[i] < (1 - spill_drop) * best_low:
            first = i
        if catastrophic is None and hi[i] < (1 - catastrophic_drop) * best_low:
            catastrophic = i
        best_low = max(best_low, lo[i])
    end = first if first is not None else len(xs)
    efficiency = [ys[i] / xs[i] for i in range(end)]
    peak = max(range(end), key=efficiency.__getitem__) if end else None
    return Cliffs(
        xs[peak] if peak is not None else None,
        xs[first] if first is not None else None,
        xs[catastrophic] if catastrophic is not None else None,
    )
