"""InferMemo: reused results only for the same spec, types and read values; failures never stored."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from anekit.errors import MILError
from anekit.mil import Builder, tensor
from anekit.mil.infer_memo import MAX_RESULTS_PER_KEY, InferMemo, same_data
from anekit.mil.ops._context import StaticContext
from anekit.mil.ops._spec import InferContext, InputSpec, OpSpec
from anekit.mil.types import TensorType, Type


class _Counting(OpSpec):
    """``y = x`` reshaped to the value of ``shape``; counts its calls and the names it was asked about."""

    op_type = "counting"
    inputs = (InputSpec("x"), InputSpec("shape", optional=True), InputSpec("flag", optional=True))
    calls: ClassVar[list[str]] = []

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        cls.calls.append(ctx.op_name)
        x = ctx.type("x")
        assert isinstance(x, TensorType)
        shape = ctx.value("shape")
        if shape is None:
            return [x]
        if np.asarray(shape).size == 0:
            raise ctx.error("empty shape")
        return [TensorType(x.dtype, tuple(int(d) for d in np.asarray(shape)))]


def _ctx(name: str, types: dict[str, Any], values: dict[str, Any] | None = None) -> StaticContext:
    return StaticContext("counting", name, "ios18", types, values or {})


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    _Counting.calls.clear()


def test_same_types_and_values_are_inferred_once() -> None:
    memo = InferMemo()
    t = tensor((2, 6), "fp16")
    shape = np.array([3, 4], np.int32)
    first = memo.infer(_Counting, _ctx("a", {"x": t, "shape": tensor((2,), "int32")}, {"shape": shape}))
    # Equal data in another array object, and the same type objects: a hit.
    again = memo.infer(_Counting, _ctx("b", {"x": t, "shape": tensor((2,), "int32")}, {"shape": shape.copy()}))
    assert first == again == [tensor((3, 4), "fp16")]
    assert _Counting.calls == ["a", "b"]  # the shape type objects differ (no canonical objects): a miss
    st = tensor((2,), "int32")
    memo.infer(_Counting, _ctx("c", {"x": t, "shape": st}, {"shape": shape}))
    memo.infer(_Counting, _ctx("d", {"x": t, "shape": st}, {"shape": shape.copy()}))
    assert _Counting.calls == ["a", "b", "c"]
    assert again is not first  # every call returns a new list


def test_different_values_types_or_inputs_miss() -> None:
    memo = InferMemo()
    t, st = tensor((2, 6), "fp16"), tensor((2,), "int32")
    out1 = memo.infer(_Counting, _ctx("a", {"x": t, "shape": st}, {"shape": np.array([3, 4], np.int32)}))
    out2 = memo.infer(_Counting, _ctx("b", {"x": t, "shape": st}, {"shape": np.array([4, 3], np.int32)}))
    out3 = memo.infer(_Counting, _ctx("c", {"x": t, "shape": st}, {"shape": np.array([3, 4], np.int64)}))
    out4 = memo.infer(_Counting, _ctx("d", {"x": t}))
    out5 = memo.infer(_Counting, _ctx("e", {"x": tensor((2, 6), "fp32")}))
    assert _Counting.calls == ["a", "b", "c", "d", "e"]
    assert [o[0].shape for o in (out1, out2, out3, out4, out5)] == [(3, 4), (4, 3), (3, 4), (2, 6), (2, 6)]
    # Both recorded shapes stay usable.
    memo.infer(_Counting, _ctx("f", {"x": t, "shape": st}, {"shape": np.array([4, 3], np.int32)}))
    assert _Counting.calls[-1] == "e"


def test_values_read_through_has_and_attr_are_part_of_the_entry() -> None:
    class Probing(OpSpec):
        op_type = "probing"
        inputs = (InputSpec("x"),)

        @classmethod
        def infer(cls, ctx: InferContext) -> list[Type]:
            _Counting.calls.append(ctx.op_name)
            t = ctx.type("x")
            assert isinstance(t, TensorType)
            scale = 2 if ctx.has("hidden") else 1
            scale *= 3 if ctx.attr("axis") is not None else 1
            return [t.with_shape(d * scale for d in t.shape)]

    memo = InferMemo()
    t = tensor((2,), "fp16")

    def run(name: str, values: dict[str, Any], attrs: dict[str, Any]) -> tuple[int | None, ...]:
        return memo.infer(Probing, StaticContext("probing", name, "ios18", {"x": t}, values, attrs))[0].shape

    assert run("a", {}, {}) == (2,)
    assert run("b", {"hidden": np.int32(1)}, {}) == (4,)  # value-only input: has() looked at the values
    assert run("c", {}, {"axis": np.int32(0)}) == (6,)
    assert run("d", {}, {}) == (2,)
    assert _Counting.calls == ["a", "b", "c"]


def test_failures_are_not_stored_and_raise_from_the_spec() -> None:
    memo = InferMemo()
    t, st = tensor((2, 6), "fp16"), tensor((0,), "int32")
    for name in ("a", "b"):
        with pytest.raises(MILError, match=rf"\[counting '{name}'\] empty shape"):
            memo.infer(_Counting, _ctx(name, {"x": t, "shape": st}, {"shape": np.zeros(0, np.int32)}))
    assert _Counting.calls == ["a", "b"]


def test_tuple_inputs_are_inferred_every_time() -> None:
    class Pair(OpSpec):
        op_type = "pair"
        inputs = (InputSpec("values", is_tuple=True),)

        @classmethod
        def infer(cls, ctx: InferContext) -> list[Type]:
            _Counting.calls.append(ctx.op_name)
            return [ctx.type("values")[0]]  # type: ignore[index]

    memo = InferMemo()
    t = tensor((2,), "fp16")
    for name in ("a", "b"):
        assert memo.infer(Pair, StaticContext("pair", name, "ios18", {"values": (t, t)})) == [t]
    assert _Counting.calls == ["a", "b"]


def test_results_per_key_are_bounded() -> None:
    memo = InferMemo()
    t, st = tensor((1, 64), "fp16"), tensor((2,), "int32")
    for i in range(MAX_RESULTS_PER_KEY + 1):
        memo.infer(_Counting, _ctx(f"a{i}", {"x": t, "shape": st}, {"shape": np.array([i + 1, 64 // (i + 1)])}))
    assert len(memo._entries) == 1
    assert len(next(iter(memo._entries.values()))) == MAX_RESULTS_PER_KEY
    memo.infer(_Counting, _ctx("again", {"x": t, "shape": st}, {"shape": np.array([1, 64])}))  # the oldest: gone
    assert _Counting.calls[-1] == "again"


def test_canonical_types_and_outputs() -> None:
    memo = InferMemo()
    a, b = tensor((2, 3), "fp16"), tensor((2, 3), "fp16")
    assert memo.canonical(a) is a
    assert memo.canonical(b) is a
    out = memo.infer(_Counting, _ctx("x", {"x": b}))
    assert out[0] is a  # inferred types are canonical objects too


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (np.array([1, 2], np.int32), np.array([1, 2], np.int32), True),
        (np.array([1, 2], np.int32), np.array([1, 2], np.int64), False),
        (np.array([1, 2], np.int32), np.array([[1, 2]], np.int32), False),
        (np.array(0.0, np.float32), np.array(-0.0, np.float32), False),  # bitwise: the sign of zero counts
        (np.array(np.nan, np.float32), np.array(np.nan, np.float32), True),
        (np.array(["a"], object), np.array(["a"], object), False),  # object arrays: only the same object
        ("valid", "valid", True),
        ("valid", "same", False),
        ((np.array([1]), "x"), (np.array([1]), "x"), True),
        ((np.array([1]), "x"), (np.array([1]),), False),
        ([1], [1], False),  # lists may change: only the same object
        (np.array([1], np.int32), "1", False),
    ],
)
def test_same_data(a: Any, b: Any, same: bool) -> None:
    assert same_data(a, b) is same
    assert same_data(a, a)


def test_builder_reuses_inference_across_repeated_layers() -> None:
    mb = Builder("ios18", build_info=None)
    x = mb.input("x", tensor((1, 8, 1, 4), "fp16"))
    shape = np.array([1, 2, 4, 4], np.int32)
    for _ in range(3):
        x = mb.reshape(x=mb.relu(x=x), shape=shape)
        x = mb.reshape(x=x, shape=np.array([1, 8, 1, 4], np.int32))
    entries = mb._memo._entries
    assert sum(len(v) for v in entries.values()) == 3  # relu, and reshape to two shapes: all else were hits
    # A repeated op with a different shape value is inferred again, and errors still name the op.
    with pytest.raises(MILError, match=r"\[reshape 'bad'\]"):
        mb.reshape(x=x, shape=np.array([1, 3, 1, 4], np.int32), name="bad")
    assert mb.reshape(x=x, shape=np.array([8, 4], np.int32)).type == tensor((8, 4), "fp16")
