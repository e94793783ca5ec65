"""Text emitter: float formatting, types, dialects, determinism, weights and save()."""

from __future__ import annotations

import ctypes
import ctypes.util
import struct
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anekit.errors import MILError
from anekit.mil import BlobWriter, Builder, Program, parse, tensor
from anekit.mil.text.emitter import format_float, format_type
from anekit.mil.types import DictType, ListType, StateType, TensorType, TupleType


@pytest.mark.parametrize(
    ("value", "text"),
    [  # docs/internals/mil-format.md §6
        (1.0, "0x1p+0"),
        (2.0, "0x1p+1"),
        (float(np.float32(0.97)), "0x1.f0a3d8p-1"),
        (-0.640625, "-0x1.48p-1"),
        (0.0, "0x0p+0"),
        (-0.0, "-0x0p+0"),
        (10000.0, "0x1.388p+13"),
        (2.0**-24, "0x1p-24"),
        (2.0**-149, "0x1p-149"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        (float("nan"), "nan"),
        (float(np.float16(1e-5)), "0x1.5p-17"),
    ],
)
def test_format_float_examples(value: float, text: str) -> None:
    assert format_float(value) == text
    if text != "nan":
        assert float.fromhex(text) == value if "x" in text else float(text) == value


_LIBC_NAME = ctypes.util.find_library("c")
_LIBC = ctypes.CDLL(_LIBC_NAME) if _LIBC_NAME else None


def _c_hex(x: float) -> str:
    buf = ctypes.create_string_buffer(64)
    _LIBC.snprintf(buf, 64, b"%a", ctypes.c_double(x))
    mant, _, exp = buf.value.decode().partition("p")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    return f"{mant}p{exp}"


@pytest.mark.skipif(_LIBC is None, reason="no C library to compare %a with")
def test_format_float_matches_c_printf_for_fp16_and_fp32() -> None:
    rng = np.random.default_rng(1)
    halfs = np.arange(0, 0x7C00, 37, dtype=np.uint16).view(np.float16)
    singles = rng.integers(0, 0x7F800000, 2000, dtype=np.uint32).view(np.float32)
    for v in [*halfs.tolist(), *(-singles).tolist(), *singles.tolist()]:
        assert format_float(v) == _c_hex(v)


def test_format_types_per_dialect() -> None:
    scalar = TensorType("fp16", ())
    assert format_type(scalar, "A") == "fp16"
    assert format_type(scalar, "B") == "tensor<fp16, []>"
    assert format_type(tensor((1, None, 3), "int32"), "A") == "tensor<int32, [1, ?, 3]>"
    st = StateType(tensor((1, 4), "fp16"))
    assert format_type(st, "B") == "state<tensor<fp16, [1, 4]>>"
    s = TensorType("string", ())
    nested = TupleType((s, DictType(s, ListType(tensor((2,), "int32"), None))))
    assert format_type(nested, "A") == "tuple<string, dict<string, list<tensor<int32, [2]>, ?>>>"
    assert format_type(nested, "B") == (
        "tuple<tensor<string, []>, dict<tensor<string, []>, list<tensor<int32, [2]>, ?>>>"
    )


def _small_program(opset: str) -> Program:
    mb = Builder(opset, build_info=None)
    x = mb.input("x", tensor((2, 3), "fp16"))
    mb.const(np.array([[1.5, -2.0, 3.0]], np.float16), name="c")
    mb.const(True, name="flag")
    mb.const("text", name="s")
    big = mb.const(np.arange(12, dtype=np.float32).reshape(3, 4), name="big")
    return mb.build([x, big])


def test_dialect_follows_opset_and_output_is_deterministic() -> None:
    a = _small_program("ios18").to_mil()
    assert a == _small_program("ios18").to_mil()
    expected_a = (
        "program(1.3)\n{\n    func main<ios18>(tensor<fp16, [2, 3]> x) {\n"
        '            tensor<fp16, [1, 3]> c = const()[name = string("c"), val = tensor<fp16, [1, 3]>'
        "([[0x1.8p+0, -0x1p+1, 0x1.8p+1]])];\n"
        '            bool flag = const()[name = string("flag"), val = bool(true)];\n'
        '            string s = const()[name = string("s"), val = string("text")];\n'
        '            tensor<fp32, [3, 4]> big = const()[name = string("big"), val = tensor<fp32, [3, 4]>'
        '(BLOBFILE(path = string("@model_path/weights/weight.bin"), offset = uint64(64)))];\n'
        "        } -> (x, big);\n}"
    )
    assert a == expected_a
    b = _small_program("ios16").to_mil()
    assert b.startswith("program(1.0)\n")
    assert 'tensor<bool, []> flag = const()[name = tensor<string, []>("flag"), val = tensor<bool, []>(true)];' in b
    assert "offset = tensor<uint64, []>(64)" in b


def test_weights_and_save(tmp_path) -> None:
    prog = _small_program("ios18")
    weights = prog.weights()
    assert list(weights) == ["@model_path/weights/weight.bin"]
    data = weights["@model_path/weights/weight.bin"]
    assert struct.unpack_from("<IIIIQQ", data, 0)[:2] == (1, 2)
    assert struct.unpack_from("<IIQQ", data, 64) == (0xDEADBEEF, 2, 48, 128)
    out = prog.save(tmp_path / "m.mlmodelc")
    assert (out / "model.mil").read_text() == prog.to_mil()
    assert (out / "weights" / "weight.bin").read_bytes() == data
    from anekit.mil import load

    back = load(out)
    assert back.structural_diff(prog) is None
    np.testing.assert_array_equal(back.main.op("big").attrs["val"].data, np.arange(12).reshape(3, 4))


def test_blob_path_hint_and_dedupe() -> None:
    mb = Builder("ios18", build_info=None)
    w = np.ones((4, 4), np.float16)
    a = mb.const(w, name="a")
    b = mb.const(w.copy(), name="b")
    c = mb.const(w, name="c", blob_path="@model_path/weights/rms_w.bin")
    prog = mb.build([a, b, c])
    text = prog.to_mil()
    assert text.count("offset = uint64(64)") == 3  # a and b share the deduplicated blob; c has its own file
    assert set(prog.weights()) == {
        "@model_path/weights/weight.bin",
        "@model_path/weights/rms_w.bin",
    }
    with pytest.raises(MILError, match="@model_path/"):
        mb.const(w, name="d", blob_path="weights/x.bin", blob=True)


def test_strings_with_quotes_cannot_be_emitted() -> None:
    mb = Builder("ios18", build_info=None)
    s = mb.const('say "hi"', name="s")
    with pytest.raises(MILError, match="double quote"):
        mb.build([s]).to_mil()


def test_parsed_program_with_new_blob_uses_other_file() -> None:
    text = (
        'program(1.3)\n{\n    func main<ios18>() {\n            tensor<fp16, [16]> w = const()[name = string("w"), '
        'val = tensor<fp16, [16]>(BLOBFILE(path = string("@model_path/weights/weight.bin"), '
        "offset = uint64(64)))];\n        } -> (w);\n}"
    )
    prog = parse(text)
    assert prog.to_mil() == text
    with pytest.raises(MILError, match="not available"):
        prog.weights()


def test_dedupe_compares_full_content_not_just_fingerprint() -> None:
    mb = Builder("ios18", build_info=None)
    a = np.zeros(20_000, np.float16)
    b = a.copy()
    b[10_000] = 1  # same first and last 4 kB, different middle
    va, vb, vc = mb.const(a, name="a"), mb.const(b, name="b"), mb.const(a.copy(), name="c")
    prog = mb.build([va, vb, vc])
    text = prog.to_mil()
    assert text.count("offset = uint64(64)") == 2  # a and c share; b gets its own record
    assert "offset = uint64(40128)" in text  # 64 + 64 + 40000 -> next 64-aligned offset
    back = parse(text, weights=prog.weights())
    np.testing.assert_array_equal(back.main.op("b").attrs["val"].data, b)


def test_dedupe_needs_identical_dtype_shape_and_bytes() -> None:
    # issue #10: consts with the same bytes but different shapes shared one blob.
    mb = Builder("ios18", build_info=None)
    w = np.arange(24, dtype=np.float16)
    a = mb.const(w.reshape(4, 6), name="a")
    b = mb.const(w.reshape(6, 4), name="b")
    c = mb.const(w.reshape(4, 6).copy(), name="c")
    d = mb.const(w.view(np.int16).reshape(4, 6), name="d")
    prog = mb.build([a, b, c, d])
    offsets = {op.name: op.attrs["val"].blob.offset for op in parse(prog.to_mil()).main.operations}
    assert offsets["a"] == offsets["c"]
    assert len({offsets["a"], offsets["b"], offsets["d"]}) == 3
    back = parse(prog.to_mil(), weights=prog.weights())
    np.testing.assert_array_equal(back.main.op("b").attrs["val"].data, w.reshape(6, 4))
    # The writer follows the same rule.
    writer = BlobWriter()
    first = writer.add(w.reshape(4, 6), "fp16")
    assert writer.add(w.reshape(4, 6).copy(), "fp16") == first
    assert writer.add(w.reshape(6, 4), "fp16") != first
    assert writer.count == 2


def test_bf16_blobs_lay_out_consistently() -> None:
    mb = Builder("ios18", build_info=None)
    x = mb.const(np.full(16, 1.0, np.float32), name="x", dtype="bf16", blob=True)
    y = mb.const(np.full(16, 1.0001, np.float32), name="y", dtype="bf16", blob=True)  # same bf16 bits
    prog = mb.build([x, y])
    files = prog.weights()  # plan (float32 data differs) and writer agree on two records
    assert len(files["@model_path/weights/weight.bin"]) == 192 + 64 + 32
    back = parse(prog.to_mil(), weights=files)
    assert back.main.op("y").attrs["val"].data[0] == 1.0


_DTYPES = ["fp16", "fp32", "int8", "uint8", "int16", "uint16", "int32", "uint32", "bool"]


@settings(max_examples=150, deadline=None)
@given(
    dt=st.sampled_from(_DTYPES),
    shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
    seed=st.integers(0, 2**32 - 1),
    dialect=st.sampled_from(["ios16", "ios18"]),
    blob=st.sampled_from([None, True, False]),
)
def test_any_constant_round_trips_exactly(
    dt: str, shape: list[int], seed: int, dialect: str, blob: bool | None
) -> None:
    from anekit.mil.types import dtype

    rng = np.random.default_rng(seed)
    d = dtype(dt)
    n = int(np.prod(shape)) if shape else 1
    if d.kind == "float":  # random bit patterns: subnormals, infinities and NaNs included
        bits = rng.integers(0, 1 << d.bits, n, dtype=np.uint64).astype(f"u{d.bits // 8}")
        arr = bits.view(d.np_dtype).reshape(shape)
    elif d.kind == "bool":
        arr = rng.integers(0, 2, n).astype(bool).reshape(shape)
    else:
        info = np.iinfo(d.np_dtype)
        arr = rng.integers(info.min, info.max, n, endpoint=True).astype(d.np_dtype).reshape(shape)
    mb = Builder(dialect, build_info=None)
    if blob and d.kind == "bool":
        with pytest.raises(MILError, match="cannot be stored in a weight blob"):
            mb.const(arr, name="c", blob=True)
        return
    c = mb.const(arr, name="c", blob=blob if n or not blob else False)
    prog = mb.build([c])
    back = parse(prog.to_mil(), weights=prog.weights())
    assert back.structural_diff(prog) is None
    got = back.main.op("c").attrs["val"].data
    assert got.dtype == arr.dtype
    assert got.shape == arr.shape
    assert got.tobytes() == arr.tobytes() or (d.kind == "float" and np.array_equal(got, arr, equal_nan=True))


def test_signalling_nan_constants_emit_without_a_floating_point_warning() -> None:
    snan = np.array([0x7F800001, 0x3F800000], np.uint32).view(np.float32)  # a signalling NaN, then 1.0
    mb = Builder("ios18", build_info=None)
    c = mb.const(snan, name="c", blob=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # widening an sNaN raises IEEE "invalid"
        text = mb.build([c]).to_mil()
    assert "[nan, 0x1p+0]" in text
