"""The op registry as a whole: coverage of the corpus, listing, spec hygiene and the table of sample cases."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from cases import CASES, Case, T, context

from anekit import mil
from anekit.errors import MILError
from anekit.mil.ops import OP_REGISTRY, OPSETS, get_spec, ops
from anekit.mil.ops._base import Op

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "mil"

#: Every op the 12 corpus files use (docs/internals/mil-format.md §13), checked against the files when they are present.
CORPUS_OPS = {
    "add",
    "cast",
    "clip",
    "concat",
    "const",
    "constexpr_affine_dequantize",
    "constexpr_blockwise_shift_scale",
    "constexpr_lut_to_dense",
    "constexpr_sparse_to_dense",
    "conv",
    "dequantize",
    "expand_dims",
    "floor_div",
    "gather",
    "gather_along_axis",
    "gelu",
    "greater_equal",
    "identity",
    "layer_norm",
    "linear",
    "log",
    "lstm",
    "matmul",
    "mul",
    "pad",
    "pow",
    "quantize",
    "range_1d",
    "reduce_argmax",
    "reduce_max",
    "reduce_sum",
    "relu",
    "reshape",
    "select",
    "shape",
    "sigmoid",
    "slice_by_index",
    "softmax",
    "sqrt",
    "squeeze",
    "stack",
    "sub",
    "tanh",
    "topk",
    "transpose",
}


def test_corpus_ops_registered() -> None:
    missing = CORPUS_OPS - set(OP_REGISTRY)
    assert not missing, f"corpus ops without a spec: {sorted(missing)}"


def test_corpus_op_list_matches_files() -> None:
    files = sorted(CORPUS.glob("*/model.mil"))
    if not files:
        pytest.skip(f"corpus not found at {CORPUS}")
    used: set[str] = set()
    for f in files:
        used |= set(re.findall(r"=\s*([a-z_0-9]+)\(", f.read_text()))
    # Literal constructors (`string(...)`, `tensor<...>(...)`, `uint64(...)`) are not ops.
    used -= {
        "string",
        "int32",
        "uint64",
        "uint16",
        "bool",
        "fp16",
        "fp32",
        "int8",
        "uint8",
        "int16",
    }
    assert used == CORPUS_OPS


DATA = Path(__file__).resolve().parents[2] / "data" / "mil"


def test_corpus_programs_infer_cleanly() -> None:
    """The parser runs every spec's infer on the 12 real files: no unknown op, no failure, no type mismatch."""
    bundles = sorted(DATA.glob("*.mlmodelc"))
    if not bundles:
        pytest.skip(f"corpus copies not found under {DATA}")
    for bundle in bundles:
        program = mil.load(bundle)
        assert not program.diagnostics, f"{bundle.name}: {[str(d) for d in program.diagnostics][:3]}"


def test_ops_listing() -> None:
    names = ops()
    assert names == sorted(OP_REGISTRY) == mil.ops()
    assert len(names) >= 140
    assert "scaled_dot_product_attention" not in ops("ios17")
    assert "scaled_dot_product_attention" in ops("ios18")
    assert set(ops(category="pool")) == {"avg_pool", "max_pool", "l2_pool"}
    with pytest.raises(MILError, match="unknown opset"):
        ops("ios99")


#: Required inputs (coremltools: ``alpha``/``beta: const T (Required)``) whose default only the Builder uses.
BUILDER_ONLY_DEFAULTS = {
    ("elu", "alpha"),
    ("leaky_relu", "alpha"),
    ("thresholded_relu", "alpha"),
    ("sigmoid_hard", "alpha"),
    ("sigmoid_hard", "beta"),
    ("scaled_tanh", "alpha"),
    ("scaled_tanh", "beta"),
    ("linear_activation", "beta"),
}
#: The activations whose alpha/beta text must always give (issue #10).
ALPHA_BETA_OPS = {
    "elu": ("alpha",),
    "leaky_relu": ("alpha",),
    "thresholded_relu": ("alpha",),
    "sigmoid_hard": ("alpha", "beta"),
    "scaled_tanh": ("alpha", "beta"),
    "linear_activation": ("alpha", "beta"),
}


