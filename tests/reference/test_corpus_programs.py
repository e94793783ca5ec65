"""Every real corpus program (docs/internals/mil-format.md §13) runs through the reference executor.

coremlc annotated every statement with its output type, and the executor checks each kernel result against
the declared type, so a run is a statement-by-statement agreement check between anekit's kernels and Apple's
compiler on real programs (BERT, RNN-T decoder/joint, mel front-end, VAD). Bundles without their weight file
(their weights live in Git LFS upstream) get seeded random weights of the declared types instead.

Finding recorded by this test: MiniLM builds its additive attention mask as ``(1 − mask)·fp16(−inf)``, which is
``0·(−inf) = NaN`` for every attended position under IEEE arithmetic, so with IEEE semantics the whole
encoder output is NaN. How the device evaluates that product is unknown (docs/internals/mil-format.md §14 lists fp16
numerics as open); the reference keeps IEEE.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anekit import mil
from anekit.mil.values import Value
from anekit.reference import Executor

DATA = Path(__file__).resolve().parents[1] / "data" / "mil"
BUNDLES = sorted(p for p in DATA.glob("*.mlmodelc") if (p / "model.mil").is_file())
SLOW = {"minilm_l6_fp16_ios18", "minilm_l6_w8a8_blockwise_ios18"}
# Run-time shapes for flexible inputs (within each file's FlexibleShapeInformation ranges).
SHAPES = {
    "audio_signal": (1, 4000),
    "input_ids": (1, 32),
    "attention_mask": (1, 32),
}


def _random_data(t: mil.TensorType, rng: np.random.Generator) -> np.ndarray:
    if t.dtype.is_float:
        return (rng.standard_normal(t.shape) * 0.05).astype(t.dtype.np_dtype)
    info = np.iinfo(t.dtype.np_dtype)
    return rng.integers(max(info.min, -8), min(info.max, 8) + 1, t.shape).astype(t.dtype.np_dtype)


def _synthesize_weights(prog: mil.Program) -> None:
    """Replace every BLOBFILE value by seeded random data of its declared type (in place)."""
    rng = np.random.default_rng(0)
    for fn in prog.functions.values():
        for op in fn.operations:
            for k, v in list(op.attrs.items()):
                if isinstance(v, Value) and v.blob is not None:
                    op.attrs[k] = Value(v.type, _random_data(v.type, rng))
            for k, b in list(op.inputs.items()):
                if isinstance(b, Value) and b.blob is not None:
                    op.inputs[k] = Value(b.type, _random_data(b.type, rng))


def _inputs(fn: mil.Function) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    out = {}
    for name, var in fn.inputs.items():
        t = var.type
        shape = SHAPES.get(name, tuple(d if d is not None else 5 for d in t.shape))
        if t.dtype.is_float:
            out[name] = (rng.standard_normal(shape) * 0.1).astype(np.float32)
        elif name == "audio_length":
            out[name] = np.array([SHAPES["audio_signal"][1]], np.int32)
        else:
            out[name] = np.ones(shape, t.dtype.np_dtype)  # valid token ids / lengths / masks
    return out


@pytest.mark.parametrize(
    "bundle",
    [pytest.param(b, id=b.stem, marks=[pytest.mark.slow] if b.stem in SLOW else []) for b in BUNDLES],
)
def test_corpus_program_runs_with_the_declared_types(bundle):
    has_weights = (bundle / "weights" / "weight.bin").is_file()
    prog = mil.load(bundle) if has_weights else mil.parse((bundle / "model.mil").read_text())
    if not has_weights:
        _synthesize_weights(prog)
    res = Executor(prog)(_inputs(prog.main), trace=True)
    fn_vars = prog.main.vars()
    for name, value in res.trace.items():
        t = fn_vars[name].type
        if has_weights and isinstance(value, np.ndarray) and value.dtype.kind == "f":
            # (random weights can legitimately give NaN, e.g. log of a negative; real ones must not)
            assert not np.isnan(value).any(), f"{bundle.stem}: NaN in {name}"
        if isinstance(t, mil.TensorType) and isinstance(value, np.ndarray):
            expect = np.float16 if t.dtype.name == "fp16" else t.dtype.np_dtype
            assert value.dtype == expect or t.dtype.is_subbyte, f"{bundle.stem}: {name} {value.dtype} vs {t}"
    assert list(res.outputs)[: len(prog.main.outputs)] == [v.name for v in prog.main.outputs]


@pytest.mark.slow
def test_minilm_mask_is_nan_under_ieee_semantics():
    bundle = DATA / "minilm_l6_fp16_ios18.mlmodelc"
    if not (bundle / "model.mil").is_file():
        pytest.skip(f"{bundle} is not in the repository")
    prog = mil.parse((bundle / "model.mil").read_text())
    _synthesize_weights(prog)
    res = Executor(prog)(_inputs(prog.main), trace=True)
    mask = res.trace["attention_mask_cast_fp16"]
    assert np.isnan(mask).all()  # attention_mask = 1 everywhere: (1 - 1)·(-inf)
