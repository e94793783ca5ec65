"""Minimal op specs for the MIL-core tests, registered only where the real registry lacks the op.

The real specs live in anekit.mil.ops (another module's job); these small, correct-for-the-tested-shapes
stand-ins keep the IR/builder/parser tests independent of how far that work has progressed. The ``mini_ops``
fixture in conftest.py registers the missing ones and removes exactly those afterwards.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from anekit.mil.ops._spec import InferContext, InputSpec, OpSpec
from anekit.mil.types import StateType, TensorType, Type

F = ("fp16", "fp32")
NUM = ("fp16", "fp32", "int32")


def _t(ctx: InferContext, name: str) -> TensorType:
    t = ctx.type(name)
    if isinstance(t, StateType):
        return t.wrapped
    if not isinstance(t, TensorType):
        raise ctx.error(f"missing or non-tensor input {name!r}")
    return t


def _ints(ctx: InferContext, name: str) -> list[int] | None:
    v = ctx.value(name)
    return None if v is None else [int(x) for x in np.asarray(v).reshape(-1)]


def _require(ctx: InferContext, spec: type[OpSpec]) -> None:
    for s in spec.inputs:
        if not s.optional and not ctx.has(s.name) and ctx.attr(s.name) is None:
            raise ctx.error(f"missing required input {s.name!r}")
        t = ctx.type(s.name)
        if s.dtypes and isinstance(t, TensorType) and t.dtype.name not in s.dtypes:
            raise ctx.error(f"input {s.name!r} dtype {t.dtype.name} not in {s.dtypes}")


def _dequantized(ctx: InferContext, spec: type[OpSpec], source: str) -> list[Type]:
    """The dequantizers' inference: input ``source``'s shape in the dtype of ``scale``."""
    _require(ctx, spec)
    return [_t(ctx, source).with_dtype(_t(ctx, "scale").dtype)]


class Binary(OpSpec):
    inputs = (InputSpec("x", NUM), InputSpec("y", NUM, same_dtype_as="x"))

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        x, y = _t(ctx, "x"), _t(ctx, "y")
        if x.dtype != y.dtype:
            raise ctx.error(f"x dtype {x.dtype} != y dtype {y.dtype}")
        try:
            shape = np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise ctx.error(f"shapes {x.shape} and {y.shape} do not broadcast") from None
        return [TensorType(x.dtype, shape)]


class Unary(OpSpec):
    inputs = (InputSpec("x", F),)

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        return [_t(ctx, "x")]


class Softmax(Unary):
    inputs = (
        InputSpec("x", F),
        InputSpec("axis", ("int32",), const=True, optional=True, default=np.int32(-1)),
    )


class Cast(OpSpec):
    inputs = (InputSpec("x", (*NUM, "bool")), InputSpec("dtype", ("string",), const=True))

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        return [_t(ctx, "x").with_dtype(str(ctx.value("dtype")))]


def _ones(ctx: InferContext) -> Any:
    return np.ones(_t(ctx, "x").rank - 2, dtype=np.int32)


class Conv(OpSpec):
    inputs = (
        InputSpec("x", F),
        InputSpec("weight", F),
        InputSpec("bias", F, const=True, optional=True),
        InputSpec("strides", ("int32",), const=True, optional=True, default=_ones),
        InputSpec("pad_type", ("string",), const=True, optional=True, default="valid"),
        InputSpec(
            "pad",
            ("int32",),
            const=True,
            optional=True,
            default=lambda ctx: np.zeros(2 * (_t(ctx, "x").rank - 2), dtype=np.int32),
        ),
        InputSpec("dilations", ("int32",), const=True, optional=True, default=_ones),
        InputSpec("groups", ("int32",), const=True, optional=True, default=np.int32(1)),
    )

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        x, w = _t(ctx, "x"), _t(ctx, "weight")
        strides = _ints(ctx, "strides") or [1] * (x.rank - 2)
        pads = _ints(ctx, "pad") or [0] * (2 * (x.rank - 2))
        if str(ctx.value("pad_type") or "valid") == "valid":
            pads = [0] * len(pads)
        spatial = []
        for i, d in enumerate(x.shape[2:]):
            k = w.shape[2 + i]
            spatial.append(None if d is None else (d + pads[2 * i] + pads[2 * i + 1] - k) // strides[i] + 1)
        return [TensorType(x.dtype, (x.shape[0], w.shape[0], *spatial))]


class ReduceSum(OpSpec):
    inputs = (
        InputSpec("x", NUM),
        InputSpec("axes", ("int32",), const=True, optional=True),
        InputSpec("keep_dims", ("bool",), const=True, optional=True, default=np.bool_(False)),
    )

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        x = _t(ctx, "x")
        axes = _ints(ctx, "axes")
        axes = list(range(x.rank)) if axes is None else [a % x.rank for a in axes]
        keep = bool(ctx.value("keep_dims")) if ctx.value("keep_dims") is not None else False
        shape = (
            [1 if i in axes else d for i, d in enumerate(x.shape)]
            if keep
            else [d for i, d in enumerate(x.shape) if i not in axes]
        )
        return [TensorType(x.dtype, tuple(shape))]


class SliceBySize(OpSpec):
    inputs = (InputSpec("x", NUM), InputSpec("begin", ("int32",)), InputSpec("size", ("int32",)))

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        x, begin, size = _t(ctx, "x"), _ints(ctx, "begin"), _ints(ctx, "size")
        if size is None:
            return [TensorType(x.dtype, (None,) * x.rank)]
        shape = [
            (d - b if d is not None else None) if s == -1 else s
            for d, b, s in zip(x.shape, begin or [0] * x.rank, size, strict=False)
        ]
        return [TensorType(x.dtype, tuple(shape))]


class Reshape(OpSpec):
    inputs = (InputSpec("x", NUM), InputSpec("shape", ("int32",)))

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        x, shape = _t(ctx, "x"), _ints(ctx, "shape")
        if shape is None:
            return [TensorType(x.dtype, (None,) * _t(ctx, "shape").shape[0])]
        if -1 in shape and x.numel is not None:
            known = int(np.prod([s for s in shape if s != -1]))
            shape = [x.numel // known if s == -1 else s for s in shape]
        if x.numel is not None and int(np.prod(shape)) != x.numel:
            raise ctx.error(f"cannot reshape {x} to {shape}")
        return [TensorType(x.dtype, tuple(shape))]


class Transpose(OpSpec):
    inputs = (InputSpec("x", NUM), InputSpec("perm", ("int32",), const=True))

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        x, perm = _t(ctx, "x"), _ints(ctx, "perm") or []
        return [TensorType(x.dtype, tuple(x.shape[p] for p in perm))]


class Matmul(OpSpec):
    inputs = (
        InputSpec("x", NUM),
        InputSpec("y", NUM),
        InputSpec("transpose_x", ("bool",), const=True, optional=True, default=np.bool_(False)),
        InputSpec("transpose_y", ("bool",), const=True, optional=True, default=np.bool_(False)),
    )

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        x, y = list(_t(ctx, "x").shape), list(_t(ctx, "y").shape)
        if ctx.value("transpose_x") is not None and bool(ctx.value("transpose_x")):
            x[-1], x[-2] = x[-2], x[-1]
        if ctx.value("transpose_y") is not None and bool(ctx.value("transpose_y")):
            y[-1], y[-2] = y[-2], y[-1]
        if x[-1] != y[-2]:
            raise ctx.error(f"inner dims {x[-1]} != {y[-2]}")
        batch = np.broadcast_shapes(tuple(x[:-2]), tuple(y[:-2]))
        return [TensorType(_t(ctx, "x").dtype, (*batch, x[-2], y[-1]))]


class Quantize(OpSpec):
    min_opset = "ios17"
    inputs = (
        InputSpec("input", F),
        InputSpec("zero_point", optional=True, const=True),
        InputSpec("scale", F, const=True),
        InputSpec("axis", ("int32",), const=True, optional=True),
        InputSpec("output_dtype", ("string",), const=True),
    )

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        return [_t(ctx, "input").with_dtype(str(ctx.value("output_dtype")))]


class Dequantize(OpSpec):
    min_opset = "ios17"
    inputs = (
        InputSpec("input", ("int8", "uint8")),
        InputSpec("zero_point", optional=True, const=True),
        InputSpec("scale", F, const=True),
        InputSpec("axis", ("int32",), const=True, optional=True),
    )

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        return _dequantized(ctx, cls, "input")


class AffineDequantize(OpSpec):
    attrs_as_inputs = True
    inputs = (
        InputSpec("quantized_data", ("int8", "uint8"), const=True),
        InputSpec("zero_point", const=True),
        InputSpec("scale", F, const=True),
        InputSpec("axis", ("int32",), const=True),
    )

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        return _dequantized(ctx, cls, "quantized_data")


class BlockwiseShiftScale(OpSpec):
    min_opset = "ios18"
    inputs = (
        InputSpec("data", ("int4", "int8", "uint8"), const=True),
        InputSpec("scale", F, const=True),
        InputSpec("offset", const=True, optional=True),
    )

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        return _dequantized(ctx, cls, "data")


class ReadState(OpSpec):
    min_opset = "ios18"
    inputs = (InputSpec("input"),)

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        return [_t(ctx, "input")]


class WriteState(OpSpec):
    min_opset = "ios18"
    inputs = (InputSpec("input"), InputSpec("data", F))

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        return []


class Split(OpSpec):
    inputs = (
        InputSpec("x", NUM),
        InputSpec("num_splits", ("int32",), const=True),
        InputSpec("axis", ("int32",), const=True),
    )

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        x, n, axis = _t(ctx, "x"), int(ctx.value("num_splits")), int(ctx.value("axis"))
        shape = list(x.shape)
        shape[axis] = shape[axis] // n
        return [TensorType(x.dtype, tuple(shape))] * n


class Concat(OpSpec):
    inputs = (
        InputSpec("values", NUM, is_tuple=True),
        InputSpec("axis", ("int32",), const=True),
        InputSpec("interleave", ("bool",), const=True, optional=True, default=np.bool_(False)),
    )

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        _require(ctx, cls)
        ts = ctx.type("values")
        axis = int(ctx.value("axis"))
        shape = list(ts[0].shape)
        shape[axis] = sum(t.shape[axis] for t in ts)
        return [TensorType(ts[0].dtype, tuple(shape))]


MINI_SPECS: dict[str, type[OpSpec]] = {
    "add": type("Add", (Binary,), {}),
    "mul": type("Mul", (Binary,), {}),
    "sub": type("Sub", (Binary,), {}),
    "pow": type("Pow", (Binary,), {}),
    "relu": type("Relu", (Unary,), {}),
    "sigmoid": type("Sigmoid", (Unary,), {}),
    "softmax": Softmax,
    "cast": Cast,
    "conv": Conv,
    "reduce_sum": ReduceSum,
    "slice_by_size": SliceBySize,
    "reshape": Reshape,
    "transpose": Transpose,
    "matmul": Matmul,
    "quantize": Quantize,
    "dequantize": Dequantize,
    "constexpr_affine_dequantize": AffineDequantize,
    "constexpr_blockwise_shift_scale": BlockwiseShiftScale,
    "read_state": ReadState,
    "write_state": WriteState,
    "split": Split,
    "concat": Concat,
}
