"""Typed conversion of parsed literals (docs/internals/mil-format.md §6) into :class:`~anekit.mil.values.Value` data.

The parser reads literals generically: Python ``int``/``float``/``bool``/``str`` scalars, ``list`` for
``[…]``, ``tuple`` for ``(…)`` and :class:`Pairs` for dict literals ``{{k, v}, …}``. :func:`convert` then
checks them against the declared type and produces the data representation of ``Value``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..types import DictType, DType, ListType, StateType, TensorType, TupleType, Type

__all__ = ["LiteralError", "Pairs", "convert", "convert_scalar"]


class LiteralError(Exception):
    """A literal that does not match its declared type (the parser adds the position)."""


class Pairs(list):
    """A parsed dict literal: a list of ``(key, value)`` pairs, kept in text order."""


def _nested_shape(lit: Any, declared: tuple[int | None, ...]) -> tuple[int, ...]:
    shape: list[int] = []
    cur = lit
    for _ in declared:
        if not isinstance(cur, list):
            raise LiteralError(f"expected {len(declared)} levels of brackets, found {len(shape)}")
        shape.append(len(cur))
        if not cur:
            break
        cur = cur[0]
    # Below an empty level the text cannot show the remaining dims (``[]`` for shape [0, 3]): take them from
    # the declared type (0 where unknown).
    shape.extend(d or 0 for d in declared[len(shape) :])
    return tuple(shape)


def _flatten(lit: Any, shape: tuple[int, ...], out: list[Any]) -> None:
    if shape and shape[0] == 0:
        if lit != []:
            raise LiteralError("expected [] for an empty dimension")
        return
    if not shape:
        if isinstance(lit, list):
            raise LiteralError("too many levels of brackets")
        out.append(lit)
        return
    if not isinstance(lit, list) or len(lit) != shape[0]:
        raise LiteralError(f"ragged tensor literal: expected {shape[0]} elements at a bracket level")
    for x in lit:
        _flatten(x, shape[1:], out)


def _check_elements(flat: list[Any], d: DType) -> np.ndarray:
    if d.kind == "string":
        if not all(isinstance(x, str) for x in flat):
            raise LiteralError(f"{d.name} literal must hold strings")
        return np.array(flat, dtype=object)
    if d.kind == "bool":
        if not all(isinstance(x, bool) for x in flat):
            raise LiteralError("bool literal must hold true/false")
        return np.array(flat, dtype=np.bool_)
    if any(isinstance(x, (bool, str)) for x in flat):
        raise LiteralError(f"{d.name} literal must hold numbers")
    if d.kind == "float":
        arr = np.array(flat, dtype=np.float64)
        with np.errstate(over="ignore"):
            return arr.astype(d.np_dtype)
    if not all(isinstance(x, int) for x in flat):
        raise LiteralError(f"{d.name} literal must hold integers")
    lo, hi = (-(1 << (d.bits - 1)), (1 << (d.bits - 1)) - 1) if d.kind == "int" else (0, (1 << d.bits) - 1)
    for x in flat:
        if x < lo or x > hi:
            raise LiteralError(f"{x} is out of range for {d.name} ({lo}..{hi})")
    return np.array(flat, dtype=d.np_dtype)


def convert_scalar(lit: Any, d: DType) -> np.ndarray:
    """A rank-0 literal of a non-string dtype ``d`` as a 0-d array (``convert`` for a scalar type, faster).

    Raises:
        LiteralError: ``lit`` is not a value of ``d`` (wrong kind of literal, or out of range).
    """
    lt = type(lit)
    if d.kind == "int" or d.kind == "uint":
        if lt is int:  # the common case: one range check, no list
            lo, hi = (-(1 << (d.bits - 1)), (1 << (d.bits - 1)) - 1) if d.kind == "int" else (0, (1 << d.bits) - 1)
            if lit < lo or lit > hi:
                raise LiteralError(f"{lit} is out of range for {d.name} ({lo}..{hi})")
            return np.array(lit, dtype=d.np_dtype)
    elif d.kind == "bool":
        if lt is bool:
            return np.array(lit, dtype=np.bool_)
    elif d.kind == "float" and (lt is float or lt is int):
        with np.errstate(over="ignore"):
            return np.array(lit, dtype=np.float64).astype(d.np_dtype)
    return _check_elements([lit], d).reshape(())  # everything else, including the errors


def _tensor(lit: Any, t: TensorType) -> Any:
    d = t.dtype
    if t.rank == 0:
        if isinstance(lit, (list, tuple)):
            raise LiteralError(f"expected a scalar for {t}, got a bracketed literal")
        if d.kind == "string":
            if not isinstance(lit, str):
                raise LiteralError(f"expected a string for {t}")
            return lit
        return convert_scalar(lit, d)
    shape = _nested_shape(lit, t.shape)
    for declared, got in zip(t.shape, shape, strict=True):
        if declared is not None and declared != got:
            raise LiteralError(f"literal has shape {list(shape)}, but the type declares {t}")
    flat: list[Any] = []
    _flatten(lit, shape, flat)
    return _check_elements(flat, d).reshape(shape)


def _key(data: Any) -> Any:
    if isinstance(data, np.ndarray):
        if data.ndim:
            raise LiteralError("dict keys must be scalars")
        return data.item()
    if isinstance(data, (list, dict)):
        raise LiteralError("dict keys must be scalars")
    return data


def convert(lit: Any, t: Type) -> Any:
    """Check literal ``lit`` against ``t`` and return the value data.

    Raises:
        LiteralError: shape, dtype, range or structure mismatch.
    """
    if isinstance(t, TensorType):
        return _tensor(lit, t)
    if isinstance(t, TupleType):
        if not isinstance(lit, tuple) or len(lit) != len(t.elems):
            raise LiteralError(f"expected a tuple of {len(t.elems)} elements for {t}")
        return tuple(convert(x, e) for x, e in zip(lit, t.elems, strict=True))
    if isinstance(t, ListType):
        if not isinstance(lit, list) or (t.length is not None and len(lit) != t.length):
            raise LiteralError(f"expected a list literal for {t}")
        return [convert(x, t.elem) for x in lit]
    if isinstance(t, DictType):
        if not isinstance(lit, Pairs):
            raise LiteralError(f"expected a dict literal {{{{k, v}}, …}} for {t}")
        out: dict[Any, Any] = {}
        for k, v in lit:
            key = _key(convert(k, t.key))
            if key in out:
                raise LiteralError(f"duplicate dict key {key!r}")
            out[key] = convert(v, t.value)
        return out
    if isinstance(t, StateType):
        raise LiteralError("state types have no literals")
    raise LiteralError(f"unsupported literal type {t!r}")
