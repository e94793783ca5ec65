"""Layout-rearranging tensor ops: pixel_shuffle/unshuffle, space_to_depth/depth_to_space, flatten2d,
reverse, sliding_windows, one_hot and non_zero.

Reference: coremltools ``iOS15/tensor_transformation.py``, ``iOS15/tensor_operation.py``,
``iOS16/tensor_transformation.py`` (pixel_unshuffle) and the iOS17 overrides (wider integer dtypes).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..types import TensorType, Type
from ._base import Op, i32
from ._infer import (
    FLOATS,
    IOS17_NUMERIC_BOOL,
    NUMERIC,
    NUMERIC_BOOL,
    InferError,
    normalize_axes,
    normalize_axis,
    prod,
)
from ._spec import InferContext, InputSpec, register_op

__all__ = [
    "DepthToSpace",
    "Flatten2d",
    "OneHot",
    "PixelShuffle",
    "Reverse",
    "SlidingWindows",
    "SpaceToDepth",
]

_X_HISTORY = (("ios15", NUMERIC_BOOL), ("ios17", IOS17_NUMERIC_BOOL))


class _Block(Op):
    """Rank-4 ``[N, C, H, W]`` rearrangements controlled by one const int32 factor."""

    category = "tensor"
    factor: ClassVar[str] = ""
    to_space: ClassVar[bool] = True

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        if x.rank != 4:
            raise InferError(f"x must be [N, C, H, W] (rank 4), got rank {x.rank}")
        f = cls.int_value(ctx, cls.factor)
        if f is None or f < 1:
            raise InferError(f"{cls.factor} must be a const >= 1, got {f}")
        n, c, h, w = x.shape
        if cls.to_space:
            if c is not None and c % (f * f):
                raise InferError(f"channels {c} not divisible by {cls.factor}² = {f * f}")
            shape = (
                n,
                None if c is None else c // (f * f),
                None if h is None else h * f,
                None if w is None else w * f,
            )
        else:
            for name, d in (("height", h), ("width", w)):
                if d is not None and d % f:
                    raise InferError(f"{name} {d} not divisible by {cls.factor} {f}")
            shape = (
                n,
                None if c is None else c * f * f,
                None if h is None else h // f,
                None if w is None else w // f,
            )
        return [TensorType(x.dtype, shape)]


@register_op("pixel_shuffle", category="tensor")
class PixelShuffle(_Block):
    """``[N, C·f², H, W] → [N, C, H·f, W·f]`` (torch PixelShuffle); ``upscale_factor`` const int32."""

    inputs = (
        InputSpec("x", FLOATS),
        InputSpec("upscale_factor", ("int32",), const=True, rank=(0,)),
    )
    factor = "upscale_factor"


@register_op("pixel_unshuffle", category="tensor")
class PixelUnshuffle(_Block):
    """``[N, C, H·f, W·f] → [N, C·f², H, W]`` (iOS16+); ``downscale_factor`` const uint32."""

    inputs = (
        InputSpec("x", FLOATS),
        InputSpec("downscale_factor", ("uint32",), const=True, rank=(0,)),
    )
    factor = "downscale_factor"
    to_space = False
    min_opset = "ios16"


@register_op("depth_to_space", category="tensor")
class DepthToSpace(_Block):
    """``[N, C·b², H, W] → [N, C, H·b, W·b]`` (DCR order); ``block_size`` const int32."""

    inputs = (InputSpec("x", FLOATS), InputSpec("block_size", ("int32",), const=True, rank=(0,)))
    factor = "block_size"


@register_op("space_to_depth", category="tensor")
class SpaceToDepth(_Block):
    """``[N, C, H·b, W·b] → [N, C·b², H, W]``; ``block_size`` const int32."""

    inputs = (InputSpec("x", FLOATS), InputSpec("block_size", ("int32",), const=True, rank=(0,)))
    factor = "block_size"
    to_space = False


@register_op("flatten2d", category="tensor")
class Flatten2d(Op):
    """``[*D] → [prod(D[:axis]), prod(D[axis:])]``; ``axis`` const int32, default 1 (negative allowed)."""

    inputs = (
        InputSpec("x", NUMERIC_BOOL),
        InputSpec("axis", ("int32",), const=True, optional=True, default=i32(1), rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        axis = cls.int_value(ctx, "axis")
        axis = 1 if axis is None else axis
        if not -x.rank <= axis <= x.rank:
            raise InferError(f"axis {axis} out of range for rank {x.rank} (expected {-x.rank}..{x.rank})")
        if axis < 0:
            axis += x.rank
        return [TensorType(x.dtype, (prod(x.shape[:axis]), prod(x.shape[axis:])))]


@register_op("reverse", category="tensor")
class Reverse(Op):
    """Reverse ``x`` along ``axes`` (const int32[K], optional; default all axes, not materialised)."""

    inputs = (
        InputSpec("x", IOS17_NUMERIC_BOOL),
        InputSpec("axes", ("int32",), const=True, optional=True, rank=(1,)),
    )
    dtype_history: ClassVar = {"x": _X_HISTORY}

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        axes = cls.ints_value(ctx, "axes")
        if axes is not None:
            normalize_axes(axes, x.rank)
        return [x]


@register_op("sliding_windows", category="tensor")
class SlidingWindows(Op):
    """All windows of ``size`` along ``axis`` every ``stride`` (default 1):
    ``[*d0, D, *dn] → [*d0, (D − size) // stride + 1, size, *dn]``."""

    inputs = (
        InputSpec("x", IOS17_NUMERIC_BOOL),
        InputSpec("axis", ("int32",), const=True, rank=(0,)),
        InputSpec("size", ("int32",), const=True, rank=(0,)),
        InputSpec("stride", ("int32",), const=True, optional=True, default=i32(1), rank=(0,)),
    )
    dtype_history: ClassVar = {"x": (("ios15", NUMERIC), ("ios17", IOS17_NUMERIC_BOOL))}

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        axis_v, size, stride = (cls.int_value(ctx, n) for n in ("axis", "size", "stride"))
        if axis_v is None or size is None:
            raise InferError("axis and size must be const")
        stride = 1 if stride is None else stride
        if size < 1 or stride < 1:
            raise InferError(f"size and stride must be >= 1, got {size}, {stride}")
        axis = normalize_axis(axis_v, x.rank)
        d = x.shape[axis]
        if d is not None and d < size:
            raise InferError(f"window size {size} exceeds dim {axis} of size {d}")
        shape = list(x.shape)
        shape[axis] = None if d is None else (d - size) // stride + 1
        shape.insert(axis + 1, size)
        return [TensorType(x.dtype, tuple(shape))]


@register_op("one_hot", category="tensor")
class OneHot(Op):
    """One-hot vectors of length ``one_hot_vector_size`` inserted at ``axis`` (default -1).

    Args:
        indices: ``tensor<[*D], int32>``; one_hot_vector_size: int32 scalar (need not be const);
        axis: const int32, default -1; on_value / off_value: const T, default 1 / 0 (int32).

    Returns:
        ``tensor<[*D with depth inserted at axis], T>``.
    """

    inputs = (
        InputSpec("indices", ("int32",)),
        InputSpec("one_hot_vector_size", ("int32",), rank=(0,)),
        InputSpec("axis", ("int32",), const=True, optional=True, default=i32(-1), rank=(0,)),
        InputSpec("on_value", NUMERIC_BOOL, const=True, optional=True, default=i32(1), rank=(0,)),
        InputSpec(
            "off_value",
            NUMERIC_BOOL,
            const=True,
            optional=True,
            default=i32(0),
            rank=(0,),
            same_dtype_as="on_value",
        ),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        idx = cls.tensor(ctx, "indices")
        on = cls.opt_tensor(ctx, "on_value")
        off = cls.opt_tensor(ctx, "off_value")
        dt = "int32" if on is None else on.dtype.name
        if off is not None and off.dtype.name != dt:
            raise InferError(f"on_value dtype {dt} != off_value dtype {off.dtype}")
        depth = cls.int_value(ctx, "one_hot_vector_size")
        if depth is not None and depth < 0:
            raise InferError(f"one_hot_vector_size must be >= 0, got {depth}")
        axis = cls.int_value(ctx, "axis")
        pos = normalize_axis(-1 if axis is None else axis, idx.rank + 1)
        shape = list(idx.shape)
        shape.insert(pos, depth)
        return [TensorType(dt, tuple(shape))]


@register_op("non_zero", category="tensor")
class NonZero(Op):
    """Indices of the non-zero elements: ``tensor<[N, rank(x)], int32>`` (N known only for a const x)."""

    inputs = (InputSpec("x", NUMERIC_BOOL),)

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        v = cls.value_array(ctx, "x")
        n = None if v is None else int(np.count_nonzero(v))
        return [TensorType("int32", (n, x.rank))]
