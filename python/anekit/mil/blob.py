"""MIL weight blob storage (``weight.bin``): reader and writer, byte for byte.

Layout (docs/internals/mil-format.md §9.1-9.5, from coremltools ``MILBlob/Blob/StorageFormat.hpp``), all little-endian:

* a 64-byte storage header: ``uint32 count``, ``uint32 version`` (= 2), 56 reserved zero bytes;
* per blob, at a 64-aligned offset: a 64-byte metadata record (``uint32 sentinel = 0xDEADBEEF``,
  ``uint32 mil_dtype``, ``uint64 sizeInBytes``, ``uint64 offset`` = absolute data offset,
  ``uint64 padding_size_in_bits``, 32 reserved zero bytes), immediately followed by the data.

A MIL ``BLOBFILE(path, offset = N)`` names the *metadata* offset N; the data starts at the record's ``offset``
field (N + 64 as written by coremltools and by this writer). Sub-byte types are packed LSB first, row-major.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import MILError
from .types import DType, dtype

__all__ = [
    "BLOB_DTYPE_CODES",
    "BLOB_SENTINEL",
    "BLOB_VERSION",
    "BlobEntry",
    "BlobFile",
    "BlobWriter",
    "blob_size",
    "decode_array",
    "encode_array",
    "pack_subbyte",
    "read_blob",
    "unpack_subbyte",
    "write_blobs",
]

#: Header and record sizes and alignment (docs/internals/mil-format.md §9.1-9.3).
HEADER_SIZE = 64
METADATA_SIZE = 64
ALIGNMENT = 64
#: ``storage_header.version``; the coremltools reader rejects anything else (§9.2).
BLOB_VERSION = 2
#: ``blob_metadata.sentinel`` (§9.3).
BLOB_SENTINEL = 0xDEADBEEF

#: MIL dtype name -> ``BlobDataType`` code (append-only enum, docs/internals/mil-format.md §9.4).
BLOB_DTYPE_CODES: dict[str, int] = {
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
_CODE_TO_DTYPE = {code: name for name, code in BLOB_DTYPE_CODES.items()}

_HEADER = struct.Struct("<II56x")
_METADATA = struct.Struct("<IIQQQ32x")
# Little-endian numpy dtypes used for the byte-exact encodings (§9.5: integers little-endian, fp raw IEEE).
_LE = {
    "fp16": "<f2",
    "fp32": "<f4",
    "uint8": "u1",
    "int8": "i1",
    "int16": "<i2",
    "uint16": "<u2",
    "int32": "<i4",
    "uint32": "<u4",
}


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _blob_dtype(dt: str | DType) -> DType:
    d = dtype(dt)
    if d.name not in BLOB_DTYPE_CODES:
        raise MILError(
            f"dtype {d.name} cannot be stored in a weight blob; blob dtypes are {', '.join(BLOB_DTYPE_CODES)}"
        )
    return d


def blob_size(dt: str | DType, numel: int) -> int:
    """Bytes of data for ``numel`` elements of ``dt`` (sub-byte types: ``ceil(numel * bits / 8)``, §9.3)."""
    d = _blob_dtype(dt)
    return (numel * d.bits + 7) // 8


# ----------------------------------------------------------------------------------------------- sub-byte


def pack_subbyte(values: np.ndarray | Sequence[int], bits: int) -> tuple[bytes, int]:
    """Pack integers into ``bits``-wide fields, LSB first, row-major (§9.5).

    Args:
        values: integers; negative values are stored in two's complement within the field.
        bits: field width, 1-7.

    Returns:
        ``(data, padding_bits)`` where ``padding_bits`` counts the unused high bits of the last byte.
    """
    if not 1 <= bits <= 7:
        raise MILError(f"sub-byte field width must be 1..7 bits, got {bits}")
    flat = np.asarray(values).reshape(-1).astype(np.int64) & ((1 << bits) - 1)
    if flat.size == 0:
        return b"", 0
    bit_matrix = (flat[:, None] >> np.arange(bits, dtype=np.int64)) & 1
    data = np.packbits(bit_matrix.astype(np.uint8).reshape(-1), bitorder="little").tobytes()
    return data, len(data) * 8 - flat.size * bits


def unpack_subbyte(data: bytes | memoryview, bits: int, count: int, *, signed: bool = False) -> np.ndarray:
    """Inverse of :func:`pack_subbyte`: ``count`` fields of ``bits`` bits (int8 if signed, else uint8)."""
    if not 1 <= bits <= 7:
        raise MILError(f"sub-byte field width must be 1..7 bits, got {bits}")
    need = (count * bits + 7) // 8
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size < need:
        raise MILError(f"sub-byte data too short: {raw.size} bytes for {count} x {bits}-bit values")
    flat = np.unpackbits(raw[:need], bitorder="little")[: count * bits].reshape(count, bits).astype(np.int16)
    vals = (flat << np.arange(bits, dtype=np.int16)).sum(axis=1)
    if signed:
        vals = np.where(vals >= (1 << (bits - 1)), vals - (1 << bits), vals)
        return vals.astype(np.int8)
    return vals.astype(np.uint8)


# ------------------------------------------------------------------------------------------ element codec


def _fp8_table(name: str) -> np.ndarray:
    """All 256 fp8 values (float32) by code: E4M3FN (bias 7, no inf) or E5M2 (bias 15, IEEE-like)."""
    ebits, mbits, bias = (4, 3, 7) if name == "fp8e4m3" else (5, 2, 15)
    out = np.empty(256, dtype=np.float32)
    for code in range(256):
        sign = -1.0 if code & 0x80 else 1.0
        e = (code >> mbits) & ((1 << ebits) - 1)
        m = code & ((1 << mbits) - 1)
        if name == "fp8e4m3" and e == 15 and m == 7:
            out[code] = np.nan
        elif name == "fp8e5m2" and e == 31:
            out[code] = sign * np.inf if m == 0 else np.nan
        elif e == 0:
            out[code] = sign * (m / (1 << mbits)) * 2.0 ** (1 - bias)
        else:
            out[code] = sign * (1 + m / (1 << mbits)) * 2.0 ** (e - bias)
    return out


def _check_int_range(arr: np.ndarray, d: DType) -> None:
    if arr.size == 0:
        return
    lo, hi = (-(1 << (d.bits - 1)), (1 << (d.bits - 1)) - 1) if d.kind == "int" else (0, (1 << d.bits) - 1)
    amin, amax = int(arr.min()), int(arr.max())
    if amin < lo or amax > hi:
        raise MILError(f"values in [{amin}, {amax}] do not fit dtype {d.name} (range {lo}..{hi})")


def encode_array(values: np.ndarray, dt: str | DType) -> tuple[bytes, int]:
    """Encode an array as blob data bytes for ``dt``.

    Returns:
        ``(data, padding_bits)``; padding is non-zero only for sub-byte types.

    Raises:
        MILError: the dtype is not a blob dtype, values do not fit, or the dtype cannot be encoded (fp8).
    """
    d = _blob_dtype(dt)
    arr = np.asarray(values)
    if d.is_subbyte:
        if arr.dtype.kind not in "iub":
            raise MILError(f"{d.name} blob data must be integers, got numpy {arr.dtype}")
        _check_int_range(arr, d)
        return pack_subbyte(arr, d.bits)
    if d.name == "bf16":
        f32 = np.ascontiguousarray(arr, dtype=np.float32).reshape(-1).view(np.uint32).astype(np.uint64)
        rounded = ((f32 + 0x7FFF + ((f32 >> 16) & 1)) >> 16).astype(np.uint16)
        nan = np.isnan(np.asarray(arr, dtype=np.float32).reshape(-1))
        rounded[nan] = 0x7FC0
        return rounded.astype("<u2").tobytes(), 0
    if d.name in ("fp8e4m3", "fp8e5m2"):
        raise MILError(f"writing {d.name} blobs is not supported (reading is)")
    if d.is_int:
        if arr.dtype.kind not in "iub":
            raise MILError(f"{d.name} blob data must be integers, got numpy {arr.dtype}")
        _check_int_range(arr, d)
    return np.ascontiguousarray(arr, dtype=_LE[d.name]).tobytes(), 0


def decode_array(data: bytes | memoryview, dt: str | DType, shape: Sequence[int], *, copy: bool = True) -> np.ndarray:
    """Decode blob data bytes into a numpy array of ``shape`` (held in ``DType.np_dtype``).

    ``copy=False``: where the stored bytes already are that array (byte-sized little-endian types), return a
    read-only view of ``data`` instead of a copy (the view keeps ``data`` alive).
    """
    d = _blob_dtype(dt)
    count = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    if d.is_subbyte:
        return unpack_subbyte(data, d.bits, count, signed=d.kind == "int").reshape(tuple(shape))
    need = blob_size(d, count)
    if len(data) < need:
        raise MILError(f"blob data too short: {len(data)} bytes for {count} x {d.name}")
    if d.name == "bf16":
        raw = np.frombuffer(data, dtype="<u2", count=count).astype(np.uint32) << 16
        return raw.view(np.float32).reshape(tuple(shape))
    if d.name in ("fp8e4m3", "fp8e5m2"):
        codes = np.frombuffer(data, dtype=np.uint8, count=count)
        return _fp8_table(d.name)[codes].reshape(tuple(shape))
    arr = np.frombuffer(data, dtype=_LE[d.name], count=count)
    return arr.astype(d.np_dtype, copy=copy).reshape(tuple(shape))


# ---------------------------------------------------------------------------------------------- writer


class BlobWriter:
    """Accumulates blobs into one weight file, deduplicating identical (dtype, shape, bytes) blobs (§7.2).

    Only blobs of the same shape share a record: coremltools shares an offset only for the same const, and no
    compiler-written file points consts of different shapes at one blob (docs/internals/mil-format.md §7.2).

    Each record goes to the next 64-aligned offset, data right after its 64-byte metadata (§9.5); nothing is
    padded after the last blob.

    Args:
        dedupe: share one record between identical blobs (default True).
    """

    __slots__ = ("_chunks", "_count", "_dedupe", "_end")

    def __init__(self, *, dedupe: bool = True) -> None:
        self._chunks: list[bytes | memoryview] = []
        self._end = HEADER_SIZE
        self._count = 0
        self._dedupe: dict[tuple[str, tuple[int, ...] | None, int, str], int] | None = {} if dedupe else None

    @property
    def count(self) -> int:
        """Number of distinct blobs written so far."""
        return self._count

    def add(self, values: np.ndarray, dt: str | DType) -> int:
        """Append ``values`` as a ``dt`` blob and return its metadata offset (the MIL ``BLOBFILE`` offset)."""
        d = _blob_dtype(dt)
        arr = np.asarray(values)
        le = _LE.get(d.name)
        if le is not None and arr.dtype == np.dtype(le) and arr.flags.c_contiguous:
            # Already in the exact little-endian layout (§9.5): reference the memory, copy once in to_bytes().
            return self.add_encoded(memoryview(arr.reshape(-1)).cast("B"), d, 0, shape=arr.shape)
        data, padding = encode_array(arr, d)
        return self.add_encoded(data, d, padding, shape=arr.shape)

    def add_encoded(
        self,
        data: bytes | memoryview,
        dt: str | DType,
        padding_bits: int = 0,
        *,
        shape: Sequence[int] | None = None,
    ) -> int:
        """Append already-encoded data bytes; returns the metadata offset.

        Blobs with the same dtype, ``shape`` and bytes share one offset (blobs added without a shape share
        only with other shapeless blobs).
        """
        d = _blob_dtype(dt)
        if not 0 <= padding_bits < 8:
            raise MILError(f"padding_size_in_bits must be 0..7, got {padding_bits}")
        key = (
            (
                d.name,
                None if shape is None else tuple(int(n) for n in shape),
                len(data),
                hashlib.blake2b(data, digest_size=16).hexdigest(),
            )
            if self._dedupe is not None
            else None
        )
        if key is not None and self._dedupe is not None:
            found = self._dedupe.get(key)
            if found is not None:
                return found
        meta_offset = _align(self._end)
        data_offset = meta_offset + METADATA_SIZE
        pad = meta_offset - self._end
        if pad:
            self._chunks.append(b"\0" * pad)
        self._chunks.append(
            _METADATA.pack(BLOB_SENTINEL, BLOB_DTYPE_CODES[d.name], len(data), data_offset, padding_bits)
        )
        self._chunks.append(data if isinstance(data, (bytes, memoryview)) else bytes(data))
        self._end = data_offset + len(data)
        self._count += 1
        if key is not None and self._dedupe is not None:
            self._dedupe[key] = meta_offset
        return meta_offset

    def to_bytes(self) -> bytes:
        """The complete file: storage header (count, version 2) followed by every record."""
        return b"".join([_HEADER.pack(self._count, BLOB_VERSION), *self._chunks])


def write_blobs(items: Iterable[tuple[np.ndarray, str | DType]]) -> tuple[bytes, list[int]]:
    """Write ``(array, dtype)`` pairs into one weight file; returns ``(file_bytes, metadata_offsets)``."""
    writer = BlobWriter()
    offsets = [writer.add(values, dt) for values, dt in items]
    return writer.to_bytes(), offsets


# ---------------------------------------------------------------------------------------------- reader


@dataclass(frozen=True)
class BlobEntry:
    """One parsed metadata record.

    Attributes:
        offset: metadata offset (what ``BLOBFILE(offset = …)`` names).
        dtype_code: raw ``mil_dtype`` code (§9.4).
        size: ``sizeInBytes``.
        data_offset: absolute data offset.
        padding_bits: ``padding_size_in_bits``.
    """

    offset: int
    dtype_code: int
    size: int
    data_offset: int
    padding_bits: int

    @property
    def dtype_name(self) -> str | None:
        """MIL dtype name for the code, or None for an unknown code."""
        return _CODE_TO_DTYPE.get(self.dtype_code)


class BlobFile:
    """A read-only view of one weight file.

    Args:
        data: the whole file's bytes.
        name: a label for error messages (usually the ``@model_path/…`` path).

    Raises:
        MILError: the header is short or the version is not 2.
    """

    __slots__ = ("_data", "count", "name", "version")

    def __init__(self, data: bytes | bytearray | memoryview, name: str = "weight.bin") -> None:
        self._data = memoryview(bytes(data) if isinstance(data, bytearray) else data)
        self.name = name
        if len(self._data) < HEADER_SIZE:
            raise MILError(f"weight file {name}: {len(self._data)} bytes, shorter than the 64-byte header")
        self.count, self.version = struct.unpack_from("<II", self._data, 0)
        if self.version != BLOB_VERSION:
            raise MILError(f"weight file {name}: storage version {self.version}, expected {BLOB_VERSION}")

    def __len__(self) -> int:
        return len(self._data)

    def entry(self, offset: int) -> BlobEntry:
        """Parse and check the metadata record at ``offset`` (sentinel, bounds)."""
        if offset < HEADER_SIZE or offset + METADATA_SIZE > len(self._data):
            raise MILError(f"weight file {self.name}: offset {offset} outside the file ({len(self._data)} bytes)")
        sentinel, code, size, data_offset, padding = _METADATA.unpack_from(self._data, offset)
        if sentinel != BLOB_SENTINEL:
            raise MILError(
                f"weight file {self.name}: no blob at offset {offset} "
                f"(sentinel {sentinel:#010x}, expected {BLOB_SENTINEL:#x})"
            )
        if data_offset < offset + METADATA_SIZE:
            # The data must follow its own 64-byte record (§9.5: data right after the record): an offset
            # into the storage header or into a metadata record would read header bytes as weights.
            raise MILError(
                f"weight file {self.name}: blob at {offset} points its data at {data_offset}, inside "
                + ("the 64-byte file header" if data_offset < HEADER_SIZE else "metadata")
                + f"; data must start at or after {offset + METADATA_SIZE}, after its own record"
            )
        if data_offset + size > len(self._data):
            raise MILError(
                f"weight file {self.name}: blob at {offset} claims {size} bytes at {data_offset}, "
                f"past the end of the file ({len(self._data)} bytes)"
            )
        return BlobEntry(offset, code, size, data_offset, padding)

    def entries(self) -> list[BlobEntry]:
        """Walk all ``count`` records from offset 64 (§9.5 "Walking all blobs")."""
        out = []
        offset = HEADER_SIZE
        for _ in range(self.count):
            e = self.entry(offset)
            out.append(e)
            offset = _align(e.data_offset + e.size)
        return out

    def raw(self, offset: int) -> bytes:
        """The data bytes of the blob whose metadata is at ``offset``."""
        e = self.entry(offset)
        return bytes(self._data[e.data_offset : e.data_offset + e.size])

    def read(self, offset: int, dt: str | DType, shape: Sequence[int], *, copy: bool = True) -> np.ndarray:
        """Read the blob at metadata ``offset`` as ``dt`` with ``shape``, checking dtype code and size.

        ``copy=False`` returns a read-only view of the file's bytes where no conversion is needed
        (:func:`decode_array`).

        Raises:
            MILError: sentinel, dtype code, size or padding do not match the declared type.
        """
        d = _blob_dtype(dt)
        e = self.entry(offset)
        if e.dtype_code != BLOB_DTYPE_CODES[d.name]:
            raise MILError(
                f"weight file {self.name}: blob at {offset} has dtype code {e.dtype_code} "
                f"({e.dtype_name or 'unknown'}), but the program declares {d.name} "
                f"(code {BLOB_DTYPE_CODES[d.name]})"
            )
        count = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
        expected = blob_size(d, count)
        if e.size != expected:
            raise MILError(
                f"weight file {self.name}: blob at {offset} holds {e.size} bytes, but {d.name}"
                f"{list(shape)} needs {expected}"
            )
        if d.is_subbyte and e.padding_bits != expected * 8 - count * d.bits:
            raise MILError(
                f"weight file {self.name}: blob at {offset} has padding_size_in_bits {e.padding_bits}, "
                f"expected {expected * 8 - count * d.bits}"
            )
        return decode_array(self._data[e.data_offset : e.data_offset + e.size], d, shape, copy=copy)


def read_blob(data: bytes | memoryview, offset: int, dt: str | DType, shape: Sequence[int]) -> np.ndarray:
    """Read one blob from a weight file's bytes (see :meth:`BlobFile.read`)."""
    return BlobFile(data).read(offset, dt, shape)
