"""Training on the ANE: a llama-style model whose weights are kernel inputs, trained with AdamW on the CPU.

``Trainer(ModelConfig(...), TrainConfig(...), tokens).step()`` runs one step: forward kernels, cross-entropy and its
gradient on the CPU, backward kernels derived by :func:`anekit.autodiff.vjp`, gradient accumulation, dynamic loss
scaling, gradient clipping and AdamW on fp32 master weights. The kernels are compiled in the first step only.
See docs/guide/training.md.
"""

from __future__ import annotations

from .data import BatchSampler, pydoc_topics_bytes
from .kernels import StepKernels
from .loss import cross_entropy
from .model import ModelConfig, head_inputs, head_outputs, head_program, init_params, layer_program
from .optim import AdamW, LossScaler, clip_grad_norm
from .trainer import StepStats, TrainConfig, Trainer, learning_rate

__all__ = [
    "AdamW",
    "BatchSampler",
    "LossScaler",
    "ModelConfig",
    "StepKernels",
    "StepStats",
    "TrainConfig",
    "Trainer",
    "clip_grad_norm",
    "cross_entropy",
    "head_inputs",
    "head_outputs",
    "head_program",
    "init_params",
    "layer_program",
    "learning_rate",
    "pydoc_topics_bytes",
]
