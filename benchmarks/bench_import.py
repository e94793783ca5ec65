"""Bring-your-own-model speed: importing a MiniLM-sized Core ML package, and what from_torch adds to conversion.

Measures, in one run:

* a MiniLM-sized encoder (6 layers, d=384, 12 heads, FFN 1536, vocabulary 30522, sequence 128; the shape of
  all-MiniLM-L6-v2) converted once by coremltools and saved as an ``.mlpackage``;
* ``anekit.mil.load(package)`` (protobuf -> typed anekit Program, weights left in ``weight.bin``) against
  coremltools' own ``ct.models.MLModel(package, skip_model_load=True).get_spec()`` on the same package (reads
  the manifest and the spec, parses it, returns a copy; no weights either). Target: anekit <= 2x coremltools;
* like for like, two more pairs: the same spec bytes already in memory, anekit's import against protobuf's
  ``Model.FromString`` alone (parse of the same bytes, no files touched); and with every weight read, anekit's
  load plus ``Value.data`` of every blob against ``get_spec()`` plus reading ``weight.bin``;
* anekit's import through coremltools' protobuf classes (its route when the extension has no decoder).

In the with-weights pair, every anekit call leaves its Program as cyclic garbage (variables and ops refer to each
other) that holds its weight file's bytes until the cyclic collector runs, so the next call reads into fresh
memory and pays its page faults; coremltools' bytes are freed at once and their memory reused. That is part of
what a loop of loads costs, and most of the difference in that row.

All of them alternate round by round (``time_interleaved``) and each ratio is the median of the per-round
ratios, so load from other processes on this shared machine hits both sides alike;
* conversion overhead: ``anekit.from_torch`` end to end against ``coremltools.convert`` of the same exported
  module alone (a few runs each; the difference is anekit's import of the result).

Usage: python benchmarks/bench_import.py [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from _timing import machine, time_interleaved, write_json

LAYERS, D, HEADS, FFN, VOCAB, SEQ = 6, 384, 12, 1536, 30522, 128


def make_module(layers: int, vocab: int) -> Any:
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(vocab, D)
            layer = torch.nn.TransformerEncoderLayer(D, HEADS, FFN, dropout=0.0, batch_first=True)
            self.enc = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.enc(self.emb(ids))

    torch.manual_seed(0)
    return Encoder().eval()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", help="write the results to this JSON file")
    ap.add_argument("--quick", action="store_true", help="1 layer, small vocabulary, fewer rounds (smoke test)")
    args = ap.parse_args()
    try:
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import coremltools as ct
            import torch
    except ImportError as exc:
        print(f"bench_import skipped: needs torch and coremltools ({exc})")
        return 0
    import anekit
    from anekit import mil

    layers, vocab = (1, 1000) if args.quick else (LAYERS, VOCAB)
    module = make_module(layers, vocab)
    ids = torch.randint(0, vocab, (1, SEQ), dtype=torch.int32)
    results: dict[str, Any] = {"layers": layers, "d_model": D, "vocab": vocab, "seq": SEQ}

    def ct_convert() -> Any:
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exported = torch.export.export(module, (ids,)).run_decompositions({})
            return ct.convert(
                exported,
                inputs=[ct.TensorType(dtype=np.int32)],
                convert_to="mlprogram",
                minimum_deployment_target=ct.target.iOS17,
            )

    runs = 1 if args.quick else 3
    model = ct_convert()  # warm-up: the first conversion also pays coremltools' and torch.export's lazy setup
    conv, full = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        model = ct_convert()
        conv.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):
            anekit.from_torch(module, ids)
        full.append(time.perf_counter() - t0)
    results["coremltools_convert_s"] = statistics.median(conv)
    results["from_torch_s"] = statistics.median(full)

    with tempfile.TemporaryDirectory() as tmp:
        pkg = Path(tmp) / "minilm.mlpackage"
        model.save(str(pkg))
        prog = mil.load(pkg)
        results["ops"] = len(prog.main.operations)
        data_dir = pkg / "Data" / "com.apple.CoreML"
        weight_file = data_dir / "weights" / "weight.bin"
        results["weight_bytes"] = weight_file.stat().st_size
        spec_bytes = (data_dir / "model.mlmodel").read_bytes()
        results["spec_bytes"] = len(spec_bytes)
        from coremltools.proto import Model_pb2

        from anekit.mil.importers import coreml

        def get_spec() -> Any:
            return ct.models.MLModel(str(pkg), skip_model_load=True).get_spec()

        def load_with_weights() -> None:
            for op in mil.load(pkg).main.operations:
                for v in op.attrs.values():
                    if v.blob is not None:
                        v.data  # noqa: B018 (reads the blob)

        def get_spec_with_weights() -> None:
            get_spec()
            weight_file.read_bytes()

        pairs = {
            "load": ("anekit", "coremltools"),
            "parse": ("anekit_bytes", "protobuf_bytes"),
            "weights": ("anekit_weights", "coremltools_weights"),
        }
        with contextlib.redirect_stderr(io.StringIO()):
            timed = time_interleaved(
                {
                    "anekit": lambda: mil.load(pkg),
                    "coremltools": get_spec,
                    "anekit_bytes": lambda: coreml.import_bytes(spec_bytes, data_dir),
                    "protobuf_bytes": lambda: Model_pb2.Model.FromString(spec_bytes),
                    "anekit_weights": load_with_weights,
                    "coremltools_weights": get_spec_with_weights,
                    "anekit_protobuf_route": lambda: coreml.import_bytes(spec_bytes, data_dir, native=False),
                },
                rounds=5 if args.quick else 30,
                span=0.05 if args.quick else 0.2,
            )
    for name, stats in timed.items():
        results[f"{name}_s"] = stats["median_s"]
    for pair, (a, c) in pairs.items():
        ratios = [x / y for x, y in zip(timed[a]["round_median_s"], timed[c]["round_median_s"], strict=True)]
        results[f"{pair}_ratio"] = statistics.median(ratios)
    results["target_met"] = results["load_ratio"] <= 2.0

    ms = 1000.0
    rows = [
        (
            f"anekit mil.load(.mlpackage), weights lazy ({layers}-layer encoder, {results['ops']} ops)",
            results["anekit_s"] * ms,
            f"{results['load_ratio']:.2f}x coremltools (target <= 2x: {'met' if results['target_met'] else 'NOT MET'})",
        ),
        ("coremltools MLModel(...).get_spec() (same package, no weights)", results["coremltools_s"] * ms, ""),
        (
            f"anekit import of the spec bytes in memory ({results['spec_bytes']} B)",
            results["anekit_bytes_s"] * ms,
            f"{results['parse_ratio']:.2f}x protobuf's parse of the same bytes",
        ),
        ("protobuf Model.FromString (same bytes)", results["protobuf_bytes_s"] * ms, ""),
        (
            f"anekit mil.load + every weight read ({results['weight_bytes'] / 1e6:.1f} MB)",
            results["anekit_weights_s"] * ms,
            f"{results['weights_ratio']:.2f}x coremltools with its weights read",
        ),
        ("coremltools get_spec() + weight.bin read", results["coremltools_weights_s"] * ms, ""),
        (
            "anekit import via coremltools' protobuf classes (no native decoder)",
            results["anekit_protobuf_route_s"] * ms,
            "the fallback route",
        ),
        ("coremltools.convert (torch.export, same module)", results["coremltools_convert_s"] * ms, f"{runs} run(s)"),
        (
            "anekit.from_torch end to end",
            results["from_torch_s"] * ms,
            f"+{(results['from_torch_s'] - results['coremltools_convert_s']) * ms:.0f} ms over coremltools.convert",
        ),
    ]
    print(f"{'measurement (median)':<72} {'ms':>9}  note")
    for name, value, note in rows:
        print(f"{name:<72} {value:>9.2f}  {note}")
    write_json(args.json, {"machine": machine(), "results": results, "time": time.time()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
