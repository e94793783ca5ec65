"""MIL tooling speed: build + emit a 12-layer transformer, and parse a real 862-statement file.

Measures, in one run:

* anekit: building a BERT-base-sized encoder (12 layers, d=768, 12 heads, seq 256, ANE layout [1, C, 1, S]:
  layer_norm, 1x1 conv Q/K/V/out/FFN, reshape/transpose into heads, matmul, scale, softmax, gelu, residual adds)
  with ``anekit.mil.Builder``, then emitting its MIL text (which lays out the weight blob) and the weight file;
* coremltools (when importable): the same graph with ``coremltools`` ``mb.program`` (build only; coremltools
  has no MIL text writer, docs/internals/mil-format.md §12.1), and the build-time ratio (target: anekit >= 10x faster);
* parsing ``minilm_l6_fp16_ios18/model.mil`` (862 statements, with type checks against the op registry;
  target <= 100 ms).

Garbage collection: a built program is a cyclic object graph (each ``Var`` points to its producing op and
back), for anekit and coremltools alike, so a discarded program is only freed by a full (generation 2)
collection. Timing builds back to back therefore charges each sample, at random, for freeing the programs of
earlier samples. The build rows start every sample from a collected heap instead (``gc.collect()`` before the
timer starts, outside the timing; the collector stays enabled, so the collections a build's own allocations
trigger are timed), the same way for both libraries: one build in a fresh process (the objects of the imported
libraries, torch's included, are frozen out of the collections meanwhile, ``gc.freeze``). The two libraries'
build samples alternate (anekit, coremltools, anekit, ...) and each sample averages the builds of about 0.2 s
(``time_builds``), so that load from other processes on this shared machine hits both alike; the speedup is the
median of the per-round ratios. The back-to-back medians are reported too (``*_build_loop_s`` in the JSON, and
the note column); anekit's is measured before coremltools is imported.

Usage: python benchmarks/bench_mil.py [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _timing import machine, time_call, write_json
from anekit import mil

D, HEADS, SEQ, LAYERS, FFN = 768, 12, 256, 12, 3072
MINILM = Path(__file__).resolve().parents[1] / "tests" / "data" / "mil" / "minilm_l6_fp16_ios18.mlmodelc"


def make_weights(layers: int) -> list[dict[str, np.ndarray]]:
    """Random fp16 weights per layer (conv weights [OC, IC, 1, 1]); generated outside the timings."""
    rng = np.random.default_rng(0)

    def w(oc: int, ic: int) -> np.ndarray:
        return (rng.standard_normal((oc, ic, 1, 1), dtype=np.float32) * 0.02).astype(np.float16)

    out = []
    for _ in range(layers):
        out.append(
            {
                "wq": w(D, D),
                "wk": w(D, D),
                "wv": w(D, D),
                "wo": w(D, D),
                "w1": w(FFN, D),
                "w2": w(D, FFN),
                "g1": np.ones(D, np.float16),
                "b1": np.zeros(D, np.float16),
                "g2": np.ones(D, np.float16),
                "b2": np.zeros(D, np.float16),
            }
        )
    return out


def encoder(mb: Any, x: Any, weights: list[dict[str, np.ndarray]]) -> Any:
    """The graph, written once against the API both builders share (MIL op and argument names)."""
    eps = np.float16(1e-5)  # same dtype as gamma/beta (ANE rule, docs/internals/mil-format.md §11 #3)
    scale = np.float16(1.0 / np.sqrt(D // HEADS))
    heads = np.array([1, HEADS, D // HEADS, SEQ], np.int32)
    flat = np.array([1, D, 1, SEQ], np.int32)
    perm = np.array([0, 1, 3, 2], np.int32)
    axes = np.array([1], np.int32)
    for w in weights:
        h = mb.layer_norm(x=x, axes=axes, gamma=w["g1"], beta=w["b1"], epsilon=eps)
        q = mb.conv(x=h, weight=w["wq"])
        k = mb.conv(x=h, weight=w["wk"])
        v = mb.conv(x=h, weight=w["wv"])
        q = mb.transpose(x=mb.reshape(x=q, shape=heads), perm=perm)  # [1, H, S, Dh]
        k = mb.reshape(x=k, shape=heads)  # [1, H, Dh, S]
        v = mb.transpose(x=mb.reshape(x=v, shape=heads), perm=perm)  # [1, H, S, Dh]
        att = mb.matmul(x=q, y=k, transpose_x=False, transpose_y=False)  # [1, H, S, S]
        att = mb.softmax(x=mb.mul(x=att, y=scale), axis=np.int32(-1))
        o = mb.matmul(x=att, y=v, transpose_x=False, transpose_y=False)  # [1, H, S, Dh]
        o = mb.reshape(x=mb.transpose(x=o, perm=perm), shape=flat)
        x = mb.add(x=x, y=mb.conv(x=o, weight=w["wo"]))
        h = mb.layer_norm(x=x, axes=axes, gamma=w["g2"], beta=w["b2"], epsilon=eps)
        h = mb.gelu(x=mb.conv(x=h, weight=w["w1"]), mode="EXACT")
        x = mb.add(x=x, y=mb.conv(x=h, weight=w["w2"]))
    return x


def build_anekit(weights: list[dict[str, np.ndarray]]) -> mil.Program:
    mb = mil.Builder("ios18")
    x = mb.input("x", mil.tensor((1, D, 1, SEQ), "fp16"))
    return mb.build(encoder(mb, x, weights))


def build_coremltools(weights: list[dict[str, np.ndarray]]) -> Any:
    import coremltools as ct
    from coremltools.converters.mil import Builder as cmb
    from coremltools.converters.mil.mil import types

    @cmb.program(
        input_specs=[cmb.TensorSpec(shape=(1, D, 1, SEQ), dtype=types.fp16)],
        opset_version=ct.target.iOS18,
    )
    def prog(x: Any) -> Any:
        return encoder(cmb, x, weights)

    return prog


def _stats(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    n = len(ordered)
    return {
        "median_s": statistics.median(ordered),
        "p10_s": ordered[max(0, n // 10)],
        "repeats": float(n),
        "samples": samples,  # in round order (time_builds pairs them by round)
    }


def time_builds(
    fns: dict[str, Any], *, min_time: float, min_repeats: int, span: float = 0.2
) -> dict[str, dict[str, Any]]:
    """Time several builders alike; per builder: median / p10 seconds per build, sample count, and the samples
    in round order (sample ``i`` of every builder comes from round ``i``, for paired comparisons).

    Each build starts from a collected heap (see the module docstring). The builders take turns, one sample
    each per round, so that a change of machine load during the run affects all of them. A sample is the mean
    of as many builds as fit in about ``span`` seconds (at least one): on a shared machine the other load comes
    in bursts, and a 10 ms build either falls into one or not, while a 200 ms build always averages over them;
    equal sample spans expose every builder to the same averaging.
    """
    reps = {}
    for name, fn in fns.items():  # calibration, also the warm-up
        gc.collect()
        t0 = time.perf_counter()
        fn()
        reps[name] = max(1, round(span / max(time.perf_counter() - t0, 1e-6)))
    # Every library is imported by now (coremltools brings torch: ~300k objects). Frozen, those are left out of
    # the collections, as in a process that only builds: otherwise each gc.collect() walks them all, which
    # flushes the CPU caches before every sample and makes a full collection during a build far costlier.
    gc.collect()
    gc.freeze()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    start = time.perf_counter()
    rounds = 0
    try:
        while rounds < min_repeats or time.perf_counter() - start < min_time:
            for name, fn in fns.items():
                total = 0
                for _ in range(reps[name]):
                    gc.collect()  # the previous builds' garbage, freed outside the timing
                    t0 = time.perf_counter_ns()
                    fn()
                    total += time.perf_counter_ns() - t0
                samples[name].append(total * 1e-9 / reps[name])
            rounds += 1
    finally:
        gc.unfreeze()
    return {name: _stats(s) for name, s in samples.items()}


def _load() -> str:
    # Shared 2-core CI/dev machines: the load average explains noisy medians.
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "n/a"


def _coremltools_available() -> str | None:
    try:
        import coremltools  # noqa: F401
    except ImportError as exc:
        return f"coremltools not importable ({exc}); install with `pip install coremltools==9.0`"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--quick", action="store_true", help="2 layers and fewer repeats (smoke test)")
    args = ap.parse_args()
    layers = 2 if args.quick else LAYERS
    min_time = 0.2 if args.quick else 1.0
    weights = make_weights(layers)

    results: dict[str, Any] = {"layers": layers, "d_model": D, "heads": HEADS, "seq": SEQ}
    prog = build_anekit(weights)
    n_ops = len(prog.main.operations)
    results["ops"] = n_ops
    # Back to back, emission and weights first: before coremltools (and torch) are imported, as in an
    # anekit-only process.
    loop = time_call(lambda: build_anekit(weights), min_time=min_time, min_repeats=3, warmup=1)
    emit = time_call(prog.to_mil, min_time=min_time, min_repeats=3, warmup=1)
    wts = time_call(prog.weights, min_time=min_time, min_repeats=3, warmup=1)
    skip = _coremltools_available()
    builders = {"anekit": lambda: build_anekit(weights)}
    if skip is None:
        build_coremltools(weights)  # warm up imports and registries
        builders["coremltools"] = lambda: build_coremltools(weights)
    builds = time_builds(builders, min_time=2 * min_time, min_repeats=7, span=0.05 if args.quick else 0.2)
    build = builds["anekit"]
    results["anekit_build_s"] = build["median_s"]
    results["anekit_build_p10_s"] = build["p10_s"]
    results["anekit_build_loop_s"] = loop["median_s"]
    results["anekit_emit_text_s"] = emit["median_s"]
    results["anekit_weights_s"] = wts["median_s"]
    text = prog.to_mil()
    results["text_bytes"] = len(text)
    results["weight_bytes"] = sum(len(b) for b in prog.weights().values())
    # Round-trip sanity: the emitted text parses back to the same program (not timed).
    back = mil.parse(text)
    assert not [d for d in back.diagnostics if d.severity == "error"], back.diagnostics[:3]

    if skip is None:
        ct_build = builds["coremltools"]
        ct_loop = time_call(lambda: build_coremltools(weights), min_time=min_time, min_repeats=3, warmup=0)
        results["coremltools_build_s"] = ct_build["median_s"]
        results["coremltools_build_p10_s"] = ct_build["p10_s"]
        results["coremltools_build_loop_s"] = ct_loop["median_s"]
        # The machine's speed drifts over seconds (other load on the shared cores): compare the two libraries
        # round by round (samples of one round were taken within about 0.4 s) and take the median ratio. The
        # ratio of the two medians is kept for reference; it mixes samples from different moments.
        pairs = zip(ct_build["samples"], build["samples"], strict=True)
        results["build_speedup_vs_coremltools"] = statistics.median(c / a for c, a in pairs)
        results["build_speedup_vs_coremltools_of_medians"] = ct_build["median_s"] / build["median_s"]
        results["build_speedup_vs_coremltools_loop"] = ct_loop["median_s"] / loop["median_s"]
    else:
        results["coremltools_skipped"] = skip

    minilm_text = (MINILM / "model.mil").read_text()
    parse = time_call(lambda: mil.parse(minilm_text), min_time=min_time, min_repeats=5, warmup=1)
    results["parse_minilm_s"] = parse["median_s"]
    results["parse_minilm_p10_s"] = parse["p10_s"]
    results["parse_minilm_statements"] = len(mil.parse(minilm_text).main.operations)

    ms = 1000.0
    rows = [
        (
            f"anekit build ({layers}-layer encoder, {n_ops} ops)",
            results["anekit_build_s"] * ms,
            f"p10 {results['anekit_build_p10_s'] * ms:.1f} ms; "
            f"back to back {results['anekit_build_loop_s'] * ms:.1f} ms",
        ),
        (
            "anekit emit MIL text (incl. blob layout)",
            results["anekit_emit_text_s"] * ms,
            f"{results['text_bytes'] / 1e6:.2f} MB text",
        ),
        (
            "anekit weights() (weight.bin bytes)",
            results["anekit_weights_s"] * ms,
            f"{results['weight_bytes'] / 1e6:.1f} MB blob",
        ),
    ]
    if "coremltools_build_s" in results:
        rows.append(
            (
                "coremltools mb.program build (same graph)",
                results["coremltools_build_s"] * ms,
                f"p10 {results['coremltools_build_p10_s'] * ms:.1f} ms; anekit "
                f"{results['build_speedup_vs_coremltools']:.1f}x faster, median of paired rounds (target >= 10x; "
                f"ratio of medians {results['build_speedup_vs_coremltools_of_medians']:.1f}x); back to back "
                f"{results['coremltools_build_loop_s'] * ms:.1f} ms, "
                f"{results['build_speedup_vs_coremltools_loop']:.1f}x",
            )
        )
    rows.append(
        (
            "parse minilm_l6_fp16_ios18 model.mil",
            results["parse_minilm_s"] * ms,
            f"p10 {results['parse_minilm_p10_s'] * ms:.1f} ms; {results['parse_minilm_statements']} statements "
            "(target <= 100 ms)",
        )
    )
    print(f"{'measurement':<52} {'median ms':>10}  note   (machine load avg: {_load()})")
    for name, value, note in rows:
        print(f"{name:<52} {value:>10.1f}  {note}")
    if skip is not None:
        print(f"coremltools comparison skipped: {skip}")
    write_json(args.json, {"machine": machine(), "results": results, "time": time.time()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
