"""anekit.mil.passes.pin_shapes and mil.load(shapes=...): the corpus's flexible bundles become static programs
that validate for the ANE and run; bad choices are named; weight-less bundles name their missing file."""

from __future__ import annotations

import numpy as np
import pytest
from _corpus import DATA

from anekit import mil
from anekit.errors import MILError
from anekit.mil.passes import flexible_shapes, pin_shapes
from anekit.reference import Executor

TRANSPOSE = DATA / "fluidaudio_transpose_flexible_ios16.mlmodelc"
PREPROCESSOR = DATA / "parakeet_eou_preprocessor_ios17.mlmodelc"
MINILM = DATA / "minilm_l6_fp16_ios18.mlmodelc"
MINILM_W8A8 = DATA / "minilm_l6_w8a8_blockwise_ios18.mlmodelc"
WEIGHTLESS = [
    DATA / "parakeet_eou_decoder_lstm_ios17.mlmodelc",
    DATA / "parakeet_eou_joint_topk_ios17.mlmodelc",
    PREPROCESSOR,
]


def _ids(prog: mil.Program) -> set[str]:
    return {d.rule for d in mil.validate(prog, "ane")}


def test_range_dims_pinned_program_is_static_and_runs() -> None:
    prog = mil.load(TRANSPOSE, shapes={"x": (1, 3, 5)})
    f = prog.main
    assert "FlexibleShapeInformation" not in f.attributes
    assert f.inputs["x"].type.shape == (1, 3, 5)
    assert f.outputs[0].type.shape == (1, 5, 3)  # re-inferred through the transpose
    assert "ane-dynamic-shape" not in _ids(prog)
    x = np.arange(15, dtype=np.float16).reshape(1, 3, 5)
    (out,) = Executor(prog)({"x": x}).values()
    np.testing.assert_array_equal(out, x.transpose(0, 2, 1))


def test_flexible_program_before_pinning_is_reported_dynamic() -> None:
    assert "ane-dynamic-shape" in _ids(mil.load(TRANSPOSE))


def test_default_shapes() -> None:
    prog = mil.load(TRANSPOSE, shapes="default")
    assert prog.main.inputs["x"].type.shape == (1, 1, 1)


@pytest.mark.parametrize("bundle", [MINILM, MINILM_W8A8], ids=lambda p: p.name)
def test_enumerated_shapes_by_index_key_and_value(bundle: object) -> None:
    table = flexible_shapes(mil.load(bundle).main)["EnumeratedShapes"]
    key = next(k for k, s in table.items() if s["input_ids"] == (1, 128))
    by_key = mil.load(bundle, shapes=key)
    by_index = mil.load(bundle, shapes=list(table).index(key))
    by_value = mil.load(bundle, shapes={"input_ids": (1, 128), "attention_mask": (1, 128)})
    for prog in (by_key, by_index, by_value):
        f = prog.main
        assert f.inputs["input_ids"].type.shape == (1, 128)
        assert all(v.type.is_static for op in f.operations for v in op.outputs if hasattr(v.type, "is_static"))
        assert "ane-dynamic-shape" not in _ids(prog)
    assert by_key.to_mil() == by_index.to_mil() == by_value.to_mil()


def test_preprocessor_pinned_within_its_range() -> None:
    prog = mil.load(PREPROCESSOR, shapes={"audio_signal": (1, 4000)})
    assert prog.main.inputs["audio_signal"].type.shape == (1, 4000)
    assert "ane-dynamic-shape" not in _ids(prog)


def test_bad_shape_choices_are_named() -> None:
    with pytest.raises(MILError, match=r"dim 2 = 4096 is outside the bundle's range \[1, 2048\]"):
        mil.load(TRANSPOSE, shapes={"x": (1, 2, 4096)})
    with pytest.raises(MILError, match=r"has dim 0 fixed to 1; cannot pin it to 2"):
        mil.load(TRANSPOSE, shapes={"x": (2, 2, 2)})
    with pytest.raises(MILError, match=r"has rank 3 .* has 2"):
        mil.load(TRANSPOSE, shapes={"x": (1, 2)})
    with pytest.raises(MILError, match=r"has no input 'y'"):
        mil.load(TRANSPOSE, shapes={"y": (1, 2, 2)})
    with pytest.raises(MILError, match=r"must be positive ints"):
        mil.load(TRANSPOSE, shapes={"x": (1, 0, 2)})
    with pytest.raises(MILError, match=r"not one of the bundle's enumerated shape sets"):
        mil.load(MINILM, shapes={"input_ids": (1, 100), "attention_mask": (1, 100)})
    with pytest.raises(MILError, match=r"enumerated shape index 99 is out of range"):
        mil.load(MINILM, shapes=99)
    with pytest.raises(MILError, match=r"no enumerated shape set 'nope'"):
        mil.load(MINILM, shapes="nope")
    with pytest.raises(MILError, match=r"still have unknown dims"):
        mil.load(MINILM, shapes={"input_ids": (1, 128)})
    with pytest.raises(MILError, match=r"shapes must be a dict"):
        pin_shapes(mil.load(TRANSPOSE), 1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("bundle", WEIGHTLESS, ids=lambda p: p.name)
def test_weightless_bundles_name_the_missing_file(bundle: object) -> None:
    with pytest.raises(MILError, match=rf"weight file .*{bundle.name}/weights/weight\.bin .* is missing"):
        mil.load(bundle, require_weights=True)
    prog = mil.load(bundle)  # lazily: analysis works without the weights
    assert mil.summarize(prog).n_ops > 0
    blob = next(v for op in prog.main.operations for v in op.attrs.values() if v.blob is not None)
    with pytest.raises(MILError, match=r"weights/weight\.bin .* is missing"):
        _ = blob.data
