"""Typed literal values of MIL programs: inline data or lazily resolved ``BLOBFILE`` references.

A :class:`Value` is what appears as ``type(literal)`` in MIL text: a ``const``'s ``val``, any other attribute,
or an inline argument of an iOS18 constexpr op. Its data is either held in memory (numpy array, Python str,
tuple, list or dict for composite types) or referenced as ``BLOBFILE(path, offset)`` and read on first use
through a :class:`WeightSource` (docs/internals/mil-format.md §7.3, §9).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MILError
from .blob import BLOB_DTYPE_CODES, BlobFile
from .types import TensorType, Type

__all__ = ["MODEL_PATH_PREFIX", "BlobRef", "Value", "WeightSource", "data_equal"]

#: Every weight path in MIL text starts with this (the model directory, docs/internals/mil-format.md §7.3).
MODEL_PATH_PREFIX = "@model_path/"


class BlobRef:
    """``BLOBFILE(path = …, offset = …)``: a weight file path and a blob *metadata* offset (§7.3)."""

    __slots__ = ("offset", "path")

    def __init__(self, path: str, offset: int) -> None:
        if not isinstance(path, str) or not path:
            raise MILError(f"BLOBFILE path must be a non-empty string, got {path!r}")
        if not isinstance(offset, (int, np.integer)) or isinstance(offset, bool) or offset < 0:
            raise MILError(f"BLOBFILE offset must be a non-negative int, got {offset!r}")
        self.path = path
        self.offset = int(offset)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BlobRef) and (self.path, self.offset) == (other.path, other.offset)

    def __hash__(self) -> int:
        return hash((self.path, self.offset))

    def __repr__(self) -> str:
        return f"BlobRef({self.path!r}, {self.offset})"


class WeightSource:
    """Where ``BLOBFILE`` paths are read from: a dict of path -> bytes, or a model directory.

    Dict keys may be the full ``@model_path/…`` path or the path without the prefix. A directory stands for
    ``@model_path`` (so ``@model_path/weights/weight.bin`` is ``<dir>/weights/weight.bin``); if that file does
    not exist, the path below ``weights/`` is also tried directly in the directory, so passing the
    ``weights`` folder itself works too. Files are read once and cached.

    Args:
        weights: mapping, directory path, or None (no weights available).
    """

    __slots__ = ("_cache", "_dir", "_mapping")

    def __init__(self, weights: Mapping[str, bytes] | str | os.PathLike[str] | None = None) -> None:
        self._cache: dict[str, BlobFile] = {}
        self._mapping: dict[str, bytes] | None = None
        self._dir: Path | None = None
        if weights is None:
            return
        if isinstance(weights, Mapping):
            for k, v in weights.items():
                if not isinstance(k, str) or not isinstance(v, (bytes, bytearray, memoryview)):
                    raise MILError(
                        f"weights must map path strings to bytes; got {type(k).__name__} -> {type(v).__name__}"
                    )
            self._mapping = dict(weights)
        elif isinstance(weights, (str, os.PathLike)):
            self._dir = Path(weights)
            if not self._dir.is_dir():
                raise MILError(f"weights folder {self._dir} does not exist or is not a directory")
        else:
            raise MILError(f"weights must be a dict of path -> bytes or a folder, got {type(weights).__name__}")

    @property
    def available(self) -> bool:
        """Whether any weights were provided."""
        return self._mapping is not None or self._dir is not None

    def raw_file(self, path: str) -> bytes | None:
        """The bytes of the file ``path`` (a ``@model_path/…`` string), or None if it cannot be found."""
        rel = path.removeprefix(MODEL_PATH_PREFIX)
        if self._mapping is not None:
            for key in (path, rel, MODEL_PATH_PREFIX + rel):
                if key in self._mapping:
                    return bytes(self._mapping[key])
            return None
        if self._dir is not None:
            for c in self._candidates(path, rel):
                if c.is_file():
                    return c.read_bytes()
        return None

    def has_file(self, path: str) -> bool:
        """Whether the file ``path`` (a ``@model_path/…`` string) can be found, without reading it."""
        rel = path.removeprefix(MODEL_PATH_PREFIX)
        if self._mapping is not None:
            return any(k in self._mapping for k in (path, rel, MODEL_PATH_PREFIX + rel))
        if self._dir is not None:
            return any(c.is_file() for c in self._candidates(path, rel))
        return False

    def describe_missing(self, path: str) -> str:
        """How to name the missing file ``path`` in an error: the file system path where it was looked for."""
        if self._dir is not None:
            return f"{self._dir / path.removeprefix(MODEL_PATH_PREFIX)} (BLOBFILE path {path!r})"
        return repr(path) + (" (no weights were given)" if not self.available else "")

    def _candidates(self, path: str, rel: str) -> list[Path]:
        assert self._dir is not None
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise MILError(f"weight path {path!r} escapes the model directory")
        candidates = [self._dir / rel]
        if rel.startswith("weights/"):
            candidates.append(self._dir / rel[len("weights/") :])
        return candidates

    def file(self, path: str) -> BlobFile:
        """The parsed weight file for ``path`` (cached). Raises MILError if it is missing or invalid."""
        found = self._cache.get(path)
        if found is None:
            data = self.raw_file(path)
            if data is None:
                raise MILError(
                    f"weight file {self.describe_missing(path)} is missing: the program references it but it is "
                    "not among the weights given (bundles are often published without their weights)"
                )
            found = BlobFile(data, name=path)
            self._cache[path] = found
        return found


class Value:
    """A typed literal: inline data, or a blob reference resolved lazily.

    Attributes:
        type: the declared MIL type.
        blob: the ``BLOBFILE`` reference, or None for inline / not-yet-laid-out data.
        storage: ``"inline"`` or ``"blob"``: how the emitter writes in-memory data (builder consts above the
            size threshold are ``"blob"``; parsed blob references are always ``"blob"``).
        path_hint: for in-memory ``"blob"`` data, the ``@model_path/…`` file to place it in (None: the
            default ``weights/weight.bin``).
    """

    __slots__ = ("_data", "_source", "blob", "path_hint", "storage", "type")

    def __init__(
        self,
        type: Type,
        data: Any = None,
        *,
        blob: BlobRef | None = None,
        source: WeightSource | None = None,
        storage: str | None = None,
        path_hint: str | None = None,
    ) -> None:
        if (data is None) == (blob is None):
            raise MILError("a Value needs exactly one of inline data or a BLOBFILE reference")
        if blob is not None and not (isinstance(type, TensorType) and type.is_static):
            raise MILError(f"a BLOBFILE value needs a static tensor type, got {type}")
        if blob is not None and storage == "inline":
            raise MILError("a BLOBFILE value cannot have inline storage")
        if isinstance(data, np.generic):
            data = np.asarray(data)
        if data is not None and isinstance(type, TensorType):
            _check_tensor_data(type, data)
        if isinstance(data, np.ndarray) and data.flags.writeable:
            # A read-only view, not a copy: weights can be hundreds of MB. The caller must not modify the
            # array afterwards (the Builder documents this), as with coremltools' const values.
            data = data.view()
            data.flags.writeable = False
        self.type = type
        self._data = data
        self.blob = blob
        self._source = source
        self.storage = storage or ("blob" if blob is not None else "inline")
        if self.storage not in ("inline", "blob"):
            raise MILError(f"Value storage must be 'inline' or 'blob', got {self.storage!r}")
        if path_hint is not None and not (
            isinstance(path_hint, str)
            and path_hint.startswith(MODEL_PATH_PREFIX)
            and len(path_hint) > len(MODEL_PATH_PREFIX)
        ):
            raise MILError(f"weight path must start with {MODEL_PATH_PREFIX!r}, got {path_hint!r}")
        if self.storage == "blob" and blob is None:
            if not (isinstance(type, TensorType) and type.is_static):
                raise MILError(f"only static tensors can be stored in a weight blob, got {type}")
            if type.dtype.name not in BLOB_DTYPE_CODES:
                raise MILError(f"dtype {type.dtype.name} cannot be stored in a weight blob (§9.4); keep it inline")
        self.path_hint = path_hint

    @classmethod
    def trusted(cls, type: TensorType, data: Any, storage: str, path_hint: str | None = None) -> Value:
        """Internal fast constructor for data the caller has already validated against ``type`` (the builder).

        The array must already be read-only or owned; no checks are repeated.
        """
        v = cls.__new__(cls)
        v.type = type
        v._data = data
        v.blob = None
        v._source = None
        v.storage = storage
        v.path_hint = path_hint
        return v

    @property
    def is_blob(self) -> bool:
        """True for a value written as ``BLOBFILE`` (already referenced, or laid out on emission)."""
        return self.storage == "blob"

    @property
    def is_loaded(self) -> bool:
        """Whether the data is in memory (inline, or a blob that was already read)."""
        return self._data is not None

    @property
    def data(self) -> Any:
        """The value's data, reading the blob on first access.

        Raises:
            MILError: the blob cannot be read (no weights given, missing file, metadata mismatch).
        """
        if self._data is None:
            assert self.blob is not None  # invariant of __init__, not user input
            if self._source is None or not self._source.available:
                raise MILError(f"cannot read {self.blob.path} offset {self.blob.offset}: no weights were given")
            t = self.type
            assert isinstance(t, TensorType)
            # A view of the weight file's bytes where they already are the array (the Value's data is read-only
            # anyway): reading a model's weights copies each of them once, from the file, not twice.
            arr = self._source.file(self.blob.path).read(self.blob.offset, t.dtype, t.shape, copy=False)
            arr.flags.writeable = False
            self._data = arr
        return self._data

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (strings as object arrays)."""
        d = self.data
        return d if isinstance(d, np.ndarray) else np.asarray(d, dtype=object if isinstance(d, str) else None)

    def equals(self, other: Value) -> bool:
        """Structural equality: same type, same storage kind, same data (resolving blobs where needed)."""
        if not isinstance(other, Value) or self.type != other.type or self.storage != other.storage:
            return False
        if self.blob is not None and self.blob == other.blob and not (self.is_loaded or other.is_loaded):
            return True
        try:
            a, b = self.data, other.data
        except MILError:
            return self.blob == other.blob
        return data_equal(a, b)

    def __repr__(self) -> str:
        if self._data is None:
            return f"Value({self.type}, {self.blob!r})"
        return f"Value({self.type}, {self._data!r})"


