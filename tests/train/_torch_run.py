"""Shared by the training tests: an anekit run and the PyTorch oracle taking the same steps side by side."""

from __future__ import annotations

import numpy as np

from anekit.train import ModelConfig, TrainConfig, Trainer
from anekit.train.torch_oracle import TorchTrainer


def run_beside_torch(
    model: ModelConfig, config: TrainConfig, tokens: np.ndarray, steps: int
) -> tuple[Trainer, TorchTrainer, list[float]]:
    """``steps`` steps of each on the reference backend (PyTorch skips the steps anekit skipped); returns both
    trainers and the absolute loss difference per step."""
    trainer = Trainer(model, config, tokens, backend="reference")
    oracle = TorchTrainer(model, config, tokens)
    diffs = []
    for _ in range(steps):
        stats = trainer.step()
        diffs.append(abs(stats.loss - oracle.step(apply=not stats.skipped)))
    return trainer, oracle, diffs
