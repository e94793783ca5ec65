"""Cross-entropy over next-token targets and its gradient, on the CPU in float32."""

from __future__ import annotations

import numpy as np

__all__ = ["cross_entropy"]


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``logits[S, V]`` against ``targets[S]`` and its gradient ``d loss / d logits``.

    Computed in float32 with the max subtracted (the kernel's fp16 logits are widened first), so it neither
    overflows nor loses the small probabilities.

    Raises:
        ValueError: shapes that do not match, non-finite logits, or a target outside ``0 .. V - 1``.
    """
    z = np.asarray(logits, dtype=np.float32)
    t = np.asarray(targets)
    if z.ndim != 2 or t.shape != (z.shape[0],) or 0 in z.shape:
        raise ValueError(
            f"cross_entropy: expected non-empty logits [S, V] and targets [S], got {z.shape} and {t.shape}"
        )
    if t.dtype.kind not in "iu" or (t.size and (t.min() < 0 or t.max() >= z.shape[1])):
        raise ValueError(f"cross_entropy: targets must be integers in 0..{z.shape[1] - 1}")
    if not np.all(np.isfinite(z)):
        raise ValueError("cross_entropy: logits contain NaN or infinity (the forward pass overflowed fp16)")
    shifted = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_p = shifted - log_norm
    rows = np.arange(z.shape[0])
    loss = float(-log_p[rows, t].mean())
    grad = np.exp(log_p)
    grad[rows, t] -= 1.0
    grad /= z.shape[0]
    return loss, grad
