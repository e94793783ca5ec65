"""Constant promotion for the builder: Python/numpy values -> typed :class:`~anekit.mil.values.Value` objects.

One :class:`ConstMaker` per :class:`~anekit.mil.builder.builder.Builder` (no shared state). It applies the typing rule
of :func:`~anekit.mil.check.python_to_array` (numpy dtypes kept except float64 -> fp32 and int64 -> int32;
Python numbers take a float peer's dtype), the ``dtype=`` override of ``Builder.const`` and coremltools'
weight-file threshold (:func:`~anekit.mil.check.should_use_blob`, docs/internals/mil-format.md §7.2), and memoises the
typing work: numpy arrays by dtype and shape (:attr:`ConstMaker.array_types`), immutable literals (Python and
numpy scalars, strings, a spec's own default objects) by value (:func:`~anekit.mil.check.literal_key`).

numpy arrays are held by reference as read-only views, never copied (weights can be hundreds of MB). An array
passed several times gets the same view each time (:meth:`ConstMaker.frozen`), so the consts share one data
object and the builder's inference memo recognises repeated shape vectors by identity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import MILError
from ..check import literal_key, python_to_array, should_use_blob
from ..ops._spec import InputSpec
from ..types import DType, TensorType, dtype
from ..values import Value

__all__ = ["PEERLESS", "ConstMaker", "peerless_key"]


#: Values whose const type never depends on a peer input (python_to_array), so their literal key needs none.
PEERLESS = (str, np.ndarray, np.generic)


def peerless_key(val: Any) -> Any:
    """:func:`~anekit.mil.check.literal_key` of a string or numeric numpy scalar; None for anything else."""
    t = type(val)
    if t is str:
        return (t, val)
    if isinstance(val, np.generic) and val.dtype.kind in "biuf" and val.dtype != np.float64:
        # float64 scalars are excluded: they follow the op's compute dtype (check.follow_dtype).
        return (t, val.tobytes())
    return None


class ConstMaker:
    """Typed const values for one builder's opset.

    Attributes:
        opset: the builder's opset (the weight-file dtypes depend on it).
        array_types: ``(numpy dtype, shape) -> (type, storage)`` of the arrays that the typing rule keeps
            unchanged; the builder reads it directly on its hot path (weights, shape vectors).
        literals: ``key -> (type, read-only data, storage)`` of the literals typed so far (see :meth:`literal`);
            also read directly by the builder.
    """

    __slots__ = ("_type_cache", "_views", "array_types", "literals", "opset")

    def __init__(self, opset: str) -> None:
        self.opset = opset
        self.array_types: dict[tuple[np.dtype, tuple[int, ...]], tuple[TensorType, str]] = {}
        self._type_cache: dict[Any, TensorType] = {}  # (numpy dtype, shape) -> TensorType, for python_to_array
        # literal_key(...) or a caller's key -> (type, read-only data, storage) of the converted literal.
        self.literals: dict[Any, tuple[TensorType, Any, str]] = {}
        # id(writeable array) -> (the array, its read-only view); holding the array keeps its id unique.
        self._views: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def frozen(self, arr: np.ndarray) -> np.ndarray:
        """``arr`` when it is read-only, else this builder's read-only view of it (one view per array)."""
        if not arr.flags.writeable:
            return arr
        found = self._views.get(id(arr))
        if found is not None and found[0] is arr:
            view = found[1]
            # An array's shape, strides and dtype can be reassigned in place: the view must still match.
            if view.shape == arr.shape and view.strides == arr.strides and view.dtype == arr.dtype:
                return view
        view = arr.view()
        view.flags.writeable = False
        self._views[id(arr)] = (arr, view)
        return view

    def array_value(self, arr: np.ndarray) -> Value | None:
        """``arr`` as a Value when an array of its dtype and shape was typed before (else None)."""
        hit = self.array_types.get((arr.dtype, arr.shape))
        if hit is None:
            return None
        return Value.trusted(hit[0], self.frozen(arr), hit[1])

    def value(
        self,
        val: Any,
        *,
        dt: str | DType | None = None,
        blob: bool | None = None,
        blob_path: str | None = None,
        spec: InputSpec | None = None,
        peer: DType | None = None,
        follow: DType | None = None,
    ) -> Value:
        """Type ``val`` as a const Value.

        Args:
            val: Python scalar/str/list or numpy array/scalar.
            dt: force this MIL dtype (values must fit it).
            blob: force weight-file (True) or inline (False) storage; None applies the §7.2 threshold.
            blob_path: ``@model_path/…`` file for blob storage (None: the default weight file).
            spec: the op input the value is bound to (its dtype domain types Python floats).
            peer: the dtype of the input ``spec`` shares its dtype with, if bound.
            follow: the op's compute dtype for untyped floats (:func:`~anekit.mil.check.follow_dtype`).

        Raises:
            MILError: the value cannot be a MIL constant, or does not fit ``dt``.
        """
        plain = dt is None and blob is None and blob_path is None
        if plain and type(val) is np.ndarray and (found := self.array_value(val)) is not None:
            return found
        data, t = python_to_array(val, spec, peer, self._type_cache, follow)
        if dt is not None:
            data, t = _convert(data, t, dtype(dt))
        use_blob = should_use_blob(t, self.opset) if blob is None else blob
        storage = "blob" if use_blob and (blob_path is not None or t.dtype.name != "string") else "inline"
        if plain and isinstance(data, np.ndarray):
            # Data straight from python_to_array matches ``t`` by construction: skip Value's re-validation.
            if data.dtype.kind in "biuf":
                # python_to_array returns any numpy array of this (MIL-native) dtype unchanged, typed ``t``.
                self.array_types[(data.dtype, data.shape)] = (t, storage)
            return Value.trusted(t, self.frozen(data), storage)
        return Value(t, data, storage=storage, path_hint=blob_path if storage == "blob" else None)

    def literal(
        self, val: Any, spec: InputSpec, peer: DType | None, key: Any = None, follow: DType | None = None
    ) -> Value:
        """``val`` bound to op input ``spec`` as a Value, typed once per builder when it is immutable.

        Args:
            val: the Python/numpy value (not a Var or Value).
            spec: the op input.
            peer: dtype of the bound input that ``spec`` shares its dtype with (None for numpy values).
            key: a precomputed cache key (e.g. for a spec's default object), else :func:`literal_key`'s.
            follow: the op's compute dtype for untyped floats (:func:`~anekit.mil.check.follow_dtype`).
        """
        if key is None:
            key = literal_key(val, spec, peer, follow)
        hit = None if key is None else self.literals.get(key)
        if hit is not None:
            return Value.trusted(*hit)
        value = self.value(val, spec=spec, peer=peer, follow=follow)
        if key is not None:
            # Immutable inputs only (see literal_key): the same literal always converts the same way.
            self.literals[key] = (value.type, value._data, value.storage)
        return value


def _convert(data: Any, t: TensorType, target: DType) -> tuple[Any, TensorType]:
    """``data`` of type ``t`` converted to the MIL dtype ``target`` (``Builder.const(..., dtype=...)``)."""
    if target == t.dtype:
        return data, t
    arr = np.asarray(data)
    if target.np_dtype is None:
        raise MILError(f"cannot convert {t} data to {target.name}")
    if target.is_int and arr.dtype.kind == "f" and not np.all(np.mod(arr, 1) == 0):
        raise MILError(f"values {arr!r} are not integers, cannot make a {target.name} const")
    if target.is_int:
        lo = -(1 << (target.bits - 1)) if target.kind == "int" else 0
        hi = (1 << (target.bits - 1)) - 1 if target.kind == "int" else (1 << target.bits) - 1
        if arr.size and (arr.min() < lo or arr.max() > hi):
            raise MILError(f"values in [{arr.min()}, {arr.max()}] do not fit {target.name}")
    return arr.astype(target.np_dtype), TensorType(target, t.shape)
