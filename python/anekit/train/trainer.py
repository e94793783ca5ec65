"""The training loop: :class:`Trainer` runs steps of forward kernels, loss on the CPU, backward kernels, gradient
accumulation, dynamic loss scaling, clipping and AdamW, and saves and resumes checkpoints."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import budget
from ..errors import TrainingError
from ..nn.rules import check_positive
from ..runtime import Kernel
from ..runtime.backend import BACKENDS
from ..runtime.checkpoint import load_checkpoint, save_checkpoint
from .data import BatchSampler
from .kernels import StepKernels, Timer
from .loss import cross_entropy
from .model import LAYER_WEIGHTS, ModelConfig, from_input, head_outputs, init_params
from .optim import AdamW, LossScaler, check_betas, check_number, clip_grad_norm

__all__ = ["StepStats", "TrainConfig", "Trainer", "learning_rate"]

#: Checkpoint format version (bumped when the layout changes; a mismatch is refused).
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Attributes:
        lr: peak learning rate; ``warmup`` steps ramp it linearly from ``lr / warmup``.
        betas, eps, weight_decay: AdamW's (decay skips the RMSNorm gains).
        grad_clip: global-norm clipping threshold (``inf``: none).
        accum: micro-batches (sequences) per step; their gradients are summed, the loss averaged.
        seed: seeds the initial weights and the batch order.
        loss_scale, scale_growth_interval: the initial dynamic loss scale and the good steps before it doubles.
        save: what the backward kernels take from the forward pass (``"recompute"`` or ``"activations"``).
    """

    lr: float = 3e-3
    warmup: int = 10
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    accum: int = 2
    seed: int = 0
    loss_scale: float = 2.0**12
    scale_growth_interval: int = 200
    save: str = "recompute"

    def __post_init__(self) -> None:
        check_positive(
            "TrainConfig", warmup=self.warmup, accum=self.accum, scale_growth_interval=self.scale_growth_interval
        )
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"TrainConfig: seed must be a non-negative int, got {self.seed!r}")
        if self.save not in ("recompute", "activations"):
            raise ValueError(f"TrainConfig: save must be 'recompute' or 'activations', got {self.save!r}")
        g = self.grad_clip
        if isinstance(g, bool) or not isinstance(g, (int, float)) or not g > 0:
            raise ValueError(f"TrainConfig: grad_clip must be positive (inf for none), got {g!r}")
        if not math.isfinite(check_number("TrainConfig", "lr", self.lr, low=0.0)):
            raise ValueError(f"TrainConfig: lr must be finite, got {self.lr!r}")
        check_betas("TrainConfig", self.betas)
        check_number("TrainConfig", "eps", self.eps, low=0.0, high=1.0)
        check_number("TrainConfig", "weight_decay", self.weight_decay, low=0.0, high=1.0)
        # The initial loss scale and growth interval must be ones LossScaler accepts (its own checks, reused).
        LossScaler(scale=self.loss_scale, growth_interval=self.scale_growth_interval)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


