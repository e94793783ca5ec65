"""Every public entry point of anekit.train refuses bad input with an error naming the argument and what was
expected (nothing is silently wrong: a negative token id would index the embedding from its end, an int gradient
would be truncated by AdamW, a NaN learning rate would poison every weight)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from anekit.errors import TrainingError
from anekit.train import (
    AdamW,
    BatchSampler,
    LossScaler,
    ModelConfig,
    StepKernels,
    TrainConfig,
    Trainer,
    clip_grad_norm,
    cross_entropy,
    head_program,
    init_params,
    layer_program,
    learning_rate,
    pydoc_topics_bytes,
)
from anekit.train.model import from_input, head_inputs, rope_inputs, to_input

SMALL = ModelConfig(dim=64, layers=2, heads=4, kv_heads=2, hidden=128, seq=32)
TOKENS = pydoc_topics_bytes()
F32 = np.zeros(3, np.float32)

CASES: dict[str, tuple[Callable[[], object], type[Exception], str]] = {
    # ModelConfig: sizes, heads that do not divide dim, seq off the safe spatial multiple, the head's chunk.
    "vocab_size zero": (lambda: ModelConfig(vocab_size=0), ValueError, "vocab_size must be a positive int"),
    "dim float": (lambda: ModelConfig(dim=64.0), ValueError, "dim must be a positive int"),  # type: ignore[arg-type]
    "heads not dividing dim": (lambda: ModelConfig(dim=66, heads=4, kv_heads=2), ValueError, r"\(4\) must divide"),
    "odd head size": (lambda: ModelConfig(dim=40, heads=8, kv_heads=4), ValueError, "must be even for RoPE"),
    "seq not a multiple of 32": (lambda: ModelConfig(seq=100), ValueError, "seq must be a multiple of 32"),
    "head_chunk above the ANE limit": (lambda: ModelConfig(head_chunk=20000), ValueError, "head_chunk must be at most"),
    "head_chunk zero": (lambda: ModelConfig(head_chunk=0), ValueError, "head_chunk must be a positive int"),
    "eps negative": (lambda: ModelConfig(eps=-1e-5), ValueError, "eps must be a positive finite"),
    "rope_theta inf": (lambda: ModelConfig(rope_theta=float("inf")), ValueError, "rope_theta must be"),
    "tie_embeddings not bool": (lambda: ModelConfig(tie_embeddings=1), ValueError, "tie_embeddings must be a bool"),  # type: ignore[arg-type]
    # TrainConfig.
    "lr negative": (lambda: TrainConfig(lr=-1e-3), ValueError, "lr must be a number"),
    "lr nan": (lambda: TrainConfig(lr=float("nan")), ValueError, "lr must be a number"),
    "lr inf": (lambda: TrainConfig(lr=float("inf")), ValueError, "lr must be finite"),
    "lr str": (lambda: TrainConfig(lr="3e-3"), ValueError, "lr must be a number"),  # type: ignore[arg-type]
    "one beta": (lambda: TrainConfig(betas=(0.9,)), ValueError, "betas must be two numbers"),  # type: ignore[arg-type]
    "beta of 1": (lambda: TrainConfig(betas=(0.9, 1.0)), ValueError, "beta must be a number"),
    "weight_decay negative": (lambda: TrainConfig(weight_decay=-0.1), ValueError, "weight_decay must be"),
    "eps negative (adam)": (lambda: TrainConfig(eps=-1.0), ValueError, "eps must be"),
    "loss_scale zero": (lambda: TrainConfig(loss_scale=0.0), ValueError, "scale must be a number"),
    "grad_clip bool": (lambda: TrainConfig(grad_clip=True), ValueError, "grad_clip must be positive"),
    "warmup zero": (lambda: TrainConfig(warmup=0), ValueError, "warmup must be a positive int"),
    "seed negative": (lambda: TrainConfig(seed=-1), ValueError, "seed must be a non-negative int"),
    # Functions of a config.
    "learning_rate step": (lambda: learning_rate(TrainConfig(), -1), ValueError, "step must be a non-negative int"),
    "learning_rate config": (lambda: learning_rate({"lr": 1.0}, 0), TypeError, "config must be a TrainConfig"),  # type: ignore[arg-type]
    "init_params seed": (lambda: init_params(SMALL, -3), ValueError, "seed must be a non-negative int"),
    "init_params config": (lambda: init_params("small", 0), TypeError, "config must be a ModelConfig"),  # type: ignore[arg-type]
    "layer_program config": (lambda: layer_program(None), TypeError, "layer_program: config"),  # type: ignore[arg-type]
    "head_program config": (lambda: head_program(SMALL.as_dict()), TypeError, "head_program: config"),  # type: ignore[arg-type]
    "head_inputs config": (lambda: head_inputs(None), TypeError, "head_inputs: config"),  # type: ignore[arg-type]
    "rope_inputs config": (lambda: rope_inputs(None), TypeError, "rope_inputs: config"),  # type: ignore[arg-type]
    "to_input 3-D": (lambda: to_input(np.zeros((2, 2, 2))), ValueError, "1-D or 2-D parameter"),
    "from_input wrong size": (lambda: from_input(np.zeros((1, 4, 1, 3)), (5, 4)), ValueError, r"shape \(5, 4\)"),
    # Data and loss: wrong dtypes and shapes of batches.
    "sampler negative token": (lambda: BatchSampler(np.full(100, -1), 32, 0), ValueError, "non-negative"),
    "sampler float tokens": (lambda: BatchSampler(np.zeros(100), 32, 0), ValueError, "1-D integer array"),
    "sampler 2-D tokens": (lambda: BatchSampler(np.zeros((4, 100), np.int64), 32, 0), ValueError, "1-D integer"),
    "sampler seed": (lambda: BatchSampler(TOKENS, 32, -1), ValueError, "seed must be a non-negative int"),
    "sampler state": (lambda: BatchSampler(TOKENS, 32, 0).load_state(3), ValueError, "state must be a mapping"),  # type: ignore[arg-type]
    "cross_entropy empty": (lambda: cross_entropy(np.zeros((0, 5)), np.zeros(0, np.int64)), ValueError, "non-empty"),
    "cross_entropy float targets": (lambda: cross_entropy(np.zeros((3, 5)), np.zeros(3)), ValueError, "integers"),
    "cross_entropy targets": (lambda: cross_entropy(np.zeros((3, 5)), np.zeros(4, int)), ValueError, r"targets \[S\]"),
    # Optimizer, clipping, loss scaling.
    "adamw int gradient": (
        lambda: AdamW({"a": F32.copy()}).step({"a": np.zeros(3, np.int64)}),
        TypeError,
        "gradient 'a' must be a floating numpy array, got a int64 array",
    ),
    "adamw list gradient": (lambda: AdamW({"a": F32.copy()}).step({"a": [1.0, 2.0, 3.0]}), TypeError, "got list"),  # type: ignore[dict-item]
    "adamw gradient shape": (lambda: AdamW({"a": F32.copy()}).step({"a": np.zeros(4, np.float32)}), ValueError, "4,"),
    "adamw grads not a mapping": (lambda: AdamW({"a": F32.copy()}).step([F32]), TypeError, "mapping"),  # type: ignore[arg-type]
    "clip list": (lambda: clip_grad_norm([F32], 1.0), TypeError, "clip_grad_norm: gradients must be a mapping"),  # type: ignore[arg-type]
    "clip int gradient": (lambda: clip_grad_norm({"a": np.ones(3, int)}, 1.0), TypeError, "floating numpy array"),
    "scaler bounds": (lambda: LossScaler(scale=5.0, min_scale=10.0, max_scale=1.0), ValueError, "max_scale must be"),
    "scaler state scale": (
        lambda: LossScaler().load_state({"scale": -1.0, "good_steps": 0, "skipped": 0}),
        ValueError,
        "scale must be a number",
    ),
    "scaler state counts": (
        lambda: LossScaler().load_state({"scale": 8.0, "good_steps": -2, "skipped": 0}),
        ValueError,
        "non-negative ints",
    ),
    "scaler state keys": (lambda: LossScaler().load_state({"scale": 8.0}), ValueError, "good_steps and skipped"),
    # Trainer and its kernels.
    "trainer negative tokens": (lambda: Trainer(SMALL, TrainConfig(), np.full(1000, -3)), ValueError, "non-negative"),
    "trainer token beyond vocab": (lambda: Trainer(SMALL, TrainConfig(), np.arange(1000) % 300), ValueError, "vocab"),
    "trainer backend": (lambda: Trainer(SMALL, TrainConfig(), TOKENS, backend="gpu"), ValueError, "backend must be"),
    "trainer state": (lambda: Trainer(SMALL, TrainConfig(), TOKENS).load_state(3), TypeError, "must be a mapping"),  # type: ignore[arg-type]
    "trainer load path type": (lambda: Trainer(SMALL, TrainConfig(), TOKENS).load(3), TypeError, "path must be"),  # type: ignore[arg-type]
    "step kernels config": (lambda: StepKernels(SMALL.as_dict()), TypeError, "config must be a ModelConfig"),  # type: ignore[arg-type]
    "step kernels backend": (lambda: StepKernels(SMALL, backend="cpu"), ValueError, "backend must be one of"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_with_a_clear_error(case: str) -> None:
    call, kind, match = CASES[case]
    with pytest.raises(kind, match=match):
        call()


def test_a_missing_checkpoint_is_named(tmp_path: Path) -> None:
    trainer = Trainer(SMALL, TrainConfig(), TOKENS, backend="reference")
    with pytest.raises(FileNotFoundError, match=r"no checkpoint file at .*nothing\.npz"):
        trainer.load(tmp_path / "nothing.npz")


def test_a_checkpoint_of_another_model_or_head_is_refused(tmp_path: Path) -> None:
    trainer = Trainer(SMALL, TrainConfig(), TOKENS, backend="reference")
    trainer.save(tmp_path / "ck.npz")
    for other in (
        ModelConfig(**{**SMALL.as_dict(), "tie_embeddings": True}),  # no separate output weight
        ModelConfig(**{**SMALL.as_dict(), "head_chunk": 128}),
        ModelConfig(**{**SMALL.as_dict(), "hidden": 96}),
    ):
        with pytest.raises(TrainingError, match="checkpoint was written for model"):
            Trainer(other, TrainConfig(), TOKENS).load(tmp_path / "ck.npz")
    with pytest.raises(TrainingError, match="checkpoint was written for train"):
        Trainer(SMALL, TrainConfig(lr=1e-4), TOKENS).load(tmp_path / "ck.npz")
    state = trainer.state()
    state["param.norm"] = np.ones(SMALL.dim + 1, np.float32)
    with pytest.raises(TrainingError, match="parameter 'norm' is missing or has the wrong shape"):
        Trainer(SMALL, TrainConfig(), TOKENS).load_state(state)
