"""Training step time on the reference backend against PyTorch CPU fp32, in one run on the same machine.

For each model, anekit's :class:`anekit.train.Trainer` (forward and backward kernels on the reference executor,
the ANE's fp16 semantics; loss, AdamW and clipping on the CPU) and the PyTorch oracle
(:class:`anekit.train.torch_oracle.TorchTrainer`, fp32 eager, autograd) take the same steps on the same batches,
one step of each in turn so that load on a shared machine affects both alike. Reported: the median ms per step
after the first (which compiles), its split into kernel evaluation, surface I/O and the rest of the CPU work,
the ratio to PyTorch, compiles per step after the first (must be 0), and the kernel dispatches of one step (each
costs ≈ 0.2 ms on an M4's ANE, docs/internals/reference-numbers.md §3, which bounds the on-device step time from
below).

Models: ``example`` (the example's default: 4 layers, dim 256, seq 128) and ``stories110m`` (Stories110M's full
configuration: dim 768, hidden 2048, 12 heads, 12 layers, seq 256, vocabulary 32000 with the head tied to the
embedding as llama2.c's checkpoint has it; the head runs as two 16000-row chunks, ``ModelConfig.head_chunk``; full
mode only). The corpus is bytes; Stories110M's batches draw their token ids from the same bytes, which exercises
every part of the step but only 256 of the head's rows get a target. ``--quick`` runs a tiny model for a few steps
(seconds; CI runs it).

Usage: python benchmarks/bench_train.py [--quick] [--steps N] [--json FILE]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from _timing import machine, write_json
from anekit.train import ModelConfig, TrainConfig, Trainer, pydoc_topics_bytes

MODELS = {
    "tiny": ModelConfig(dim=64, layers=2, heads=4, kv_heads=2, hidden=128, seq=32),
    "example": ModelConfig(),
    "stories110m": ModelConfig(
        vocab_size=32000, dim=768, hidden=2048, heads=12, kv_heads=12, layers=12, seq=256, tie_embeddings=True
    ),
}


def bench(name: str, model: ModelConfig, steps: int, accum: int) -> dict[str, Any]:
    tokens = pydoc_topics_bytes()
    config = TrainConfig(accum=accum)
    trainer = Trainer(model, config, tokens, backend="reference")
    oracle = None
    try:
        from anekit.train.torch_oracle import TorchTrainer

        oracle = TorchTrainer(model, config, tokens)
    except ImportError:
        print("torch is not installed: PyTorch figures are left out")
    torch_s: list[float] = []
    for _ in range(steps):
        trainer.step()
        if oracle is not None:
            t0 = time.perf_counter()
            oracle.step()
            torch_s.append(time.perf_counter() - t0)
    warm = trainer.history[1:]

    def med(values: list[float]) -> float:
        return statistics.median(values) * 1e3

    first = trainer.history[0]
    row: dict[str, Any] = {
        "model": name,
        "config": model.as_dict(),
        "params_m": model.n_params() / 1e6,
        "tokens_per_step": config.accum * model.seq,
        "steps": steps,
        "first_step_ms": first.seconds * 1e3,
        "compiles_first_step": first.compiles,
        "compiles_per_step_after_first": max(s.compiles for s in warm) if warm else None,
        "kernels_per_step": first.dispatches,
        "head_chunks": len(model.head_chunks),
        "kernels_per_micro_batch": trainer.kernels.kernels_per_micro_batch if trainer.kernels else None,
        "anekit_ms": med([s.seconds for s in warm]),
        "kernel_ms": med([s.kernel_s for s in warm]),
        "io_ms": med([s.io_s for s in warm]),
        "cpu_ms": med([s.cpu_s for s in warm]),
        "torch_ms": med(torch_s[1:]) if len(torch_s) > 1 else None,
        "dispatch_floor_ms_at_0.2ms": 0.2 * first.dispatches,
        "gflop_per_step": model.flops_per_token() * config.accum * model.seq / 1e9,
        "losses": [s.loss for s in trainer.history],
    }
    if row["torch_ms"]:
        row["anekit_over_torch"] = row["anekit_ms"] / row["torch_ms"]
    trainer.close()
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a tiny model for a few steps (seconds)")
    ap.add_argument("--steps", type=int, default=None, help="steps per model (default 4, quick 3)")
    ap.add_argument("--json")
    args = ap.parse_args()
    plan = [("tiny", 3, 1)] if args.quick else [("example", 6, 2), ("stories110m", 3, 1)]
    report: dict[str, Any] = {"machine": machine(), "backend": "reference", "rows": []}
    for name, steps, accum in plan:
        row = bench(name, MODELS[name], args.steps or steps, accum)
        report["rows"].append(row)
        torch_part = (
            f"torch {row['torch_ms']:.1f} ms ({row['anekit_over_torch']:.2f}x)" if row.get("torch_ms") else "no torch"
        )
        print(
            f"{name}: {row['params_m']:.1f} M params, {row['tokens_per_step']} tokens/step: anekit reference "
            f"{row['anekit_ms']:.1f} ms/step (kernels {row['kernel_ms']:.1f}, io {row['io_ms']:.1f}, "
            f"cpu {row['cpu_ms']:.1f}); {torch_part}; first step {row['first_step_ms']:.0f} ms with "
            f"{row['compiles_first_step']} compiles; compiles/step after it {row['compiles_per_step_after_first']}; "
            f"{row['kernels_per_step']} kernel dispatches/step (>= {row['dispatch_floor_ms_at_0.2ms']:.1f} ms "
            f"on an M4 at 0.2 ms each)",
            flush=True,
        )
    write_json(args.json, report)


if __name__ == "__main__":
    main()