@pytest.mark.parametrize("opset", ["ios16", "ios18"])
@pytest.mark.parametrize("op", sorted(ALPHA_BETA_OPS))
def test_activation_alpha_beta_are_required_in_text(op: str, opset: str) -> None:
    # issue #10: coremltools defines these as required (no default_inputs); text omitting one used to
    # validate clean with a default the compiler never sees.
    mb = mil.Builder(opset)
    x = mb.input("x", mil.tensor((1, 4), "fp16"))
    # The Builder still fills in the defaults (linear_activation has none for alpha), written out in the text.
    given = {"alpha": 2.0} if op == "linear_activation" else {}
    built = mb.build(getattr(mb, op)(x=x, **given))
    text = built.to_mil()
    assert mil.validate(mil.parse(text), "any") == []
    for name in ALPHA_BETA_OPS[op]:
        stripped = re.sub(rf"{name} = {op}_0_{name}_0, ", "", text)
        assert stripped != text
        prog = mil.parse(stripped)
        found = [d for d in mil.validate(prog, "any") if d.severity == "error"]
        assert any(f"missing required input '{name}'" in d.message for d in found), found


@pytest.mark.parametrize("name", sorted(OP_REGISTRY))
def test_spec_hygiene(name: str) -> None:
    spec = OP_REGISTRY[name]
    assert issubclass(spec, Op)
    assert spec.op_type == name
    assert spec.category, f"{name} has no category"
    input_names = [i.name for i in spec.inputs]
    assert len(input_names) == len(set(input_names)), f"{name} repeats an input name"
    assert (spec.__doc__ or "").strip(), f"{name} has no docstring"
    for i in spec.inputs:
        if i.default is not None and not i.optional:
            assert (name, i.name) in BUILDER_ONLY_DEFAULTS, f"{name}.{i.name} has a default but is required"
        if i.same_dtype_as is not None:
            assert spec.input_spec(i.same_dtype_as) is not None
        for opset in OPSETS:
            assert set(spec.allowed_dtypes(i.name, opset)) <= set(i.dtypes) or not i.dtypes


def test_every_op_has_a_case() -> None:
    covered = {c.op for c in CASES}
    assert covered == set(OP_REGISTRY), f"ops without a sample case: {sorted(set(OP_REGISTRY) - covered)}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case(case: Case) -> None:
    spec = get_spec(case.op, case.opset)
    got = spec.infer(context(case.op, case.inputs, case.opset, case.attrs))
    assert tuple(got) == case.expected


@pytest.mark.parametrize(
    ("op", "opset"),
    [
        ("scaled_dot_product_attention", "ios17"),
        ("constexpr_blockwise_shift_scale", "ios17"),
        ("read_state", "ios17"),
        ("write_state", "ios16"),
        ("slice_update", "ios17"),
        ("constexpr_affine_dequantize", "ios15"),
        ("constexpr_lut_to_dense", "ios15"),
        ("quantize", "ios16"),
        ("dequantize", "ios16"),
        ("fill_like", "ios15"),
        ("pixel_unshuffle", "ios15"),
    ],
)
def test_opset_availability(op: str, opset: str) -> None:
    with pytest.raises(MILError, match=f"not available in opset {opset}"):
        get_spec(op, opset)
    assert get_spec(op, "ios18") is OP_REGISTRY[op]


def test_constexpr_spelling_by_opset() -> None:
    lut = OP_REGISTRY["constexpr_lut_to_dense"]
    assert lut.attrs_as_inputs
    assert lut.operands_as_attributes("ios16")
    assert not lut.operands_as_attributes("ios18")
    assert OP_REGISTRY["constexpr_affine_dequantize"].operands_as_attributes("ios18")
    assert not OP_REGISTRY["constexpr_blockwise_shift_scale"].operands_as_attributes("ios18")


def test_errors_name_the_op() -> None:
    ctx = context("matmul", {"x": T("fp16", 2, 64), "y": T("fp16", 32, 4)}, name="mm_0")
    with pytest.raises(MILError, match=r"^\[matmul 'mm_0'\] x last dim 64 != y dim -2 32"):
        OP_REGISTRY["matmul"].infer(ctx)


def test_missing_required_input() -> None:
    with pytest.raises(MILError, match="missing required input 'y'"):
        OP_REGISTRY["add"].infer(context("add", {"x": T("fp16", 2)}))


def test_input_newer_than_opset() -> None:
    ctx = context(
        "gather",
        {"x": T("fp16", 4, 2), "indices": T("int32", 3), "validate_indices": np.asarray(False)},
        opset="ios16",
    )
    with pytest.raises(MILError, match="'validate_indices' exists from ios17"):
        OP_REGISTRY["gather"].infer(ctx)


def test_package_is_callable_and_still_a_module() -> None:
    import anekit.mil.ops as ops_pkg

    assert ops_pkg() == ops() == ops_pkg.ops()
    assert ops_pkg(opset="ios15", category="attention") == []
    assert ops_pkg.get_spec("add") is OP_REGISTRY["add"]
