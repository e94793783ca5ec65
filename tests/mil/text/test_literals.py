"""Typed literal conversion: shapes, dtype ranges, composites; the scalar fast path equals the general path."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from anekit.mil.text.literals import LiteralError, Pairs, _check_elements, convert, convert_scalar
from anekit.mil.types import DTYPES, DictType, ListType, TensorType, TupleType, tensor

_SCALAR_DTYPES = [d for d in DTYPES.values() if d.kind != "string"]


def _general(lit: Any, name: str) -> Any:
    try:
        return _check_elements([lit], DTYPES[name]).reshape(())
    except (LiteralError, OverflowError) as exc:
        return type(exc), str(exc)


def _fast(lit: Any, name: str) -> Any:
    try:
        return convert_scalar(lit, DTYPES[name])
    except (LiteralError, OverflowError) as exc:
        return type(exc), str(exc)


@given(
    st.sampled_from([d.name for d in _SCALAR_DTYPES]),
    st.one_of(
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
        st.text(max_size=3),
    ),
)
def test_scalar_fast_path_equals_general_path(name: str, lit: Any) -> None:
    a, b = _fast(lit, name), _general(lit, name)
    if isinstance(b, tuple):
        assert a == b
        return
    assert isinstance(a, np.ndarray) and a.shape == () and a.dtype == b.dtype
    assert a.tobytes() == b.tobytes()


def test_tensor_literals() -> None:
    assert convert(3, TensorType(DTYPES["int8"], ())).dtype == np.int8
    assert convert([[1, 2], [3, 4]], tensor((2, 2), "int32")).tolist() == [[1, 2], [3, 4]]
    assert convert([], tensor((0, 3), "fp16")).shape == (0, 3)
    assert convert("s", TensorType(DTYPES["string"], ())) == "s"
    for lit, t, msg in [
        (128, TensorType(DTYPES["int8"], ()), "out of range"),
        (True, TensorType(DTYPES["int32"], ()), "must hold numbers"),
        (1.5, TensorType(DTYPES["int32"], ()), "must hold integers"),
        (1, TensorType(DTYPES["bool"], ()), "true/false"),
        ([1], TensorType(DTYPES["int32"], ()), "expected a scalar"),
        ([1, 2], tensor((3,), "int32"), "shape"),
        ([[1], [2, 3]], tensor((2, None), "int32"), "ragged"),
    ]:
        with pytest.raises(LiteralError, match=msg):
            convert(lit, t)


def test_composite_literals() -> None:
    s = TensorType(DTYPES["string"], ())
    assert convert(("a", 1), TupleType((s, TensorType(DTYPES["int32"], ())))) == ("a", np.int32(1))
    assert convert(["a", "b"], ListType(s, 2)) == ["a", "b"]
    assert convert(Pairs([("k", "v")]), DictType(s, s)) == {"k": "v"}
    with pytest.raises(LiteralError, match="duplicate dict key"):
        convert(Pairs([("k", "v"), ("k", "w")]), DictType(s, s))
