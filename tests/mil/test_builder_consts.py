"""ConstMaker: the const-promotion rule, the §7.2 storage threshold, dtype overrides and per-builder caches."""

from __future__ import annotations

import numpy as np
import pytest

from anekit.errors import MILError
from anekit.mil import tensor
from anekit.mil.builder_consts import PEERLESS, ConstMaker, peerless_key
from anekit.mil.check import literal_key
from anekit.mil.ops._spec import InputSpec
from anekit.mil.types import FP16, TensorType


def test_typing_rule_and_storage() -> None:
    cm = ConstMaker("ios18")
    assert cm.value(1.5).type == TensorType("fp32", ())
    assert cm.value(7).type == TensorType("int32", ())
    assert cm.value(np.arange(3)).type == tensor((3,), "int32")  # int64 -> int32
    assert cm.value(np.zeros(2)).type == tensor((2,), "fp32")  # float64 -> fp32
    assert cm.value("valid").type == TensorType("string", ())
    assert cm.value(np.zeros(10, np.int32)).storage == "blob"  # iOS18 stores int32 blobs
    assert ConstMaker("ios17").value(np.zeros(10, np.int32)).storage == "inline"
    assert cm.value(np.zeros(9, np.float16)).storage == "inline"
    assert cm.value(np.zeros(3, np.float16), blob=True).storage == "blob"
    v = cm.value(np.zeros(3, np.float16), blob=True, blob_path="@model_path/weights/w2.bin")
    assert v.path_hint == "@model_path/weights/w2.bin"
    with pytest.raises(MILError, match="cannot make a constant"):
        cm.value(object())


def test_dtype_override_checks_the_values() -> None:
    cm = ConstMaker("ios18")
    assert cm.value([0.5, 1.0], dt="fp16").type == tensor((2,), "fp16")
    assert cm.value(np.array([1, 15], np.uint8), dt="uint4").type == tensor((2,), "uint4")
    with pytest.raises(MILError, match="do not fit uint4"):
        cm.value(np.array([16], np.uint8), dt="uint4")
    with pytest.raises(MILError, match="are not integers"):
        cm.value([0.5], dt="int8")
    with pytest.raises(MILError, match="cannot convert"):
        cm.value(1.0, dt="string")


def test_arrays_are_shared_read_only_views() -> None:
    cm = ConstMaker("ios18")
    w = np.ones((4, 4), np.float16)
    first = cm.value(w)
    again = cm.array_value(w)
    assert again is not None and again.type is first.type
    assert again._data is first._data  # one view per array: repeated inputs share it
    assert first._data.base is w and not first._data.flags.writeable
    assert w.flags.writeable  # the caller's array is untouched
    frozen = np.zeros(3, np.int32)
    frozen.flags.writeable = False
    assert cm.frozen(frozen) is frozen
    assert cm.array_value(np.ones((5, 5), np.float16)) is None  # this dtype/shape was never typed


def test_literals_are_typed_once_per_input_and_peer() -> None:
    cm = ConstMaker("ios18")
    y = InputSpec("y", ("fp16", "fp32"), same_dtype_as="x")
    half = cm.literal(0.5, y, FP16)
    assert half.type == TensorType("fp16", ())
    assert cm.literal(0.5, y, FP16)._data is half._data  # cached
    assert cm.literal(0.5, y, None).type == TensorType("fp32", ())  # another peer: another entry
    assert cm.literal(True, y, None).type == TensorType("bool", ())  # True == 1 == 1.0, but not the same key
    lst = [1.0, 2.0]
    assert cm.literal(lst, y, FP16).type == tensor((2,), "fp16")
    lst.append(3.0)  # lists are never cached: a changed list is typed again
    assert cm.literal(lst, y, FP16).type == tensor((3,), "fp16")


@pytest.mark.parametrize("val", ["valid", np.float16(0.5), np.int32(-1), np.bool_(True), 1.0, 1, True, [1]])
def test_peerless_key_is_literal_key_without_a_peer(val: object) -> None:
    spec = InputSpec("y", ("fp16", "fp32"))
    if isinstance(val, PEERLESS):
        assert peerless_key(val) == literal_key(val, spec, FP16) == literal_key(val, spec, None)
    else:
        assert peerless_key(val) is None  # Python numbers take the peer's dtype: their key needs it


def test_a_reshaped_array_gets_a_matching_view() -> None:
    cm = ConstMaker("ios18")
    a = np.arange(4, dtype=np.int32)
    first = cm.value(a)
    a.shape = (2, 2)  # reassigned in place: the cached view no longer describes the array
    again = cm.value(a)
    assert again.type == tensor((2, 2), "int32") and again._data.shape == (2, 2)
    assert first._data.shape == (4,)
