"""Reverse-mode autodiff over MIL: derivation time, forward vs backward op counts, reference run times.

Measures, in one run:

* the time :func:`anekit.autodiff.vjp` takes to derive the backward of one llama decoder block and of a 6-layer
  model (the blocks chained in one program), with every weight a function input (as a training loop feeds them),
  under each save policy (``recompute``, ``activations``, ``selective``);
* op counts (``const`` excluded) of the forward and of each backward;
* reference-executor run times (``precision="ane"``, fp16 storage) of the block's forward and backward, and
  their ratio (forward and backward samples alternate, so machine load hits both alike).

Block sizes (full run): dim 256, 8 heads, 4 KV heads, SwiGLU 704, sequence 128 — the training example's model.
``--quick`` uses dim 64, S 32 and fewer repeats (the CI smoke run).

Usage: python benchmarks/bench_autodiff.py [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import numpy as np

from _timing import machine, time_call, time_interleaved, write_json
from anekit import autodiff, mil, nn, reference


def _linear(mb: mil.Builder, x: mil.Var, w: mil.Var) -> mil.Var:
    """``W x`` with ``W`` a run-time ``[OUT, IN, 1, 1]`` input (a 1x1 conv)."""
    return mb.conv(x=x, weight=w, pad_type="valid")


def _rms_norm(mb: mil.Builder, x: mil.Var, g: mil.Var, eps: float = 1e-5) -> mil.Var:
    """:func:`anekit.nn.rms_norm`'s ops with the gain an input ``[1, C, 1, 1]``."""
    c = x.type.shape[1]  # type: ignore[union-attr]
    axes = np.array([1], np.int32)
    inv_m = mb.pow(
        x=mb.maximum(x=mb.reduce_max(x=mb.abs(x=x), axes=axes, keep_dims=True), y=np.float16(1.0)),
        y=np.float16(-1.0),
    )
    xs = mb.mul(x=x, y=inv_m)
    ms = mb.mul(x=mb.reduce_sum(x=mb.mul(x=xs, y=xs), axes=axes, keep_dims=True), y=np.float16(1.0 / c))
    inv = mb.pow(x=mb.add(x=ms, y=mb.mul(x=mb.mul(x=inv_m, y=inv_m), y=np.float16(eps))), y=np.float16(-0.5))
    return mb.mul(x=mb.mul(x=xs, y=inv), y=g)


def weight_shapes(d: nn.DecoderDims) -> dict[str, tuple[int, ...]]:
    return {
        "attn_norm": (1, d.dim, 1, 1),
        "wq": (d.dim, d.dim, 1, 1),
        "wk": (d.kv_dim, d.dim, 1, 1),
        "wv": (d.kv_dim, d.dim, 1, 1),
        "wo": (d.dim, d.dim, 1, 1),
        "ffn_norm": (1, d.dim, 1, 1),
        "w_gate": (d.hidden, d.dim, 1, 1),
        "w_up": (d.hidden, d.dim, 1, 1),
        "w_down": (d.dim, d.hidden, 1, 1),
    }


def model_program(d: nn.DecoderDims, seq: int, layers: int) -> mil.Program:
    """``layers`` llama blocks in one program; inputs ``x``, ``cos``, ``sin`` and ``l<i>_<weight>``."""
    mb = mil.Builder("ios18")
    x = mb.input("x", mil.tensor((1, d.dim, 1, seq), "fp16"))
    cos = mb.input("cos", mil.tensor((1, d.head_dim, 1, seq), "fp16"))
    sin = mb.input("sin", mil.tensor((1, d.head_dim, 1, seq), "fp16"))
    mask = nn.causal_mask(seq)
    for i in range(layers):
        w = {k: mb.input(f"l{i}_{k}", mil.tensor(s, "fp16")) for k, s in weight_shapes(d).items()}
        h = _rms_norm(mb, x, w["attn_norm"])
        q = nn.apply_rope(mb, _linear(mb, h, w["wq"]), cos, sin, d.heads, d.head_dim)
        k = nn.apply_rope(mb, _linear(mb, h, w["wk"]), cos, sin, d.kv_heads, d.head_dim)
        a = nn.attention(mb, q, k, _linear(mb, h, w["wv"]), mask, d.heads, d.kv_heads, d.head_dim)
        x = mb.add(x=x, y=_linear(mb, a, w["wo"]))
        h = _rms_norm(mb, x, w["ffn_norm"])
        g, u = _linear(mb, h, w["w_gate"]), _linear(mb, h, w["w_up"])
        x = mb.add(x=x, y=_linear(mb, mb.mul(x=mb.mul(x=g, y=mb.sigmoid(x=g)), y=u), w["w_down"]))
    return mb.build({"y": x})


