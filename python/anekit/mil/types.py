"""MIL value types: element dtypes, tensors, states and the composite types of attributes.

All type objects are immutable and hashable, so they compare structurally and can be shared freely between
programs (no global mutable state). Element dtypes are interned: ``dtype("fp16") is FP16``.

Reference: docs/internals/mil-format.md §5 (element and composite types) and §9.4 (blob dtype codes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..errors import MILError

__all__ = [
    "BOOL",
    "DTYPES",
    "FP16",
    "FP32",
    "INT32",
    "STRING",
    "UINT64",
    "DType",
    "DictType",
    "Dim",
    "ListType",
    "StateType",
    "TensorType",
    "TupleType",
    "Type",
    "dtype",
    "tensor",
]


@dataclass(frozen=True)
class DType:
    """A MIL element type.

    Attributes:
        name: the name exactly as MIL text spells it (``fp16``, ``int32``, ``uint1`` ...).
        bits: storage width in bits (sub-byte types are packed LSB first in weight blobs).
        kind: ``"float"``, ``"int"``, ``"uint"``, ``"bool"`` or ``"string"``.
        np_dtype: the numpy dtype used to hold unpacked values (``None`` for ``string``). Sub-byte integers
            are held in ``int8``/``uint8``; ``bf16`` and the fp8 types are held in ``float32``.
        exact_np: whether ``np_dtype`` stores the type exactly at its own width (False for sub-byte, bf16, fp8).
    """

    name: str
    bits: int
    kind: str
    np_dtype: np.dtype | None
    exact_np: bool = True

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def is_int(self) -> bool:
        """True for signed and unsigned integer types (not bool)."""
        return self.kind in ("int", "uint")

    @property
    def is_signed(self) -> bool:
        return self.kind in ("int", "float")

    @property
    def is_subbyte(self) -> bool:
        return self.bits < 8

    def __repr__(self) -> str:
        return f"DType({self.name})"

    def __str__(self) -> str:
        return self.name


def _d(name: str, bits: int, kind: str, np_name: str | None, exact: bool = True) -> DType:
    return DType(name, bits, kind, np.dtype(np_name) if np_name else None, exact)


#: Every element type anekit knows, by MIL name. Insertion order is stable and meaningful only for display.
DTYPES: dict[str, DType] = {
    d.name: d
    for d in (
        _d("fp16", 16, "float", "float16"),
        _d("fp32", 32, "float", "float32"),
        _d("fp64", 64, "float", "float64"),
        _d("bf16", 16, "float", "float32", exact=False),
        _d("fp8e4m3", 8, "float", "float32", exact=False),
        _d("fp8e5m2", 8, "float", "float32", exact=False),
        _d("int4", 4, "int", "int8", exact=False),
        _d("int8", 8, "int", "int8"),
        _d("int16", 16, "int", "int16"),
        _d("int32", 32, "int", "int32"),
        _d("int64", 64, "int", "int64"),
        _d("uint1", 1, "uint", "uint8", exact=False),
        _d("uint2", 2, "uint", "uint8", exact=False),
        _d("uint3", 3, "uint", "uint8", exact=False),
        _d("uint4", 4, "uint", "uint8", exact=False),
        _d("uint6", 6, "uint", "uint8", exact=False),
        _d("uint8", 8, "uint", "uint8"),
        _d("uint16", 16, "uint", "uint16"),
        _d("uint32", 32, "uint", "uint32"),
        _d("uint64", 64, "uint", "uint64"),
        _d("bool", 8, "bool", "bool"),
        _d("string", 0, "string", None),
    )
}

FP16 = DTYPES["fp16"]
FP32 = DTYPES["fp32"]
INT32 = DTYPES["int32"]
BOOL = DTYPES["bool"]
STRING = DTYPES["string"]
UINT64 = DTYPES["uint64"]

_NUMPY_TO_MIL = {
    np.dtype("float16"): "fp16",
    np.dtype("float32"): "fp32",
    np.dtype("float64"): "fp64",
    np.dtype("int8"): "int8",
    np.dtype("int16"): "int16",
    np.dtype("int32"): "int32",
    np.dtype("int64"): "int64",
    np.dtype("uint8"): "uint8",
    np.dtype("uint16"): "uint16",
    np.dtype("uint32"): "uint32",
    np.dtype("uint64"): "uint64",
    np.dtype("bool"): "bool",
}


#: Other spellings of MIL element types: numpy/PyTorch names (``float16``, ``half``, ``bfloat16`` ...). Only
#: unambiguous ones: plain ``"float"`` is left out (numpy reads it as float64, C and Metal as 32 bits).
DTYPE_ALIASES: dict[str, str] = {
    "float16": "fp16",
    "half": "fp16",
    "float32": "fp32",
    "single": "fp32",
    "float64": "fp64",
    "double": "fp64",
    "bfloat16": "bf16",
}


def _torch_dtype_name(value: object) -> str | None:
    """``"float16"`` for ``torch.float16`` (recognised without importing torch), else None."""
    if type(value).__module__ == "torch" and type(value).__name__ == "dtype":
        return str(value).removeprefix("torch.")
    return None


def dtype(value: str | DType | np.dtype | type) -> DType:
    """Return the interned :class:`DType` for a MIL name, a ``DType``, a numpy dtype or a PyTorch dtype.

    Names may be MIL's (``"fp16"``) or numpy's and PyTorch's (``"float16"``, ``"half"``; see
    :data:`DTYPE_ALIASES`); ``np.float16`` and ``torch.float16`` work too.

    Raises:
        MILError: the name is not a MIL element type, or the numpy dtype has no MIL equivalent.
    """
    if isinstance(value, DType):
        return value
    torch_name = _torch_dtype_name(value)
    if torch_name is not None:
        value = torch_name
    if isinstance(value, str):
        found = DTYPES.get(value) or DTYPES.get(DTYPE_ALIASES.get(value, ""))
        if found is None:
            raise MILError(
                f"unknown dtype {value!r}; expected a MIL name ({', '.join(DTYPES)}) or one of "
                f"{', '.join(DTYPE_ALIASES)}"
            )
        return found
    try:
        np_dt = np.dtype(value)
    except TypeError as exc:
        raise MILError(f"cannot interpret {value!r} as a MIL dtype") from exc
    if np_dt.kind in ("U", "S", "O"):
        return STRING
    name = _NUMPY_TO_MIL.get(np_dt)
    if name is None:
        raise MILError(f"numpy dtype {np_dt} has no MIL equivalent")
    return DTYPES[name]


#: A tensor dimension: a non-negative int, or ``None`` for an unknown (``?``) dimension.
Dim = int | None
#: Largest dimension a tensor type may have: MIL's protobuf stores dimensions as uint64
#: (``MILSpec.Dimension.ConstantDimension.size``), and numpy shapes (hence every array, surface and blob anekit
#: makes of a type) are signed 64-bit; a larger dimension could never be allocated or described.
MAX_DIM = 2**63 - 1


@dataclass(frozen=True)
class TensorType:
    """``tensor<dtype, [d0, d1, ...]>``; rank 0 is a scalar. ``None`` dims print as ``?``."""

    dtype: DType
    shape: tuple[Dim, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.dtype, DType):
            object.__setattr__(self, "dtype", dtype(self.dtype))
        shape = tuple(self.shape)
        for d in shape:
            if d is not None and (not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 0):
                raise MILError(f"tensor dimension must be a non-negative int or None (?), got {d!r}")
            if d is not None and d > MAX_DIM:
                raise MILError(f"tensor dimension {d} is larger than the largest MIL dimension, 2**63 - 1")
        object.__setattr__(self, "shape", tuple(None if d is None else int(d) for d in shape))

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_scalar(self) -> bool:
        return not self.shape

    @property
    def is_static(self) -> bool:
        return all(d is not None for d in self.shape)

    @property
    def numel(self) -> int | None:
        """Number of elements, or ``None`` when a dimension is unknown."""
        n = 1
        for d in self.shape:
            if d is None:
                return None
            n *= d
        return n

    def with_shape(self, shape: Iterable[Dim]) -> TensorType:
        return TensorType(self.dtype, tuple(shape))

    def with_dtype(self, new: str | DType) -> TensorType:
        return TensorType(dtype(new), self.shape)

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"tensor<{self.dtype.name}, [{dims}]>"


@dataclass(frozen=True)
class StateType:
    """``state<tensor<...>>``: an iOS18 stateful function parameter."""

    wrapped: TensorType

    def __str__(self) -> str:
        return f"state<{self.wrapped}>"


@dataclass(frozen=True)
class ListType:
    """``list<T, N>`` (``N`` is ``None`` for ``?``); appears only inside attributes."""

    elem: Type
    length: int | None

    def __str__(self) -> str:
        return f"list<{self.elem}, {'?' if self.length is None else self.length}>"


@dataclass(frozen=True)
class TupleType:
    """``tuple<T0, T1, ...>``; appears only inside attributes."""

    elems: tuple[Type, ...]

    def __str__(self) -> str:
        return "tuple<" + ", ".join(str(e) for e in self.elems) + ">"


@dataclass(frozen=True)
class DictType:
    """``dict<K, V>``; appears in buildInfo and FlexibleShapeInformation."""

    key: Type
    value: Type

    def __str__(self) -> str:
        return f"dict<{self.key}, {self.value}>"


Type = TensorType | StateType | ListType | TupleType | DictType


def tensor(shape: Iterable[Dim], dt: str | DType = "fp16") -> TensorType:
    """Convenience constructor: ``tensor((1, 768, 1, 256), "fp16")``.

    Args:
        shape: dimensions; use ``None`` (or the string ``"?"``) for an unknown dimension.
        dt: element type name or :class:`DType`.
    """
    if isinstance(shape, (int, np.integer)):
        raise MILError(f"tensor shape must be a sequence of dims, got the int {shape!r}")
    dims = tuple(None if d == "?" else d for d in shape)
    return TensorType(dtype(dt), dims)
