"""Tests of anekit.mil.analysis (summary and flops): op counts, parameters, weight bytes, FLOP conventions
(1 MAC = 2 FLOPs), rendering, and that summarising never reads weight data."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from _corpus import ANE_EXAMPLES, CORPUS

from anekit import mil
from anekit.errors import MILError
from anekit.mil import Program
from anekit.mil.analysis.summary import program_repr, summarize

BLOB = 'BLOBFILE(path = string("@model_path/weights/weight.bin"), offset = uint64({}))'


def _builder(opset: str = "ios17") -> mil.Builder:
    return mil.Builder(opset=opset)


def _flops(prog: Program) -> dict[str, int | None]:
    return {c.name: c.flops for c in summarize(prog).functions[0].ops}


# ---------------------------------------------------------------------- FLOP conventions
def test_conv_flops_and_weights() -> None:
    mb = _builder("ios16")
    x = mb.input("x", mil.tensor((1, 64, 1, 384), "fp16"))
    prog = mb.build(mb.conv(x=x, weight=np.zeros((128, 64, 1, 1), np.float16), name="c"))
    f = summarize(prog).functions[0]
    assert _flops(prog)["c"] == 2 * 128 * 64 * 384  # MAC = 2 FLOPs (docs/internals/reference-numbers.md §2.1)
    assert f.params == 128 * 64
    assert f.weight_bytes == {"fp16": 128 * 64 * 2}
    assert f.dense_weight_bytes == 128 * 64 * 2
    assert f.blob_count == 1
    assert f.ops_by_type["conv"] == 1
    assert f.n_ops == 1 + f.n_consts


def test_grouped_conv_bias_and_kernel() -> None:
    mb = _builder("ios16")
    x = mb.input("x", mil.tensor((1, 8, 10, 10), "fp16"))
    y = mb.conv(x=x, weight=np.zeros((16, 2, 3, 3), np.float16), bias=np.zeros(16, np.float16), groups=4, name="c")
    out = 16 * 8 * 8  # valid 3×3 on 10×10
    assert _flops(mb.build(y))["c"] == 2 * out * 2 * 9 + out


def test_matmul_linear_einsum_sdpa() -> None:
    mb = _builder("ios18")
    x = mb.input("x", mil.tensor((1, 1, 64, 48), "fp16"))
    mm = mb.matmul(x=x, y=np.zeros((48, 32), np.float16), name="mm")
    mmt = mb.matmul(x=x, y=x, transpose_x=True, name="mmt")  # [48, 64] @ [64, 48]: K = 64
    v = mb.input("v", mil.tensor((4, 384), "fp16"))
    lin = mb.linear(x=v, weight=np.zeros((64, 384), np.float16), bias=np.zeros(64, np.float16), name="lin")
    a = mb.input("a", mil.tensor((2, 3, 4), "fp16"))
    es = mb.einsum(values=(a, a), equation="abc,adc->abd", name="es")
    q = mb.input("q", mil.tensor((1, 4, 16, 8), "fp16"))
    k = mb.input("k", mil.tensor((1, 4, 32, 8), "fp16"))
    att = mb.scaled_dot_product_attention(query=q, key=k, value=k, name="att")
    fl = _flops(mb.build([mm, mmt, lin, es, att]))
    assert fl["mm"] == 2 * 64 * 32 * 48
    assert fl["mmt"] == 2 * 48 * 48 * 64
    assert fl["lin"] == 2 * 4 * 64 * 384 + 4 * 64
    assert fl["es"] == 2 * (2 * 3 * 4 * 3)
    bls = 4 * 16 * 32
    assert fl["att"] == 2 * bls * 8 + 2 * bls * 8 + 5 * bls


def test_elementwise_reductions_norms_pools_recurrent() -> None:
    mb = _builder("ios17")
    x = mb.input("x", mil.tensor((1, 4, 8, 8), "fp16"))
    n = 4 * 8 * 8
    outs = [
        mb.relu(x=x, name="relu"),
        mb.add(x=x, y=x, name="add"),
        mb.softmax(x=x, axis=1, name="sm"),
        mb.reduce_sum(x=x, axes=[1], name="rs"),
        mb.layer_norm(x=x, axes=[1], gamma=np.ones(4, np.float16), name="ln"),
        mb.avg_pool(x=x, kernel_sizes=[2, 2], strides=[2, 2], pad_type="valid", name="pool"),
        mb.reshape(x=x, shape=[1, 4, 64], name="rshp"),
        mb.cast(x=x, dtype="fp32", name="cast"),
    ]
    s = mb.input("s", mil.tensor((5, 2, 8), "fp16"))
    h = mb.input("h", mil.tensor((2, 16), "fp16"))
    lstm = mb.lstm(
        x=s,
        initial_h=h,
        initial_c=h,
        weight_ih=np.zeros((64, 8), np.float16),
        weight_hh=np.zeros((64, 16), np.float16),
        name="lstm",
    )
    fl = _flops(mb.build([*outs, lstm[0]]))
    assert fl["relu"] == n
    assert fl["add"] == n
    assert fl["sm"] == 5 * n
    assert fl["rs"] == n  # reductions: one per input element
    assert fl["ln"] == 6 * n  # 5 + gamma
    assert fl["pool"] == (4 * 4 * 4) * 4
    assert fl["rshp"] == 0
    assert fl["cast"] == 0
    assert fl["lstm"] == 5 * 2 * (2 * 4 * 16 * (8 + 16) + 10 * 16)


def test_unknown_dims_and_unmodelled_ops_are_not_guessed() -> None:
    prog = mil.parse(
        "program(1.0)\n{\n    func main<ios16>(tensor<fp16, [1, ?]> x, tensor<fp16, [1, 8]> t) {\n"
        '            tensor<fp16, [1, ?]> y = relu(x = x)[name = tensor<string, []>("r")];\n'
        '            tensor<int32, []> k = const()[name = tensor<string, []>("k"), val = tensor<int32, []>(2)];\n'
        "            tensor<fp16, [1, 2]> v, tensor<int32, [1, 2]> i = topk(k = k, x = t)"
        '[name = tensor<string, []>("tk")];\n'
        "        } -> (y, v);\n}\n"
    )
    f = summarize(prog).functions[0]
    assert {c.name for c in f.unestimated} == {"r", "tk"}
    assert f.flops == 0
    assert "2 ops not estimated" in summarize(prog).to_text()


# ---------------------------------------------------------------------- weights and parameters
def _weights_program(body: str, params: str = "tensor<fp16, [64]> x", out: str = "y") -> Program:
    return mil.parse(f"program(1.3)\n{{\n    func main<ios18>({params}) {{\n{body}\n    }} -> ({out});\n}}\n")


def test_blobs_are_never_read_and_shared_offsets_count_once() -> None:
    body = "\n".join(
        [
            f'tensor<fp16, [64]> a = const()[name = string("a"), val = tensor<fp16, [64]>({BLOB.format(64)})];',
            f'tensor<fp16, [64]> b = const()[name = string("b"), val = tensor<fp16, [64]>({BLOB.format(64)})];',
            f'tensor<uint4, [64]> q = const()[name = string("q"), val = tensor<uint4, [64]>({BLOB.format(256)})];',
            'tensor<fp16, [64]> s = add(x = a, y = b)[name = string("s")];',
            'tensor<fp16, [64]> y = add(x = s, y = x)[name = string("y2")];',
        ]
    )
    prog = _weights_program(body)  # no weights given: reading a blob would raise MILError
    f = summarize(prog).functions[0]
    assert f.weight_bytes == {"fp16": 128, "uint4": 32}  # sub-byte packed (§9.5); one copy of offset 64
    assert f.blob_count == 2
    assert f.params == 128  # a and b are used; q is unused


def test_constexpr_storage_vs_dense_parameters() -> None:
    ex = next((p for p in ANE_EXAMPLES if p.name == "example_8_4.mil"), None)
    if ex is None:
        pytest.skip("ANE example 8.4 absent")
    f = summarize(mil.load(ex)).functions[0]
    assert f.params == 2 * 64 * 64  # two decompressed [64, 64, 1, 1] weights
    assert f.dense_weight_bytes == 2 * 64 * 64 * 2  # fp16 after decompression (§10.7)
    assert f.weight_bytes["int8"] == 2 * 64 * 64 + 2  # data + the two int8 zero points
    assert f.weight_bytes["fp16"] == 4  # the two fp16 scales
    assert f.flops == 2 * (2 * 64 * 64 * 32 * 32) + 2 * 2 * 64 * 32 * 32


def test_compressed_corpus_models_have_the_dense_models_parameters() -> None:
    by_name = {p.name: p for p in CORPUS}
    names = [
        "silero_vad_fp16_ios15.mlmodelc",
        "silero_vad_int8_affine_ios16.mlmodelc",
        "silero_vad_palette2bit_ios16.mlmodelc",
        "silero_vad_pruned_int8_ios16.mlmodelc",
    ]
    if not all(n in by_name for n in names):
        pytest.skip("silero corpus copies absent")
    sums = [summarize(mil.load(by_name[n])) for n in names]
    assert len({s.params for s in sums}) == 1
    assert len({s.flops for s in sums}) == 1
    stored = [s.total_weight_bytes for s in sums]
    assert stored[0] > stored[1] > stored[2]  # fp16/fp32 > int8 > 2-bit palette


# ---------------------------------------------------------------------- rendering
def _small() -> Program:
    mb = _builder("ios16")
    x = mb.input("x", mil.tensor((1, 64, 1, 384), "fp16"))
    return mb.build(mb.relu(x=mb.conv(x=x, weight=np.zeros((64, 64, 1, 1), np.float16))))


def test_text_dict_html() -> None:
    s = summarize(_small())
    t = s.to_text()
    assert "func main<ios16>" in t
    assert "conv" in t
    assert "1 MAC = 2 FLOPs" in t
    assert "4.1K params" in t
    assert "fp16 8.0 KiB" in t
    d = json.loads(json.dumps(s.to_dict()))
    assert d["flops"] == 2 * 64 * 64 * 384 + 64 * 384
    assert d["functions"][0]["ops_by_type"]["conv"] == 1
    h = s._repr_html_()
    assert "<table>" in h
    assert "&lt;ios16&gt;" in h
    assert str(s) == t


def test_program_repr() -> None:
    r = program_repr(_small())
    assert re.fullmatch(r"Program\(1 function main<ios16>, 8 ops, 4\.1K params, 8\.0 KiB weights\)", r), r


def test_summarize_rejects_non_programs() -> None:
    with pytest.raises(MILError, match="Program"):
        summarize("main")  # type: ignore[arg-type]


@pytest.mark.parametrize("path", CORPUS + ANE_EXAMPLES, ids=[p.name for p in CORPUS + ANE_EXAMPLES])
def test_corpus_summaries(path) -> None:
    s = summarize(mil.load(path))
    assert s.n_ops == sum(len(f.operations) for f in mil.load(path).functions.values())
    assert s.flops >= 0
    assert s.params >= 0
    json.dumps(s.to_dict())
    assert s.to_text()


def test_program_methods() -> None:
    p = _small()
    assert p.summary().to_dict() == summarize(p).to_dict()
    assert repr(p) == program_repr(p)
    assert p._repr_html_() == summarize(p)._repr_html_()


def test_repr_of_a_malformed_program_does_not_raise() -> None:
    p = _small()
    p.main.operations[0].attrs.clear()  # a const without val: summaries still work from declared types
    assert repr(p).startswith("Program(1 function main<ios16>")


def test_empty_program_summary() -> None:
    assert program_repr(Program([])) == "Program(0 functions, 0 ops, 0 params, 0 B weights)"
    assert summarize(Program([])).to_text().startswith("program(built): 0 functions")


def test_summary_repr_is_the_readable_report() -> None:
    s = summarize(_small())
    assert repr(s) == s.to_text() == str(s)
    assert "\n" in repr(s) and "FunctionSummary(" not in repr(s)
