"""Train a small llama-style model on the ANE (or its reference executor), optionally against PyTorch.

The text is the Python documentation's topic pages that ship with CPython (``pydoc_data/topics.py``), as bytes
(vocabulary 256). Run::

    python -m anekit.examples.train --steps 50 --compare-torch

Each step prints its loss (and PyTorch's fp32 loss for the same model, initialisation and batches with
``--compare-torch``); the last line gives the largest difference, and the exit status is 1 when it exceeds
``--tolerance``. ``--checkpoint PATH`` saves after every step (``--save-every``), ``--resume PATH`` continues a
run from its checkpoint; ``--plot loss.png`` draws the loss curve (needs matplotlib).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from .. import budget
from ..train import ModelConfig, TrainConfig, Trainer, pydoc_topics_bytes

__all__ = ["DEFAULT_TOLERANCE", "WINDOW", "main"]

#: Largest accepted difference between anekit's and PyTorch's loss curves, in nats, on the mean over
#: :data:`WINDOW` consecutive steps. Each step's loss is one batch's: once fp16 rounding has moved the weights a
#: little, single-batch losses differ by more than the curves do (on the default model the per-step difference
#: stays within 0.002 for 20 steps, then reaches 0.28 at one step while the 5-step mean stays within 0.05 over
#: 50 steps; docs/guide/training.md).
DEFAULT_TOLERANCE = 0.1
#: Steps per window of the compared means.
WINDOW = 5


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m anekit.examples.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=50, help="optimizer steps (default 50)")
    p.add_argument("--backend", choices=("reference", "ane", "auto"), default="reference")
    p.add_argument("--compare-torch", action="store_true", help="run PyTorch fp32 alongside and compare losses")
    p.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="largest accepted loss difference")
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--hidden", type=int, default=704)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--accum", type=int, default=2, help="micro-batches (sequences) per step")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", choices=("recompute", "activations"), default="recompute",
                   help="what the backward kernels take from the forward pass")
    p.add_argument("--checkpoint", help="save a checkpoint here (see --save-every)")
    p.add_argument("--save-every", type=int, default=1, help="steps between checkpoints (default 1)")
    p.add_argument("--resume", help="continue from this checkpoint")
    p.add_argument("--plot", help="save the loss curve to this file (.png, .svg; needs matplotlib)")
    p.add_argument("--assert-no-compile-after-first", action="store_true",
                   help="turn ANEKIT_ASSERT_NO_COMPILE on from step 2: any compile then raises")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.steps < 1 or args.save_every < 1:
        print("--steps and --save-every must be positive", file=sys.stderr)
        return 2
    model = ModelConfig(
        dim=args.dim, layers=args.layers, heads=args.heads, kv_heads=args.kv_heads, hidden=args.hidden, seq=args.seq
    )
    config = TrainConfig(lr=args.lr, warmup=args.warmup, accum=args.accum, seed=args.seed, save=args.save)
    tokens = pydoc_topics_bytes()
    trainer = Trainer(model, config, tokens, backend=None if args.backend == "auto" else args.backend)
    oracle = None
    if args.compare_torch:
        from ..train.torch_oracle import TorchTrainer

        oracle = TorchTrainer(model, config, tokens)
    if args.resume:
        trainer.load(args.resume)
        if oracle is not None:
            print("--compare-torch starts PyTorch from step 0: it is not combined with --resume", file=sys.stderr)
            return 2
    print(
        f"model: {model.layers} layers, dim {model.dim}, hidden {model.hidden}, heads {model.heads}/{model.kv_heads}, "
        f"seq {model.seq}, vocab {model.vocab_size} ({model.n_params() / 1e6:.2f} M parameters); "
        f"data: pydoc_data.topics ({tokens.size} bytes); {config.accum} sequences per step",
        flush=True,
    )
    from .. import config as anekit_config

    reference: list[float] = []
    while trainer.step_count < args.steps:
        first = trainer.kernels is None
        if args.assert_no_compile_after_first and not first:
            with anekit_config.override(assert_no_compile=True):
                stats = trainer.step()
        else:
            stats = trainer.step()
        if args.checkpoint and (stats.step % args.save_every == 0 or stats.step == args.steps):
            trainer.save(args.checkpoint)  # before the step is reported: a run killed after the line can resume
        line = stats.line()
        if oracle is not None:
            ref = oracle.step(apply=not stats.skipped)
            reference.append(ref)
            line += f"  torch {ref:.4f}  diff {stats.loss - ref:+.4f}"
        if first:
            where = trainer.kernels.backend if trainer.kernels is not None else "?"
            line += f"  [compiled {stats.compiles} programs on {where}; {stats.dispatches} kernel dispatches/step]"
        print(line, flush=True)
    losses = [s.loss for s in trainer.history]  # this process's steps, in order
    later = trainer.history[1:]
    print(
        f"compiles after the first step: {sum(s.compiles for s in later)} over {len(later)} steps; "
        f"budget used {budget.used()}",
        flush=True,
    )
    if args.plot:
        from ..train.plot import save_loss_plot

        first_step = trainer.step_count - len(losses) + 1
        print(f"loss curve: {save_loss_plot(args.plot, losses, reference or None, first_step=first_step)}")
    if oracle is None:
        print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} over {len(losses)} steps")
        return 0
    diff = np.array(losses) - np.array(reference)
    raw = int(np.argmax(np.abs(diff)))
    window = min(WINDOW, diff.size)
    windowed = np.abs(np.convolve(diff, np.ones(window) / window, mode="valid"))
    worst = int(np.argmax(windowed))
    ok = bool(np.all(np.isfinite(diff))) and windowed[worst] <= args.tolerance
    verdict = "within" if ok else "DIVERGED beyond"
    print(
        f"max |anekit - torch| loss difference: {windowed[worst]:.4f} on the {window}-step mean (steps "
        f"{worst + 1}-{worst + window}; {verdict} tolerance {args.tolerance}), {abs(diff[raw]):.4f} at a single step "
        f"({raw + 1})"
    )
    return 0 if verdict == "within" else 1


if __name__ == "__main__":
    sys.exit(main())
