"""Image resizing: upsample/resize (nearest neighbour, bilinear) and ``crop`` over the last two dims.

Reference: coremltools ``iOS15/image_resizing.py`` and ``iOS16/image_resizing.py`` (``half_pixel_centers``);
iOS17 ``resize`` (target shape from a possibly run-time tensor).
"""

from __future__ import annotations

import math

from ..types import TensorType, Type
from ._base import Op, boolean, i32
from ._infer import FLOATS, InferError
from ._spec import InferContext, InputSpec, register_op

__all__ = [
    "Crop",
    "ResizeBilinear",
    "ResizeNearestNeighbor",
    "UpsampleBilinear",
    "UpsampleNearestNeighbor",
]

#: Scale factors are fp32 or int32 in every opset; coremltools' default is the Python int 1 → int32.
_SCALE_T = ("fp32", "int32")


class _Resize(Op):
    category = "image"

    @classmethod
    def _x(cls, ctx: InferContext) -> TensorType:
        x = cls.tensor(ctx, "x")
        if x.rank < 3:
            raise InferError(f"x must have rank >= 3 ([*, H, W]), got rank {x.rank}")
        return x

    @staticmethod
    def _scaled(d: int | None, s: float | None, what: str) -> int | None:
        if s is not None and s <= 0:
            raise InferError(f"{what} must be > 0, got {s}")
        return None if d is None or s is None else math.floor(d * s)


class _Upsample(_Resize):
    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls._x(ctx)
        sh, sw = (
            cls.float_value(ctx, "scale_factor_height"),
            cls.float_value(ctx, "scale_factor_width"),
        )
        h = cls._scaled(x.shape[-2], 1.0 if sh is None else sh, "scale_factor_height")
        w = cls._scaled(x.shape[-1], 1.0 if sw is None else sw, "scale_factor_width")
        return [TensorType(x.dtype, (*x.shape[:-2], h, w))]


def _scale(name: str) -> InputSpec:
    return InputSpec(name, _SCALE_T, const=True, optional=True, default=i32(1), rank=(0,))


@register_op("upsample_nearest_neighbor", category="image")
class UpsampleNearestNeighbor(_Upsample):
    """Nearest-neighbour upsampling of the last two dims by ``scale_factor_height``/``_width`` (default 1).

    Returns ``tensor<[*, floor(H·sh), floor(W·sw)], T>`` (T ∈ {fp16, fp32}).
    """

    inputs = (InputSpec("x", FLOATS), _scale("scale_factor_height"), _scale("scale_factor_width"))


@register_op("upsample_bilinear", category="image")
class UpsampleBilinear(_Upsample):
    """Bilinear upsampling of the last two dims; ``align_corners`` default true;
    ``half_pixel_centers`` const bool, optional (iOS16+).
    """

    inputs = (
        InputSpec("x", FLOATS),
        _scale("scale_factor_height"),
        _scale("scale_factor_width"),
        InputSpec("align_corners", ("bool",), const=True, optional=True, default=boolean(True), rank=(0,)),
        InputSpec("half_pixel_centers", ("bool",), const=True, optional=True, rank=(0,), min_opset="ios16"),
    )


