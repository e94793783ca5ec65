"""The CPU side of a step: AdamW on fp32 master weights, gradient clipping by global norm, dynamic loss scaling.

The update mirrors ``torch.optim.AdamW`` exactly (decoupled weight decay applied first, bias-corrected moments,
``eps`` added after the bias-corrected square root), so a PyTorch run from the same state takes the same step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["AdamW", "LossScaler", "clip_grad_norm"]


def _check_number(owner: str, label: str, value: float, *, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high):
        raise ValueError(f"{owner}: {label} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


class AdamW:
    """AdamW over a dict of fp32 parameter arrays, updated in place.

    Args:
        params: name -> fp32 array (the master weights; updated in place).
        lr, betas, eps, weight_decay: as ``torch.optim.AdamW``.
        no_decay: names that get no weight decay (RMSNorm gains, by convention).
    """

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        *,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.95),
        eps: float = 1e-8,
        weight_decay: float = 0.1,
        no_decay: Iterable[str] = (),
    ) -> None:
        if not isinstance(params, Mapping) or not params:
            raise ValueError("AdamW: params must be a non-empty mapping of name -> float32 array")
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or p.dtype != np.float32:
                raise TypeError(f"AdamW: parameter {name!r} must be a float32 numpy array, got {type(p).__name__}")
        self.lr = _check_number("AdamW", "lr", lr, low=0.0)
        if len(betas) != 2:
            raise ValueError(f"AdamW: betas must be two numbers, got {betas!r}")
        self.betas = tuple(_check_number("AdamW", "beta", b, low=0.0, high=1.0 - 1e-12) for b in betas)
        self.eps = _check_number("AdamW", "eps", eps, low=0.0)
        self.weight_decay = _check_number("AdamW", "weight_decay", weight_decay, low=0.0)
        self.params = params
        self.no_decay = frozenset(no_decay)
        unknown = self.no_decay - set(params)
        if unknown:
            raise ValueError(f"AdamW: no_decay names unknown parameters {sorted(unknown)}")
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.t = 0

    def step(self, grads: Mapping[str, np.ndarray], lr: float | None = None) -> None:
        """One update with ``grads`` (name -> fp32 array, the same names and shapes as the parameters)."""
        if set(grads) != set(self.params):
            missing, extra = sorted(set(self.params) - set(grads)), sorted(set(grads) - set(self.params))
            raise ValueError(f"AdamW.step: gradients must match the parameters; missing {missing}, extra {extra}")
        lr = self.lr if lr is None else _check_number("AdamW.step", "lr", lr, low=0.0)
        self.t += 1
        b1, b2 = self.betas
        bc1, bc2 = 1.0 - b1**self.t, 1.0 - b2**self.t
        step_size = lr / bc1
        for name, p in self.params.items():
            g = grads[name]
            if g.shape != p.shape:
                raise ValueError(f"AdamW.step: gradient {name!r} has shape {g.shape}, parameter {p.shape}")
            if self.weight_decay and name not in self.no_decay:
                p *= np.float32(1.0 - lr * self.weight_decay)
            m, v = self.m[name], self.v[name]
            m *= np.float32(b1)
            m += np.float32(1.0 - b1) * g
            v *= np.float32(b2)
            v += np.float32(1.0 - b2) * g * g
            denom = np.sqrt(v) / np.float32(math.sqrt(bc2)) + np.float32(self.eps)
            p -= np.float32(step_size) * m / denom

    def state(self) -> dict[str, object]:
        """Everything needed to resume: the moments (arrays) and the step count."""
        out: dict[str, object] = {f"adam.m.{k}": v for k, v in self.m.items()}
        out.update({f"adam.v.{k}": v for k, v in self.v.items()})
        out["adam.t"] = self.t
        return out

    def load_state(self, state: Mapping[str, object]) -> None:
        """Restore :meth:`state`'s output (moments copied into the existing arrays)."""
        for k in self.params:
            for label, store in (("m", self.m), ("v", self.v)):
                key = f"adam.{label}.{k}"
                value = state.get(key)
                if not isinstance(value, np.ndarray) or value.shape != store[k].shape:
                    raise ValueError(f"AdamW.load_state: {key!r} is missing or has the wrong shape")
                store[k][...] = value
        t = state.get("adam.t")
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise ValueError(f"AdamW.load_state: 'adam.t' must be a non-negative int, got {t!r}")
        self.t = t


def clip_grad_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    """Scale ``grads`` in place so their global L2 norm is at most ``max_norm``; returns the norm before clipping.

    Same rule as ``torch.nn.utils.clip_grad_norm_``: the factor is ``max_norm / (norm + 1e-6)``, applied only when
    below 1. ``max_norm = inf`` measures without clipping.
    """
    max_norm = _check_number("clip_grad_norm", "max_norm", max_norm, low=0.0)
    total = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel().astype(np.float64))) for g in grads.values()))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads.values():
            g *= np.float32(coef)
    return total


@dataclass
class LossScaler:
    """Dynamic loss scaling for fp16 gradients.

    The loss gradient entering the backward kernels is multiplied by :attr:`scale` so small gradients do not
    underflow fp16 (smallest subnormal 6e-8, smallest normal 6.1e-5); the host divides it out in fp32. A step whose
    gradients hold an inf or NaN (an fp16 overflow) is skipped and the scale halved; after ``growth_interval``
    good steps in a row the scale doubles.
    """

    scale: float = 2.0**12
    growth_interval: int = 200
    factor: float = 2.0
    min_scale: float = 1.0
    max_scale: float = 2.0**24
    good_steps: int = 0
    skipped: int = 0

    def __post_init__(self) -> None:
        _check_number("LossScaler", "scale", self.scale, low=self.min_scale, high=self.max_scale)
        _check_number("LossScaler", "factor", self.factor, low=1.0 + 1e-9)
        gi = self.growth_interval
        if isinstance(gi, bool) or not isinstance(gi, int) or gi < 1:
            raise ValueError(f"LossScaler: growth_interval must be a positive int, got {self.growth_interval!r}")

    def update(self, finite: bool) -> bool:
        """Record one step's outcome; returns whether the step may be applied (its gradients were finite)."""
        if not finite:
            self.scale = max(self.min_scale, self.scale / self.factor)
            self.good_steps = 0
            self.skipped += 1
            return False
        self.good_steps += 1
        if self.good_steps >= self.growth_interval:
            self.scale = min(self.max_scale, self.scale * self.factor)
            self.good_steps = 0
        return True

    def state(self) -> dict[str, float | int]:
        return {"scale": self.scale, "good_steps": self.good_steps, "skipped": self.skipped}

    def load_state(self, state: Mapping[str, float | int]) -> None:
        try:
            self.scale = float(state["scale"])
            self.good_steps = int(state["good_steps"])
            self.skipped = int(state["skipped"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"LossScaler.load_state: incomplete or invalid state {dict(state)!r}") from exc
