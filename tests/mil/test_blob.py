"""Weight blob reader/writer, byte for byte against docs/internals/mil-format.md §9 and the four real weight.bin
files."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from _corpus import CORPUS_WITH_WEIGHTS

from anekit import mil, reference
from anekit.errors import MILError
from anekit.mil import load
from anekit.mil.blob import (
    BLOB_DTYPE_CODES,
    BlobFile,
    BlobWriter,
    decode_array,
    encode_array,
    pack_subbyte,
    read_blob,
    unpack_subbyte,
    write_blobs,
)
from anekit.mil.types import TensorType, dtype
from anekit.mil.values import BlobRef, Value, WeightSource


def test_dtype_codes_match_spec_table() -> None:
    # docs/internals/mil-format.md §9.4, append-only BlobDataType enum.
    assert BLOB_DTYPE_CODES == {
        "fp16": 1,
        "fp32": 2,
        "uint8": 3,
        "int8": 4,
        "bf16": 5,
        "int16": 6,
        "uint16": 7,
        "int4": 8,
        "uint1": 9,
        "uint2": 10,
        "uint4": 11,
        "uint3": 12,
        "uint6": 13,
        "int32": 14,
        "uint32": 15,
        "fp8e4m3": 16,
        "fp8e5m2": 17,
    }


def test_single_fp16_blob_layout_byte_by_byte() -> None:
    w = (np.arange(12, dtype=np.float32) / 4).astype(np.float16)
    data, offsets = write_blobs([(w, "fp16")])
    assert offsets == [64]
    assert len(data) == 128 + 24  # header + metadata + data, no trailing padding (§9.5)
    assert struct.unpack_from("<II", data, 0) == (1, 2)  # count, version
    assert data[8:64] == b"\0" * 56
    assert data[64:68] == bytes.fromhex("efbeadde")  # sentinel little-endian
    sentinel, code, size, data_off, pad = struct.unpack_from("<IIQQQ", data, 64)
    assert (sentinel, code, size, data_off, pad) == (0xDEADBEEF, 1, 24, 128, 0)
    assert data[96:128] == b"\0" * 32
    assert data[128:] == w.astype("<f2").tobytes()


def test_multiple_blobs_are_64_aligned_with_absolute_offsets() -> None:
    a = np.arange(5, dtype=np.int8)  # 5 bytes -> next record at 192
    b = np.ones((3, 3), dtype=np.float32)  # 36 bytes
    c = np.arange(64 * 64, dtype=np.int8).reshape(64, 64)
    data, offsets = write_blobs([(a, "int8"), (b, "fp32"), (c, "int8")])
    assert offsets == [64, 192, 320]
    assert struct.unpack_from("<I", data, 0)[0] == 3
    for off, arr, code in zip(offsets, (a, b, c), (4, 2, 4), strict=True):
        _, got_code, size, data_off, _ = struct.unpack_from("<IIQQQ", data, off)
        assert (got_code, size, data_off) == (code, arr.nbytes, off + 64)
        assert data_off % 64 == 0
    assert len(data) == 320 + 64 + 4096
    assert data[133:192] == b"\0" * 59  # alignment padding between records


def test_int8_example_offsets_of_section_8_4() -> None:
    # §8.4: two 64x64 int8 blobs; each chunk is 64 + 4096 bytes so the second record is at 4224.
    w = np.zeros((64, 64, 1, 1), dtype=np.int8)
    _, offsets = write_blobs([(w, "int8"), (w + 1, "int8")])
    assert offsets == [64, 4224]


def test_dedupe_identical_blobs() -> None:
    w = np.arange(20, dtype=np.float16)
    writer = BlobWriter()
    assert writer.add(w, "fp16") == 64
    assert writer.add(w.copy(), "fp16") == 64
    assert writer.add(w.view(np.int16), "int16") != 64  # same bytes, other dtype: separate blob
    assert writer.count == 2
    assert struct.unpack_from("<I", writer.to_bytes(), 0)[0] == 2


@pytest.mark.parametrize(
    ("dt", "values", "expected", "padding"),
    [  # docs/internals/mil-format.md §9.5, verified with coremltools' writer
        ("int4", [1, -2, 3, -8, 7], "e18307", 4),
        ("uint1", [1, 0, 1, 1, 0, 0, 0, 0, 1], "0d01", 7),
        ("uint3", [1, 2, 3, 4, 5], "d158", 1),
        ("uint6", [1, 63, 2], "c12f00", 6),
    ],
)
def test_subbyte_packing_matches_spec(dt: str, values: list[int], expected: str, padding: int) -> None:
    data, pad = encode_array(np.array(values), dt)
    assert data.hex() == expected
    assert pad == padding
    file, (off,) = write_blobs([(np.array(values), dt)])
    _, code, size, _, pad_field = struct.unpack_from("<IIQQQ", file, off)
    assert (code, size, pad_field) == (BLOB_DTYPE_CODES[dt], len(data), padding)
    back = read_blob(file, off, dt, (len(values),))
    assert back.tolist() == values


def test_subbyte_roundtrip_random() -> None:
    rng = np.random.default_rng(0)
    for bits in range(1, 8):
        v = rng.integers(0, 1 << bits, size=101)
        data, pad = pack_subbyte(v, bits)
        assert len(data) == (101 * bits + 7) // 8
        assert pad == len(data) * 8 - 101 * bits
        assert unpack_subbyte(data, bits, 101).tolist() == v.tolist()


@pytest.mark.parametrize("dt", ["fp16", "fp32", "int8", "uint8", "int16", "uint16", "int32", "uint32", "bf16"])
def test_encode_decode_roundtrip(dt: str) -> None:
    from anekit.mil.types import dtype

    d = dtype(dt)
    arr = (np.arange(24).reshape(2, 3, 4) - (5 if d.kind != "uint" else 0)).astype(d.np_dtype)
    data, pad = encode_array(arr, dt)
    assert pad == 0
    out = decode_array(data, dt, arr.shape)
    np.testing.assert_array_equal(out, arr)


def test_fp8_decoding_table() -> None:
    # E4M3FN: 0x38 = 1.0, 0x7e = 448 (max), 0x7f = NaN; E5M2: 0x3c = 1.0, 0x7c = inf.
    data = bytes([0x38, 0x7E, 0x7F, 0x01])
    v = decode_array(data, "fp8e4m3", (4,))
    assert v[0] == 1.0
    assert v[1] == 448.0
    assert np.isnan(v[2])
    assert v[3] == 2.0**-9
    w = decode_array(bytes([0x3C, 0x7C]), "fp8e5m2", (2,))
    assert w[0] == 1.0
    assert np.isinf(w[1])
    with pytest.raises(MILError, match="not supported"):
        encode_array(np.ones(2), "fp8e4m3")


def test_writer_rejects_out_of_range_and_bad_dtypes() -> None:
    with pytest.raises(MILError, match="do not fit"):
        encode_array(np.array([8]), "int4")
    with pytest.raises(MILError, match="do not fit"):
        encode_array(np.array([300]), "uint8")
    with pytest.raises(MILError, match="cannot be stored"):
        encode_array(np.array([True]), "bool")
    with pytest.raises(MILError, match="integers"):
        encode_array(np.array([0.5]), "int8")


def test_reader_checks_header_sentinel_dtype_and_size() -> None:
    file, (off,) = write_blobs([(np.arange(40, dtype=np.float16), "fp16")])
    bf = BlobFile(file)
    assert (bf.count, bf.version) == (1, 2)
    with pytest.raises(MILError, match="dtype code 1"):
        bf.read(off, "fp32", (20,))
    with pytest.raises(MILError, match="needs"):
        bf.read(off, "fp16", (41,))
    with pytest.raises(MILError, match="sentinel"):
        bf.read(128, "fp16", (40,))
    with pytest.raises(MILError, match="outside"):
        bf.read(10_000, "fp16", (40,))
    bad_version = bytearray(file)
    bad_version[4] = 1
    with pytest.raises(MILError, match="version 1"):
        BlobFile(bytes(bad_version))
    with pytest.raises(MILError, match="shorter"):
        BlobFile(b"\0" * 10)
    truncated = file[:-4]
    with pytest.raises(MILError, match="past the end"):
        BlobFile(truncated).read(off, "fp16", (40,))


@pytest.mark.parametrize("bundle", CORPUS_WITH_WEIGHTS, ids=lambda p: p.name)
def test_real_weight_files_walk_and_every_blobfile_resolves(bundle) -> None:
    raw = (bundle / "weights" / "weight.bin").read_bytes()
    bf = BlobFile(raw)
    entries = bf.entries()
    assert len(entries) == bf.count > 0
    assert entries[0].offset == 64
    assert entries[0].data_offset == 128
    for e in entries:
        assert e.data_offset == e.offset + 64
        assert e.offset % 64 == 0
        assert e.dtype_name in ("fp16", "fp32", "uint8", "int8")
    prog = load(bundle)
    refs = set()
    for f in prog.functions.values():
        for op in f.operations:
            values = list(op.attrs.values()) + [b for b in op.inputs.values() if isinstance(b, Value)]
            for v in values:
                if v.blob is not None:
                    arr = v.data  # dtype code and size are checked against the declared type
                    assert arr.shape == v.type.shape
                    refs.add(v.blob.offset)
    assert refs == {e.offset for e in entries}  # every blob referenced, every reference a record
    # The writer reproduces the same bytes for the same blob sequence (all four files are writer-shaped).
    writer = BlobWriter()
    for e in entries:
        assert writer.add_encoded(bf.raw(e.offset), e.dtype_name, e.padding_bits) == e.offset
    assert writer.to_bytes() == raw


def test_writer_handles_big_endian_and_strided_arrays() -> None:
    base = np.arange(40, dtype=np.float16)
    expected = base[::2].astype("<f2").tobytes()
    for arr in (base[::2], base[::2].astype(">f2"), base[::2].copy()):
        data, (off,) = write_blobs([(arr, "fp16")])
        assert data[off + 64 :] == expected
    ints = np.arange(6, dtype=">i4").reshape(2, 3).T  # big-endian, transposed
    data, (off,) = write_blobs([(ints, "int32")])
    assert data[off + 64 :] == np.ascontiguousarray(ints).astype("<i4").tobytes()


@pytest.mark.parametrize("data_offset", [0, 32, 64, 100], ids=["header", "header-mid", "own-record", "record-mid"])
def test_records_pointing_into_header_or_metadata_are_rejected(data_offset: int) -> None:
    # issue #11 item 6: such a file used to load, run on header bytes and validate clean.
    values = np.arange(40, dtype=np.float16)
    file, (off,) = write_blobs([(values, "fp16")])
    bad = bytearray(file)
    struct.pack_into("<Q", bad, off + 16, data_offset)  # blob_metadata.offset (§9.3)
    with pytest.raises(MILError, match=r"inside (the 64-byte file header|metadata)"):
        BlobFile(bytes(bad)).read(off, "fp16", (40,))
    # The whole chain refuses it: parse with these weights, validate, run on the reference backend.
    mb = mil.Builder("ios17")
    x = mb.input("x", mil.tensor((40,), "fp16"))
    prog = mb.build(mb.add(x=x, y=values))
    path, = prog.weights()
    parsed = mil.parse(prog.to_mil(), weights={path: bytes(bad)})
    errors = [d for d in mil.validate(parsed, "any") if d.severity == "error"]
    assert errors and "inside" in errors[0].message
    with pytest.raises(MILError, match="inside"):
        reference.run(parsed, {"x": values})
    # The intact file still reads.
    np.testing.assert_array_equal(BlobFile(file).read(off, "fp16", (40,)), values)


def test_blob_values_are_views_of_the_weight_file_and_read_blob_stays_a_copy() -> None:
    # Reading a model's weights through Value.data copies each weight once (the file into memory), not twice.
    weights = {"fp16": np.arange(8, dtype=np.float16), "int8": np.arange(-4, 4, dtype=np.int8)}
    data, offsets = write_blobs([(w, name) for name, w in weights.items()])
    source = WeightSource({"@model_path/weights/weight.bin": data})
    file_bytes = source.file("@model_path/weights/weight.bin")
    for (name, want), offset in zip(weights.items(), offsets, strict=True):
        t = TensorType(dtype(name), want.shape)
        got = Value(t, blob=BlobRef("@model_path/weights/weight.bin", offset), source=source).data
        np.testing.assert_array_equal(got, want)
        assert not got.flags.writeable and not got.flags.owndata, name
        assert np.shares_memory(got, np.frombuffer(file_bytes._data, np.uint8)), name
        copy = read_blob(data, offset, name, want.shape)
        assert copy.flags.writeable and not np.shares_memory(copy, np.frombuffer(data, np.uint8)), name
