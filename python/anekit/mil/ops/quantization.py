"""Activation quantisation: ``quantize`` and ``dequantize`` (iOS17+).

Reference: docs/internals/mil-format.md §8.4 and §10.7; coremltools ``iOS17/quantization_ops.py``. The
compressed-weight ``constexpr_*`` ops live in :mod:`.constexpr`.
"""

from __future__ import annotations

from ..types import TensorType, Type
from ._base import Op
from ._infer import FLOATS, InferError, fmt_shape, normalize_axis
from ._spec import InferContext, InputSpec, register_op
from .constexpr import per_axis_check

__all__ = ["Dequantize", "Quantize"]


class _Affine(Op):
    """Shared checks of ``quantize`` and ``dequantize`` (iOS17)."""

    category = "quantization"
    min_opset = "ios17"

    @classmethod
    def _check_params(cls, ctx: InferContext, x: TensorType) -> TensorType:
        scale = cls.tensor(ctx, "scale")
        zp = cls.opt_tensor(ctx, "zero_point")
        axis = cls.int_value(ctx, "axis")
        size = None
        if axis is not None:
            size = x.shape[normalize_axis(axis, x.rank)]
        for name, t in (("scale", scale), ("zero_point", zp)):
            if t is None:
                continue
            if t.rank == 1 and axis is None:
                raise InferError(f"'{name}' is a vector, so 'axis' is required")
            per_axis_check(t, name, size)
        if zp is not None and zp.shape != scale.shape:
            raise InferError(f"zero_point shape {fmt_shape(zp.shape)} must equal scale shape {fmt_shape(scale.shape)}")
        return scale


@register_op("quantize", category="quantization")
class Quantize(_Affine):
    """``clip(round_half_even(input / scale) + zero_point)`` to ``output_dtype``'s range (iOS17+).

    Args:
        input: ``tensor<[*D], SrcT>`` (fp16/fp32).
        zero_point: const scalar or ``[D[axis]]`` of output_dtype, optional (default 0, not materialised).
        scale: const scalar or ``[D[axis]]`` of SrcT.
        axis: const int32, optional (required for vector scale/zero_point).
        output_dtype: const string ``"int8"`` | ``"uint8"``.

    Returns:
        ``tensor<[*D], output_dtype>``. ANE: used for W8A8 (docs/internals/mil-format.md §8.4).
    """

    inputs = (
        InputSpec("input", FLOATS),
        InputSpec("zero_point", ("int8", "uint8"), const=True, optional=True, rank=(0, 1)),
        InputSpec("scale", FLOATS, const=True, rank=(0, 1), same_dtype_as="input"),
        InputSpec("axis", ("int32",), const=True, optional=True, rank=(0,)),
        InputSpec("output_dtype", ("string",), const=True, rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "input")
        cls._check_params(ctx, x)
        out = cls.choice(ctx, "output_dtype", ("int8", "uint8"))
        if out is None:
            raise InferError("output_dtype must be a const string")
        zp = cls.opt_tensor(ctx, "zero_point")
        if zp is not None and zp.dtype.name != out:
            raise InferError(f"zero_point dtype {zp.dtype} must equal output_dtype {out}")
        return [x.with_dtype(out)]


@register_op("dequantize", category="quantization")
class Dequantize(_Affine):
    """``scale · (input − zero_point)`` (iOS17+).

    Args:
        input: ``tensor<[*D], SrcT>`` (int8/uint8).
        zero_point: const scalar or ``[D[axis]]`` of SrcT, optional (default 0, not materialised).
        scale: const scalar or ``[D[axis]]`` of DstT (fp16/fp32).
        axis: const int32, optional (required for vector scale/zero_point).

    Returns:
        ``tensor<[*D], DstT>``.
    """

    inputs = (
        InputSpec("input", ("int8", "uint8")),
        InputSpec(
            "zero_point",
            ("int8", "uint8"),
            const=True,
            optional=True,
            rank=(0, 1),
            same_dtype_as="input",
        ),
        InputSpec("scale", FLOATS, const=True, rank=(0, 1)),
        InputSpec("axis", ("int32",), const=True, optional=True, rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "input")
        scale = cls._check_params(ctx, x)
        return [x.with_dtype(scale.dtype)]
