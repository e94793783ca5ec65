"""The CPU side of a step: AdamW on fp32 master weights, gradient clipping by global norm, dynamic loss scaling.

The update mirrors ``torch.optim.AdamW`` exactly (decoupled weight decay applied first, bias-corrected moments,
``eps`` added after the bias-corrected square root), so a PyTorch run from the same state takes the same step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..nn.rules import check_positive

__all__ = ["AdamW", "LossScaler", "check_number", "clip_grad_norm"]


def check_number(owner: str, label: str, value: float, *, low: float, high: float = math.inf) -> float:
    """``value`` as a float when it is a real number (not a bool) in ``[low, high]`` (NaN never is); otherwise a
    ValueError naming ``owner`` and ``label``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high):
        raise ValueError(f"{owner}: {label} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def check_betas(owner: str, betas: object) -> tuple[float, float]:
    """Adam's ``(beta1, beta2)``: two numbers in ``[0, 1)``."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{owner}: betas must be two numbers in [0, 1), got {betas!r}")
    b1, b2 = (check_number(owner, "beta", b, low=0.0, high=1.0 - 1e-12) for b in betas)
    return b1, b2


def check_grads(
    owner: str, grads: object, params: Mapping[str, np.ndarray] | None = None
) -> Mapping[str, np.ndarray]:
    """``grads``: a mapping of name -> floating numpy array; with ``params``, exactly their names and shapes."""
    if not isinstance(grads, Mapping):
        raise TypeError(f"{owner}: gradients must be a mapping of name -> float array, got {type(grads).__name__}")
    if params is not None and set(grads) != set(params):
        missing, extra = sorted(set(params) - set(grads)), sorted(set(grads) - set(params))
        raise ValueError(f"{owner}: gradients must match the parameters; missing {missing}, extra {extra}")
    for name, g in grads.items():
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
            kind = f"a {g.dtype} array" if isinstance(g, np.ndarray) else type(g).__name__
            raise TypeError(f"{owner}: gradient {name!r} must be a floating numpy array, got {kind}")
        if params is not None and g.shape != params[name].shape:
            raise ValueError(f"{owner}: gradient {name!r} has shape {g.shape}, parameter {params[name].shape}")
    return grads


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
        self.lr = check_number("AdamW", "lr", lr, low=0.0)
        self.betas = check_betas("AdamW", betas)
        self.eps = check_number("AdamW", "eps", eps, low=0.0)
        self.weight_decay = check_number("AdamW", "weight_decay", weight_decay, low=0.0)
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
        check_grads("AdamW.step", grads, self.params)
        lr = self.lr if lr is None else check_number("AdamW.step", "lr", lr, low=0.0)
        self.t += 1
        b1, b2 = self.betas
        bc1, bc2 = 1.0 - b1**self.t, 1.0 - b2**self.t
        step_size = lr / bc1
        for name, p in self.params.items():
            g = grads[name]
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
    max_norm = check_number("clip_grad_norm", "max_norm", max_norm, low=0.0)
    check_grads("clip_grad_norm", grads)
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
        check_number("LossScaler", "min_scale", self.min_scale, low=2.0**-24)
        check_number("LossScaler", "max_scale", self.max_scale, low=self.min_scale)
        check_number("LossScaler", "scale", self.scale, low=self.min_scale, high=self.max_scale)
        check_number("LossScaler", "factor", self.factor, low=1.0 + 1e-9)
        check_positive("LossScaler", growth_interval=self.growth_interval)

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
        owner = "LossScaler.load_state"
        if not isinstance(state, Mapping) or not {"scale", "good_steps", "skipped"} <= set(state):
            raise ValueError(f"{owner}: state must be a mapping with scale, good_steps and skipped, got {state!r}")
        scale = check_number(owner, "scale", state["scale"], low=self.min_scale, high=self.max_scale)
        counts = [state[k] for k in ("good_steps", "skipped")]
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in counts):
            raise ValueError(f"LossScaler.load_state: good_steps and skipped must be non-negative ints, got {counts}")
        self.scale = scale
        self.good_steps, self.skipped = counts
