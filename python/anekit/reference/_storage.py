"""How the reference executor holds values: the precision policy and input checking.

Every value is held as a numpy array in a representation chosen by the run's precision
(docs/internals/architecture.md §7, docs/internals/mil-format.md §10.10):

* ``"ane"``: float values are float32 arrays; fp16-typed values are rounded to the fp16 grid whenever they are
  stored (after each op, at function inputs, for literals), fp32-typed values are plain float32 —
  "compute in fp32, store fp16", as on the device;
* ``"fp32"`` / ``"fp64"``: every float value (fp16 or fp32 typed) is held unrounded in float32 / float64, so
  the same graph shows what fp16 storage costs;
* integer and bool values are held in their own numpy dtype (sub-byte integers unpacked to int8/uint8), strings
  as Python ``str``, in every precision.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..mil.types import DType, StateType, TensorType, Type
from ._fp16 import round_fp16

__all__ = ["PRECISIONS", "Storage", "StoreFn", "check_inputs"]

#: A prepared conversion of one type's values into storage (see :meth:`Storage.storer`).
StoreFn = Callable[[Any], Any]

#: The accepted ``precision`` arguments.
PRECISIONS: tuple[str, ...] = ("ane", "fp32", "fp64")


class Storage:
    """Converts values into (and out of) the executor's representation for one precision.

    Args:
        precision: ``"ane"``, ``"fp32"`` or ``"fp64"``.

    Raises:
        ValueError: unknown precision.
    """

    __slots__ = ("float_dtype", "fp16_grid", "precision")

    def __init__(self, precision: str) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
        self.precision = precision
        self.float_dtype = np.dtype(np.float64 if precision == "fp64" else np.float32)
        self.fp16_grid = precision == "ane"

    def is_rounded(self, t: Type) -> bool:
        """Whether values of type ``t`` are rounded to fp16 when stored."""
        return self.fp16_grid and isinstance(t, TensorType) and t.dtype.name == "fp16"

    def store(self, value: Any, t: Type, *, already_on_grid: bool = False) -> Any:
        """``value`` in the representation of type ``t`` (see the module docstring).

        Args:
            value: an array-like, a Python scalar/str, or a tuple (composite values pass through).
            t: the declared MIL type.
            already_on_grid: the float values are known to be fp16-representable (skip the rounding).
        """
        return self.storer(t, already_on_grid=already_on_grid)(value)

    def storer(self, t: Type, *, already_on_grid: bool = False) -> StoreFn:
        """The conversion :meth:`store` applies for type ``t``, with every decision that depends only on the
        type (and the precision) made here, once: the executor prepares one per op output and calls it per run.

        Args:
            t: the declared MIL type.
            already_on_grid: the float values are known to be fp16-representable (skip the rounding).
        """
        if isinstance(t, StateType):
            t = t.wrapped
        if not isinstance(t, TensorType):
            return _unchanged
        dt = t.dtype
        target = dt.np_dtype
        if target is None:  # string
            return _as_str
        if dt.is_float:
            float_dtype = self.float_dtype
            if already_on_grid or not self.is_rounded(t):
                return functools.partial(np.asarray, dtype=float_dtype)

            def store_fp16(value: Any) -> np.ndarray:
                arr = np.asarray(value, dtype=float_dtype)
                # float16 data (weights, literals) is on the fp16 grid by construction: only widen it.
                if isinstance(value, np.ndarray) and value.dtype == np.float16:
                    return arr
                return round_fp16(arr)

            return store_fp16

        def store_int_or_bool(value: Any) -> np.ndarray:
            arr = np.asarray(value)
            return arr if arr.dtype == target else _to_int_or_bool(arr, dt)

        return store_int_or_bool

    def export(self, value: Any, t: Type) -> Any:
        """A stored value as handed to the user: fp16-typed values as ``np.float16`` for ``"ane"`` (exact,
        they are on the grid), other floats in the compute dtype, everything else unchanged. Arrays are always
        fresh copies, so a caller modifying a result can never alter the executor's cached constants."""
        if isinstance(t, StateType):
            t = t.wrapped
        if not isinstance(value, np.ndarray):
            return value
        if self.is_rounded(t):
            return value.astype(np.float16)
        return np.array(value, copy=True)


def _unchanged(value: Any) -> Any:
    """Non-tensor values (tuples and other composites) are stored as they are."""
    return value


def _as_str(value: Any) -> str:
    """A string-typed value as Python ``str``."""
    return value if isinstance(value, str) else str(np.asarray(value).reshape(()).item())


def _to_int_or_bool(arr: np.ndarray, dt: DType) -> np.ndarray:
    """Integer/bool storage of a kernel result or literal (float sources truncate toward zero)."""
    target = dt.np_dtype
    assert target is not None  # callers exclude strings
    if dt.kind == "bool":
        return arr != 0 if arr.dtype != np.bool_ else arr
    if arr.dtype.kind == "f":
        info = np.iinfo(target)
        with np.errstate(invalid="ignore"):
            t = np.trunc(np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=info.max, neginf=info.min))
        return np.clip(t, info.min, info.max).astype(target)
    return arr.astype(target)


def check_inputs(declared: Mapping[str, Type], given: Mapping[str, Any], function_name: str) -> dict[str, np.ndarray]:
    """Validate user inputs against a function signature and return them as numpy arrays.

    Checks names (missing and unexpected), ranks and static dimensions (``None`` dims accept any size), and
    that each value converts to the declared dtype without loss of kind: float inputs accept bool, int and
    float data; integer inputs accept integer data, or floats that are whole numbers in range; bool inputs
    accept bools, or integers that are 0/1.

    Raises:
        ValueError: with a message naming the input and what was expected.
    """
    if not isinstance(given, Mapping):
        raise ValueError(f"inputs must be a dict of name -> array, got {type(given).__name__}")
    missing = [n for n in declared if n not in given]
    extra = [n for n in given if n not in declared]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        raise ValueError(
            f"inputs of function {function_name!r} do not match its signature: {'; '.join(parts)} "
            f"(expected exactly {list(declared)})"
        )
    out: dict[str, np.ndarray] = {}
    for name, t in declared.items():
        tt = t.wrapped if isinstance(t, StateType) else t
        if not isinstance(tt, TensorType):
            raise ValueError(f"input {name!r} has type {t}, which the reference executor cannot take")
        try:
            arr = np.asarray(given[name])
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"input {name!r}: cannot convert {type(given[name]).__name__} to an array ({exc})"
            ) from None
        if arr.ndim != tt.rank or any(d is not None and d != s for d, s in zip(tt.shape, arr.shape, strict=True)):
            raise ValueError(f"input {name!r} has shape {list(arr.shape)}; expected {tt} (? = any size)")
        _check_kind(name, arr, tt.dtype)
        out[name] = arr
    return out


def _check_kind(name: str, arr: np.ndarray, dt: DType) -> None:
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise ValueError(f"input {name!r} has numpy dtype {arr.dtype}; expected data convertible to {dt.name}")
    if dt.is_float:
        return
    if dt.kind == "bool":
        if kind != "b" and not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"input {name!r} must hold booleans (or 0/1) for type bool, got dtype {arr.dtype}")
        return
    assert dt.np_dtype is not None  # integer types have one
    info = np.iinfo(dt.np_dtype)
    if kind == "f" and not np.all(np.isfinite(arr) & (arr == np.trunc(arr))):
        raise ValueError(f"input {name!r} holds non-integer floats; expected {dt.name} data")
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise ValueError(f"input {name!r} has values outside the {dt.name} range [{info.min}, {info.max}]")