def feeds(program: mil.Program, d: nn.DecoderDims, seq: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    cos, sin = nn.rope_tables(d.head_dim, np.arange(seq))
    out: dict[str, np.ndarray] = {"cos": cos, "sin": sin}
    for name, v in program.main.inputs.items():
        shape = tuple(v.type.shape)  # type: ignore[union-attr]
        if name in out:
            continue
        if name.endswith("norm"):
            out[name] = 1 + 0.1 * rng.standard_normal(shape)
        elif name == "x":
            out[name] = rng.standard_normal(shape)
        else:
            out[name] = rng.standard_normal(shape) / np.sqrt(shape[1])
    return {k: v.astype(np.float16) for k, v in out.items()}


def _ops(p: mil.Program) -> int:
    return sum(op.op_type != "const" for op in p.main.operations)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--quick", action="store_true", help="small block, fewer repeats (smoke test)")
    args = ap.parse_args()
    if args.quick:
        dims, seq, min_time = nn.DecoderDims(dim=64, heads=4, kv_heads=2, hidden=128), 32, 0.1
    else:
        dims, seq, min_time = nn.DecoderDims(dim=256, heads=8, kv_heads=4, hidden=704), 128, 1.0
    results: dict[str, Any] = {"dims": dims.__dict__, "seq": seq, "machine": machine()}
    rows: list[tuple[str, float, str]] = []
    for layers in (1, 6):
        program = model_program(dims, seq, layers)
        wrt = [n for n in program.main.inputs if n not in ("cos", "sin")]
        for save in autodiff.SAVE_POLICIES:
            t = time_call(
                lambda p=program, w=wrt, s=save: autodiff.vjp(p, w, save=s), min_time=min_time, min_repeats=3
            )
            g = autodiff.vjp(program, wrt, save=save)
            key = f"{layers}layer_{save}"
            results[f"derive_{key}_s"] = t["median_s"]
            results[f"ops_forward_{key}"] = _ops(g.forward)
            results[f"ops_backward_{key}"] = _ops(g.backward)
            results[f"saved_{key}"] = len(g.saved)
            rows.append(
                (
                    f"vjp {layers}-layer model, save={save}",
                    t["median_s"] * 1000,
                    f"forward {_ops(g.forward)} ops -> backward {_ops(g.backward)} ops, {len(g.saved)} saved",
                )
            )

    # Reference run times of one block (fp16 storage, as on the ANE): forward vs backward, interleaved.
    program = model_program(dims, seq, 1)
    wrt = [n for n in program.main.inputs if n not in ("cos", "sin")]
    g = autodiff.vjp(program, wrt)
    f = feeds(program, dims, seq)
    fwd = reference.Executor(program, precision="ane")
    bwd = reference.Executor(g.backward, precision="ane")
    bfeeds = {k: f.get(k, np.ones((1, dims.dim, 1, seq), np.float16)) for k in g.backward.main.inputs}
    grads = bwd(bfeeds)
    assert all(np.all(np.isfinite(v)) for v in grads.values()), "non-finite gradient"
    timed = time_interleaved(
        {"forward": lambda: fwd(f), "backward": lambda: bwd(bfeeds)}, rounds=3 if args.quick else 8, warmup=1
    )
    pairs = zip(timed["forward"]["round_median_s"], timed["backward"]["round_median_s"], strict=True)
    ratio = statistics.median(b / a for a, b in pairs)
    results["reference_forward_s"] = timed["forward"]["median_s"]
    results["reference_backward_s"] = timed["backward"]["median_s"]
    results["reference_backward_over_forward"] = ratio
    rows.append(("reference run, block forward (precision=ane)", timed["forward"]["median_s"] * 1000, ""))
    rows.append(
        (
            "reference run, block backward (precision=ane)",
            timed["backward"]["median_s"] * 1000,
            f"{ratio:.2f}x the forward (median of per-round ratios)",
        )
    )

    print(f"dims {dims}, seq {seq}")
    print(f"{'measurement':<48} {'median ms':>10}  note")
    for name, value, note in rows:
        print(f"{name:<48} {value:>10.2f}  {note}")
    write_json(args.json, results)


if __name__ == "__main__":
    main()
