"""The suites' programs: FLOPs and bytes against hand counts, and the weight formats' numerics."""

from __future__ import annotations

import numpy as np
import pytest

import anekit
from anekit.bench.programs import BLOCK_SIZE, WEIGHT_FORMATS, conv_chain, cost, linear_head, scale_program


@pytest.mark.parametrize(("c", "s", "depth"), [(64, 32, 1), (128, 64, 3), (96, 16, 8)])
def test_conv_chain_cost_is_the_hand_count(c: int, s: int, depth: int) -> None:
    k = cost(conv_chain(c, s, depth))
    assert k.flops == 2 * c * c * s * depth  # inmem_peak's formula (reference-numbers.md §2.1)
    assert k.weight_bytes == 2 * c * c * depth
    assert k.io_bytes == 2 * (2 * c * s)
    assert k.intensity == pytest.approx(k.flops / (k.weight_bytes + k.io_bytes))


def test_inmem_peak_best_case_matches_upstream_figure() -> None:
    # "128x conv 512ch sp64": 4.29 GFLOP and 64 MB of weights (reference-numbers.md §2.1); counted without
    # building 64 MB of weights: FLOPs and bytes scale linearly with depth.
    k = cost(conv_chain(512, 64, 2))
    assert k.flops * 64 / 1e9 == pytest.approx(4.29, abs=0.01)
    assert k.weight_bytes * 64 == 64 * 2**20


def test_scale_program_cost() -> None:
    k = cost(scale_program(64, 32))
    assert k.flops == 64 * 32  # one multiply per element
    assert k.weight_bytes == 0


@pytest.mark.parametrize(
    ("fmt", "stored"),
    [
        ("fp16", lambda o, i: 2 * o * i),
        ("int8-affine", lambda o, i: o * i + 2 * o + o),  # int8 data, fp16 scale and int8 zero point per row
        ("palette-4bit", lambda o, i: o * i // 2 + 2 * 16),  # 4-bit indices and a 16-entry fp16 table
        ("int4-blockwise", lambda o, i: o * i // 2 + 2 * o * (i // BLOCK_SIZE)),  # int4 data, fp16 block scales
    ],
)
def test_linear_head_cost_per_format(fmt: str, stored) -> None:  # type: ignore[no-untyped-def]
    d_in, d_out, cols = 128, 256, 32
    k = cost(linear_head(d_in, d_out, weights=fmt, columns=cols))
    assert k.flops == 2 * d_in * d_out * cols
    assert k.weight_bytes == stored(d_out, d_in)
    assert k.io_bytes == 2 * (d_in + d_out) * cols


@pytest.mark.parametrize("fmt", [f for f in WEIGHT_FORMATS if f != "fp16"])
def test_quantized_weights_approximate_the_fp16_kernel(fmt: str) -> None:
    x = np.random.default_rng(1).standard_normal((1, 256, 1, 32)).astype(np.float32)
    want = anekit.reference.run(linear_head(256, 128, weights="fp16", columns=32), {"x": x})["y"]
    got = anekit.reference.run(linear_head(256, 128, weights=fmt, columns=32), {"x": x})["y"]
    rel = np.linalg.norm(got - want) / np.linalg.norm(want)
    assert rel < {"int8-affine": 0.02, "palette-4bit": 0.2, "int4-blockwise": 0.2}[fmt]
    assert rel > 0  # the format really changed the weights


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: conv_chain(0, 32, 1), "c must be a positive int"),
        (lambda: conv_chain(64, 32, True), "depth must be a positive int"),
        (lambda: linear_head(64, 64, weights="int3"), "unknown weight format 'int3'"),
        (lambda: linear_head(48, 64, weights="int4-blockwise"), "divisible by 32"),
        (lambda: scale_program(64, -1), "s must be a positive int"),
    ],
)
def test_bad_dimensions(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("fmt", ["fp16", "int8-affine", "palette-4bit"])
def test_ios16_forms_compute_what_the_ios18_forms_compute(fmt: str) -> None:
    # M1/M2 get ios16 programs (dialect B); palettized weights then use the packed iOS16 operand form.
    x = np.random.default_rng(2).standard_normal((1, 64, 1, 32)).astype(np.float32)
    new = anekit.reference.run(linear_head(64, 96, weights=fmt, columns=32), {"x": x})["y"]
    old_program = linear_head(64, 96, weights=fmt, columns=32, opset="ios16")
    assert old_program.main.opset == "ios16"
    np.testing.assert_array_equal(anekit.reference.run(old_program, {"x": x})["y"], new)


def test_blockwise_needs_ios18() -> None:
    with pytest.raises(ValueError, match="need opset ios18"):
        linear_head(64, 64, weights="int4-blockwise", opset="ios16")
