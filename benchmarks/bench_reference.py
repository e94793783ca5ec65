"""Reference executor speed: one transformer block on the CPU, anekit.reference versus PyTorch fp32 eager.

The block (d=768, 12 heads, seq 256, ANE layout ``[1, C, 1, S]``): layer_norm over channels → fused QKV 1×1
conv → split → causal attention written out as matmul / scale / additive mask / softmax / matmul → output
projection → residual → layer_norm → FFN (1×1 conv 768→3072, gelu EXACT, 1×1 conv 3072→768) → residual.

Measured in one run on the same machine:

* ``anekit.reference`` with ``precision="ane"`` (fp16 storage after every op) and ``"fp32"``, steady state: a
  prepared :class:`anekit.reference.Executor` called repeatedly (``run()`` also prepares the program each
  call; its time is reported too);
* PyTorch CPU fp32 eager (``torch.no_grad``), the same graph with the same weights.

The three are timed interleaved (one call of each per round), so that other load on a shared machine
affects them alike; medians are reported.

Target (issue 4): reference (``precision="ane"``) <= 1.5x torch's time. The script also checks that the
results agree (fp32 reference vs torch within 1e-3 relative to the output scale).

Usage: python benchmarks/bench_reference.py [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

from _timing import machine, time_call, write_json
from anekit import mil, reference
from anekit.examples import transformer_block
from anekit.examples.transformer import MASK_VALUE

D, HEADS, SEQ, FFN = 768, 12, 256, 3072
DH = D // HEADS


def block_program() -> mil.Program:
    """The block as :func:`anekit.examples.transformer_block` builds it (gelu EXACT)."""
    return transformer_block(D, HEADS, SEQ, FFN, gelu_mode="EXACT")


def weights_of(program: mil.Program) -> dict[str, np.ndarray]:
    """The fp16 constants the program holds, read back out of it so torch runs the very same weights."""
    ops = {op.name: op for op in program.main.operations}
    w = {name: ops[f"conv_{i}"].input_value("weight") for i, name in enumerate(("wqkv", "wo", "w1", "w2"))}
    for i in (0, 1):
        ln = ops[f"layer_norm_{i}"]
        w[f"g{i + 1}"], w[f"b{i + 1}"] = ln.input_value("gamma"), ln.input_value("beta")
    return {k: np.asarray(v) for k, v in w.items()}


def causal_mask() -> np.ndarray:
    """Additive mask ``[1, 1, S, S]``: 0 on and below the diagonal, -65504 (fp16's lowest) above (§10.10)."""
    return np.triu(np.full((SEQ, SEQ), MASK_VALUE, np.float16), k=1)[None, None]


def torch_block(w: dict[str, np.ndarray]) -> Any:
    """The same block in PyTorch fp32 eager; returns a callable on a [1, D, 1, S] float32 tensor."""
    import torch
    import torch.nn.functional as F

    t = {k: torch.from_numpy(v.astype(np.float32)) for k, v in w.items()}
    mask = torch.from_numpy(causal_mask().astype(np.float32))
    scale = float(np.float16(1.0 / np.sqrt(DH)))

    def ln(x: Any, g: Any, b: Any) -> Any:
        y = F.layer_norm(x.permute(0, 2, 3, 1), (D,), g, b, 1e-5)
        return y.permute(0, 3, 1, 2)

    def block(x: Any) -> Any:
        with torch.no_grad():
            h = ln(x, t["g1"], t["b1"])
            q, k, v = F.conv2d(h, t["wqkv"]).split(D, dim=1)
            q = q.reshape(1, HEADS, DH, SEQ).transpose(2, 3)
            k = k.reshape(1, HEADS, DH, SEQ).transpose(2, 3)
            v = v.reshape(1, HEADS, DH, SEQ).transpose(2, 3)
            p = torch.softmax(torch.matmul(q, k.transpose(2, 3)) * scale + mask, dim=-1)
            o = torch.matmul(p, v).transpose(2, 3).reshape(1, D, 1, SEQ)
            x = x + F.conv2d(o, t["wo"])
            h = F.gelu(F.conv2d(ln(x, t["g2"], t["b2"]), t["w1"]))
            return x + F.conv2d(h, t["w2"])

    return block


def interleaved(fns: dict[str, Any], rounds: int) -> dict[str, dict[str, float]]:
    """Time several callables in alternation, one call each per round, so that load from other processes
    on a shared machine hits all of them alike; returns median/p10/p90 seconds per callable."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter_ns()
            fn()
            samples[k].append((time.perf_counter_ns() - t0) * 1e-9)
    out = {}
    for k, v in samples.items():
        v.sort()
        n = len(v)
        out[k] = {"median_s": v[n // 2], "p10_s": v[n // 10], "p90_s": v[(9 * n) // 10], "repeats": float(n)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (smoke test)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved timing rounds (default 30, quick 5)")
    args = ap.parse_args()
    min_time = 0.3 if args.quick else 2.0
    if args.rounds is None:
        args.rounds = 5 if args.quick else 30

    prog = block_program()
    w = weights_of(prog)

    x = (np.random.default_rng(1).standard_normal((1, D, 1, SEQ))).astype(np.float16).astype(np.float32)
    inputs = {"x": x}
    results: dict[str, Any] = {
        "d_model": D,
        "heads": HEADS,
        "seq": SEQ,
        "ops": len(prog.main.operations),
        "machine": machine(),
    }
    from anekit.reference._fp16 import round_fp16_backend

    results["round_fp16"] = round_fp16_backend()
    ex_ane = reference.Executor(prog, precision="ane")
    ex_32 = reference.Executor(prog, precision="fp32")
    fns: dict[str, Any] = {
        "reference_ane": lambda: ex_ane(inputs),
        "reference_fp32": lambda: ex_32(inputs),
    }
    ref32 = ex_32(inputs)
    ref_ane = ex_ane(inputs)
    out_name = next(iter(ref32))
    try:
        import torch
    except ImportError as exc:
        print(f"torch not importable ({exc}); install with `pip install torch==2.13.0`", file=sys.stderr)
        torch = None
    block = None
    if torch is not None:
        block = torch_block(w)
        xt = torch.from_numpy(x)
        results["torch_threads"] = torch.get_num_threads()
        fns["torch_fp32_eager"] = lambda: block(xt)
    results.update(interleaved(fns, rounds=args.rounds))
    results["reference_run_ane"] = time_call(lambda: reference.run(prog, inputs), min_time=min_time)
    if block is not None:
        ref_t = block(xt).numpy()
        scale = float(np.max(np.abs(ref_t)))
        results["max_abs_diff_fp32_vs_torch"] = float(np.max(np.abs(ref32[out_name] - ref_t)))
        results["max_abs_diff_ane_vs_torch"] = float(np.max(np.abs(ref_ane[out_name].astype(np.float32) - ref_t)))
        results["output_scale"] = scale
        t_torch = results["torch_fp32_eager"]["median_s"]
        for p in ("ane", "fp32"):
            results[f"ratio_{p}_vs_torch"] = results[f"reference_{p}"]["median_s"] / t_torch
        if results["max_abs_diff_fp32_vs_torch"] > 1e-3 * scale:
            print("ERROR: fp32 reference and torch disagree", file=sys.stderr)
            return 1
    for key in ("reference_ane", "reference_fp32", "reference_run_ane", "torch_fp32_eager"):
        if key in results:
            print(
                f"{key:22s} median {results[key]['median_s'] * 1e3:8.2f} ms  "
                f"(p10 {results[key]['p10_s'] * 1e3:.2f}, p90 {results[key]['p90_s'] * 1e3:.2f})"
            )
    for p in ("ane", "fp32"):
        if f"ratio_{p}_vs_torch" in results:
            print(f"ratio reference[{p}] / torch = {results[f'ratio_{p}_vs_torch']:.2f} (target <= 1.5)")
    if "max_abs_diff_ane_vs_torch" in results:
        print(
            f"max |ane - torch| = {results['max_abs_diff_ane_vs_torch']:.3g}, "
            f"max |fp32 - torch| = {results['max_abs_diff_fp32_vs_torch']:.3g} (output scale {scale:.3g})"
        )
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