def _check_tensor_data(t: TensorType, data: Any) -> None:
    if isinstance(data, str):
        if t.dtype.kind != "string" or t.shape:
            raise MILError(f"a Python str is only valid for a string scalar, not {t}")
        return
    if not isinstance(data, np.ndarray):
        raise MILError(f"tensor data for {t} must be a numpy array, got {type(data).__name__}")
    if data.ndim != t.rank or any(d is not None and d != n for d, n in zip(t.shape, data.shape, strict=True)):
        raise MILError(f"data of shape {list(data.shape)} does not match {t}")
    expected = t.dtype.np_dtype
    if expected is None:
        if data.dtype.kind not in "OU":
            raise MILError(f"string tensor data must be an object or str array, got numpy {data.dtype}")
    elif data.dtype != expected:
        raise MILError(f"{t} data must be held as numpy {expected}, got {data.dtype}")


def data_equal(a: Any, b: Any) -> bool:
    """Deep equality of literal data; floats compare bitwise except that any NaN equals any NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.asarray(a), np.asarray(b)
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        if x.dtype.kind == "f":
            both_nan = np.isnan(x) & np.isnan(y)
            same = (x == y) & (np.signbit(x) == np.signbit(y))
            return bool(np.all(same | both_nan))
        return bool(np.array_equal(x, y))
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(data_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(data_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b