def learning_rate(config: TrainConfig, step: int) -> float:
    """The learning rate of step ``step`` (0-based): linear warm-up over ``config.warmup`` steps, then constant."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"learning_rate: config must be a TrainConfig, got {type(config).__name__}")
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"learning_rate: step must be a non-negative int, got {step!r}")
    return config.lr * min(1.0, (step + 1) / config.warmup)


@dataclass(frozen=True)
class StepStats:
    """What one step did.

    Attributes:
        step: the step's number (1-based: the number of steps taken after it).
        loss: mean cross-entropy over the step's tokens.
        grad_norm: global gradient norm before clipping (NaN or inf on a skipped step).
        skipped: the gradients overflowed fp16; no update, the loss scale was halved.
        loss_scale: the scale used for this step.
        lr: the learning rate applied.
        tokens: tokens processed.
        seconds, kernel_s, io_s, cpu_s: wall time of the step and its split (kernel evaluation, surface I/O,
            the rest on the CPU).
        dispatches: kernel evaluations.
        compiles: real compiles during the step (0 after the first).
    """

    step: int
    loss: float
    grad_norm: float
    skipped: bool
    loss_scale: float
    lr: float
    tokens: int
    seconds: float
    kernel_s: float
    io_s: float
    cpu_s: float
    dispatches: int
    compiles: int

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else math.inf

    def line(self) -> str:
        """A one-line progress report."""
        flag = " (skipped: fp16 overflow, scale halved)" if self.skipped else ""
        return (
            f"step {self.step:5d}  loss {self.loss:.4f}  {self.seconds * 1e3:8.1f} ms (kernels "
            f"{self.kernel_s * 1e3:.1f}, io {self.io_s * 1e3:.1f}, cpu {self.cpu_s * 1e3:.1f})  "
            f"{self.tokens_per_s:8.0f} tok/s  lr {self.lr:.2e}  scale {self.loss_scale:g}{flag}"
        )


class Trainer:
    """Train a :class:`~anekit.train.model.ModelConfig` model on ``tokens``.

    The kernels are compiled by the first :meth:`step` (or :meth:`compile`); no later step compiles
    (``ANEKIT_ASSERT_NO_COMPILE=1`` turns any compile into an error).

    Args:
        model: the model's sizes.
        config: the optimisation settings.
        tokens: the corpus, a 1-D integer array with values below ``model.vocab_size``.
        backend: where the kernels run (``"reference"``, ``"ane"``, or None for the best available).

    Attributes:
        params: name -> fp32 master weight (PyTorch layouts, :meth:`ModelConfig.param_shapes`).
        step_count: steps taken (including skipped ones).
        history: the :class:`StepStats` of this process's steps.
    """

    def __init__(
        self, model: ModelConfig, config: TrainConfig, tokens: np.ndarray, *, backend: str | None = None
    ) -> None:
        if not isinstance(model, ModelConfig):
            raise TypeError(f"Trainer: model must be a ModelConfig, got {type(model).__name__}")
        if not isinstance(config, TrainConfig):
            raise TypeError(f"Trainer: config must be a TrainConfig, got {type(config).__name__}")
        if backend is not None and backend not in BACKENDS:
            raise ValueError(f"Trainer: backend must be one of {', '.join(BACKENDS)} or None, got {backend!r}")
        self.model = model
        self.config = config
        self.backend = backend
        self.sampler = BatchSampler(tokens, model.seq, config.seed + 1)
        if int(self.sampler.tokens.max()) >= model.vocab_size:
            raise ValueError(
                f"Trainer: token {int(self.sampler.tokens.max())} is outside the vocabulary of {model.vocab_size}"
            )
        self.params = init_params(model, config.seed)
        gains = [n for n, s in model.param_shapes().items() if len(s) == 1]
        self.optimizer = AdamW(
            self.params,
            lr=config.lr,
            betas=config.betas,
            eps=config.eps,
            weight_decay=config.weight_decay,
            no_decay=gains,
        )
        self.scaler = LossScaler(scale=config.loss_scale, growth_interval=config.scale_growth_interval)
        self.step_count = 0
        self.history: list[StepStats] = []
        self.kernels: StepKernels | None = None
        self._staged = False

    # -- kernels ---------------------------------------------------------------------------------------------

    def compile(self) -> StepKernels:
        """Compile the step's kernels now (the first :meth:`step` does it otherwise); returns them."""
        if self.kernels is None:
            self.kernels = StepKernels(self.model, backend=self.backend, save=self.config.save)
            self._staged = False
        return self.kernels

    def close(self) -> None:
        """Free the kernels (a later step compiles them again)."""
        if self.kernels is not None:
            self.kernels.close()
            self.kernels = None

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one step --------------------------------------------------------------------------------------------

    def step(self) -> StepStats:
        """One optimizer step over ``config.accum`` micro-batches; returns its :class:`StepStats`.

        Raises:
            TrainingError: the residual stream grew beyond what fp16 RMSNorm can square, or the forward pass
                produced non-finite logits (the step's weights are left as they were).
        """
        t_start = time.perf_counter()
        compiles_before = budget.used()
        kernels = self.compile()
        timer = Timer()
        if not self._staged:
            kernels.stage_weights(self.params, timer)
            self._staged = True
        scale = self.scaler.scale
        grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        loss_sum = 0.0
        with np.errstate(over="ignore", invalid="ignore"):  # an fp16 overflow is detected below, not warned about
            for _ in range(self.config.accum):
                inputs, targets = self.sampler.next()
                loss_sum += self._micro_batch(kernels, inputs, targets, grads, scale, timer)
        finite = all(np.isfinite(g).all() for g in grads.values())
        grad_norm = math.nan
        lr = learning_rate(self.config, self.step_count)
        if self.scaler.update(finite):
            grad_norm = clip_grad_norm(grads, self.config.grad_clip)
            self.optimizer.step(grads, lr=lr)
            self._staged = False
        self.step_count += 1
        if not self._staged:
            kernels.stage_weights(self.params, timer)  # ready for the next step; counted as this step's I/O
            self._staged = True
        seconds = time.perf_counter() - t_start
        stats = StepStats(
            step=self.step_count,
            loss=loss_sum / self.config.accum,
            grad_norm=grad_norm,
            skipped=not finite,
            loss_scale=scale,
            lr=lr,
            tokens=self.config.accum * self.model.seq,
            seconds=seconds,
            kernel_s=timer.kernel,
            io_s=timer.io,
            cpu_s=max(0.0, seconds - timer.kernel - timer.io),
            dispatches=timer.dispatches,
            compiles=budget.used() - compiles_before,
        )
        self.history.append(stats)
        return stats

    def _micro_batch(
        self,
        kernels: StepKernels,
        inputs: np.ndarray,
        targets: np.ndarray,
        grads: dict[str, np.ndarray],
        scale: float,
        timer: Timer,
    ) -> float:
        """Forward, loss and backward of one sequence; adds its (unscaled) gradients into ``grads``."""
        m = self.model
        n_layers = m.layers
        layer, head = kernels.layer, kernels.head
        x = self.params["tok_embeddings"][inputs].T.reshape(1, m.dim, 1, m.seq)
        acts: list[np.ndarray] = []
        saved: list[dict[str, np.ndarray]] = []
        for i in range(n_layers + 1):
            phase, idx = (layer, i) if i < n_layers else (head, 0)
            fwd = phase.forward[idx]
            _check_activation(x, f"layer {i}" if i < n_layers else "the head", self.step_count + 1)
            timer.write(fwd, "x", x)
            timer.run(fwd)
            acts.append(x)
            saved.append({name: timer.read(fwd, name) for name in phase.saved})
            if i < n_layers:
                x = timer.read(fwd, "y")
        # The head's chunks are independent outputs: the softmax runs over their concatenation.
        chunks = [timer.read(head.forward[0], name) for name in head_outputs(m)]
        logits = np.concatenate([c.reshape(-1, m.seq) for c in chunks], axis=0).T
        if not np.all(np.isfinite(logits)):
            raise TrainingError(
                f"step {self.step_count + 1}: the forward pass produced non-finite logits (an fp16 overflow); "
                "lower the learning rate or check the data"
            )
        loss, dlogits = cross_entropy(logits, targets)
        # Seen by the backward kernels in fp16: scaled so small gradients do not underflow (LossScaler).
        grad_logits = dlogits.T * np.float32(scale / self.config.accum)  # [V, S]
        inv = np.float32(1.0 / scale)
        bwd = head.backward[0]
        self._feed_backward(bwd, acts[n_layers], saved[n_layers], timer)
        for c, (start, n) in enumerate(m.head_chunks):  # one cotangent per chunk of the head
            timer.write(bwd, f"grad_logits_{c}", grad_logits[start : start + n].reshape(1, n, 1, m.seq))
        timer.run(bwd)
        grads["norm"] += from_input(timer.read(bwd, "grad_norm"), grads["norm"].shape) * inv
        head_grad = grads[m.head_weight]  # the embedding's rows when tied: both gradients add up there
        for c, (start, n) in enumerate(m.head_chunks):
            head_grad[start : start + n] += from_input(timer.read(bwd, f"grad_output_{c}"), (n, m.dim)) * inv
        grad_out = timer.read(bwd, "grad_x")
        for i in range(n_layers - 1, -1, -1):
            bwd = layer.backward[i]
            self._feed_backward(bwd, acts[i], saved[i], timer)
            timer.write(bwd, "grad_y", grad_out)
            timer.run(bwd)
            for name in LAYER_WEIGHTS:
                key = f"layers.{i}.{name}"
                grads[key] += from_input(timer.read(bwd, f"grad_{name}"), grads[key].shape) * inv
            grad_out = timer.read(bwd, "grad_x")
        # The embedding's gradient: each position's input gradient added to its token's row.
        np.add.at(grads["tok_embeddings"], inputs, grad_out.reshape(m.dim, m.seq).T * inv)
        return loss

    @staticmethod
    def _feed_backward(bwd: Kernel, x: np.ndarray, saved: Mapping[str, np.ndarray], timer: Timer) -> None:
        """Write a backward kernel's forward-side inputs: the program's input ``x`` (when it reads it) and the
        tensors the forward saved for it."""
        if "x" in bwd.inputs:
            timer.write(bwd, "x", x)
        for name, value in saved.items():
            timer.write(bwd, name, value)

    # -- checkpoints -----------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything a resumed run needs: weights, optimizer moments, loss-scale state, step, data position and
        RNG state, and the configurations (checked on load)."""
        out: dict[str, Any] = {f"param.{k}": v for k, v in self.params.items()}
        out.update(self.optimizer.state())
        out["scaler"] = self.scaler.state()
        out["sampler"] = self.sampler.state()
        out["step"] = self.step_count
        out["model"] = self.model.as_dict()
        out["train"] = self.config.as_dict()
        out["version"] = CHECKPOINT_VERSION
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a checkpoint to ``path`` atomically (a crash mid-write leaves the previous one intact)."""
        save_checkpoint(path, self.state())

    def load(self, path: str | os.PathLike[str]) -> None:
        """Resume from a checkpoint written by :meth:`save` for the same model and settings.

        Raises:
            FileNotFoundError: no file at ``path``.
            TrainingError: the checkpoint is for another model, other settings or another format.
        """
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"Trainer.load: path must be a str or os.PathLike, got {type(path).__name__}")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Trainer.load: no checkpoint file at {os.fspath(path)!r}")
        self.load_state(load_checkpoint(path))

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state`'s output (see :meth:`load`)."""
        if not isinstance(state, Mapping):
            raise TypeError(f"Trainer.load_state: state must be a mapping (Trainer.state), got {type(state).__name__}")
        if state.get("version") != CHECKPOINT_VERSION:
            raise TrainingError(f"checkpoint format {state.get('version')!r}, expected {CHECKPOINT_VERSION}")
        for label, mine in (("model", self.model.as_dict()), ("train", self.config.as_dict())):
            if state.get(label) != mine:
                raise TrainingError(f"checkpoint was written for {label} {state.get(label)!r}, this run has {mine!r}")
        for name, p in self.params.items():
            value = state.get(f"param.{name}")
            if not isinstance(value, np.ndarray) or value.shape != p.shape:
                raise TrainingError(f"checkpoint: parameter {name!r} is missing or has the wrong shape")
            p[...] = value
        try:
            self.optimizer.load_state(state)
            self.scaler.load_state(state["scaler"])
            self.sampler.load_state(state["sampler"])
        except (KeyError, ValueError) as exc:
            raise TrainingError(f"checkpoint: {exc}") from exc
        step = state.get("step")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise TrainingError(f"checkpoint: step must be a non-negative int, got {step!r}")
        self.step_count = step
        self._staged = False


#: Largest root mean square over channels of an activation entering an RMSNorm: the norm computes ``mean(x^2)`` in
#: fp16, which overflows at 256^2 = 65536, after which it silently outputs zeros (:func:`anekit.nn.rms_norm_trainable`).
#: The margin covers the rounding of the fp16 sum.
ACTIVATION_RMS_LIMIT = 240.0


def _check_activation(x: np.ndarray, where: str, step: int) -> None:
    rms = float(np.sqrt(np.max(np.mean(np.square(x.astype(np.float64)), axis=1))))
    if not rms < ACTIVATION_RMS_LIMIT:  # also catches NaN
        raise TrainingError(
            f"step {step}: the residual stream entering {where} reached a root mean square of {rms:g}, beyond the "
            f"{ACTIVATION_RMS_LIMIT:g} fp16 RMSNorm can square; lower the learning rate or the initialisation scale"
        )