@register_op("resize_nearest_neighbor", category="image")
class ResizeNearestNeighbor(_Resize):
    """Nearest-neighbour resize of the last two dims to ``target_size_height`` × ``target_size_width``
    (const int32, required)."""

    inputs = (
        InputSpec("x", FLOATS),
        InputSpec("target_size_height", ("int32",), const=True, rank=(0,)),
        InputSpec("target_size_width", ("int32",), const=True, rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls._x(ctx)
        h, w = cls.int_value(ctx, "target_size_height"), cls.int_value(ctx, "target_size_width")
        for name, v in (("target_size_height", h), ("target_size_width", w)):
            if v is not None and v < 1:
                raise InferError(f"{name} must be >= 1, got {v}")
        return [TensorType(x.dtype, (*x.shape[:-2], h, w))]


_SAMPLING = (
    "DEFAULT",
    "STRICT_ALIGN_CORNERS",
    "ALIGN_CORNERS",
    "OFFSET_CORNERS",
    "UNALIGN_CORNERS",
)


@register_op("resize_bilinear", category="image")
class ResizeBilinear(ResizeNearestNeighbor):
    """Bilinear resize to ``target_size_height`` × ``target_size_width`` (const int32, default 1);
    ``sampling_mode`` default ``"DEFAULT"``."""

    inputs = (
        InputSpec("x", FLOATS),
        InputSpec("target_size_height", ("int32",), const=True, optional=True, default=i32(1), rank=(0,)),
        InputSpec("target_size_width", ("int32",), const=True, optional=True, default=i32(1), rank=(0,)),
        InputSpec("sampling_mode", ("string",), const=True, optional=True, default="DEFAULT", rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        cls.choice(ctx, "sampling_mode", _SAMPLING)
        return super().compute(ctx)


@register_op("crop", category="image")
class Crop(_Resize):
    """Crop the last two dims: ``crop_height``/``crop_width`` const ``int32[2]`` (before, after)."""

    inputs = (
        InputSpec("x", FLOATS),
        InputSpec("crop_height", ("int32",), const=True, rank=(1,)),
        InputSpec("crop_width", ("int32",), const=True, rank=(1,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls._x(ctx)
        out = list(x.shape)
        for axis, name in ((-2, "crop_height"), (-1, "crop_width")):
            c = cls.ints_value(ctx, name)
            if c is None or len(c) != 2 or min(c) < 0:
                raise InferError(f"{name} must be 2 const entries >= 0, got {c}")
            if out[axis] is not None:
                if sum(c) >= out[axis]:
                    raise InferError(f"{name} {c} removes all of dim {axis} (size {out[axis]})")
                out[axis] = out[axis] - sum(c)
        return [TensorType(x.dtype, tuple(out))]


@register_op("resize", category="image")
class Resize(_Resize):
    """Resize the last ``resized_dims`` dims of ``x`` to the last entries of ``shape`` (iOS17+).

    Args:
        x: ``tensor<[*D], T>``, T ∈ {fp16, fp32, int32}.
        shape: ``tensor<[K], U>`` (U ∈ {int32, int16, uint16, uint32}; need not be const), ``K <= rank(x)``;
            a 0 entry keeps x's dim.
        resized_dims: const uint32 scalar, ``<= K``.
        interpolation_mode: ``"LINEAR"`` (default) | ``"NEAREST_NEIGHBOR"``; sampling_mode as resize_bilinear.

    Returns:
        ``tensor<[*D'], T>``: the resized dims are ``?`` when ``shape`` is not known at compile time.
    """

    inputs = (
        InputSpec("x", ("fp16", "fp32", "int32")),
        InputSpec("shape", ("int32", "int16", "uint16", "uint32"), rank=(1,)),
        InputSpec("resized_dims", ("uint32",), const=True, rank=(0,)),
        InputSpec("interpolation_mode", ("string",), const=True, optional=True, default="LINEAR", rank=(0,)),
        InputSpec("sampling_mode", ("string",), const=True, optional=True, default="DEFAULT", rank=(0,)),
    )
    min_opset = "ios17"

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, s = cls.tensor(ctx, "x"), cls.tensor(ctx, "shape")
        cls.choice(ctx, "interpolation_mode", ("LINEAR", "NEAREST_NEIGHBOR"))
        cls.choice(ctx, "sampling_mode", _SAMPLING)
        n = cls.int_value(ctx, "resized_dims")
        k = s.shape[0]
        if n is None:
            raise InferError("resized_dims must be const")
        if k is not None and (n > k or k > x.rank):
            raise InferError(f"need resized_dims ({n}) <= len(shape) ({k}) <= rank(x) ({x.rank})")
        if n > x.rank:
            raise InferError(f"resized_dims {n} exceeds rank(x) {x.rank}")
        target = cls.ints_value(ctx, "shape")
        out = list(x.shape)
        for i in range(n):
            axis = x.rank - n + i
            if target is None:
                out[axis] = None
            else:
                v = target[len(target) - n + i]
                if v < 0:
                    raise InferError(f"shape entries must be >= 0 (0 keeps x's dim), got {target}")
                out[axis] = x.shape[axis] if v == 0 else v
        return [TensorType(x.dtype, tuple(out))]
