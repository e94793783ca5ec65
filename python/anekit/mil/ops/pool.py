"""Pooling: ``avg_pool``, ``max_pool`` and ``l2_pool`` (1-D to 3-D).

Reference: coremltools ``iOS15/pool.py`` and ``_utils.spatial_dimensions_out_shape`` (ceil_mode rule).
``pad_type`` is required (no default); ``strides`` default to ones, ``pad`` to zeros and ``ceil_mode`` to
false, which coremltools materialises.
"""

from __future__ import annotations

from typing import ClassVar

from ..types import TensorType, Type
from ._base import Op, boolean
from ._infer import FLOATS, InferError, pool_output_dim, spatial_pads
from ._spec import InferContext, InputSpec, register_op
from .conv import spatial_ones, spatial_zero_pads

__all__ = ["Pooling"]


class Pooling(Op):
    """Pool ``x`` with a ``kernel_sizes`` window.

    Args:
        x: ``tensor<[N, C, *D], T>``, rank 3–5, T ∈ {fp16, fp32}.
        kernel_sizes: const ``int32[S]``.
        strides: const ``int32[S]``, optional, default ones.
        pad_type: const string ``valid`` | ``same`` | ``same_lower`` (iOS16+) | ``custom`` (required).
        pad: const ``int32[2S]``, optional, default zeros (used with ``custom``).
        ceil_mode: const bool, optional, default false (valid/custom padding, symmetric pads, 1-D/2-D only).

    Returns:
        ``tensor<[N, C, *d_out], T>``.
    """

    base_inputs: ClassVar[tuple[InputSpec, ...]] = (
        InputSpec("x", FLOATS, rank=(3, 4, 5)),
        InputSpec("kernel_sizes", ("int32",), const=True, rank=(1,)),
        InputSpec("strides", ("int32",), const=True, optional=True, default=spatial_ones, rank=(1,)),
        InputSpec("pad_type", ("string",), const=True, rank=(0,)),
        InputSpec("pad", ("int32",), const=True, optional=True, default=spatial_zero_pads, rank=(1,)),
        InputSpec("ceil_mode", ("bool",), const=True, optional=True, default=boolean(False), rank=(0,)),
    )
    inputs = base_inputs
    category = "pool"
    #: Largest number of spatial dims (l2_pool: 2).
    max_spatial: ClassVar[int] = 3

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        s = x.rank - 2
        kernels = cls.ints_value(ctx, "kernel_sizes")
        if kernels is None or len(kernels) != s or any(k < 1 for k in kernels):
            raise InferError(f"kernel_sizes must be {s} const entries >= 1, got {kernels}")
        strides = cls.ints_value(ctx, "strides") or [1] * s
        if len(strides) != s or any(v < 1 for v in strides):
            raise InferError(f"strides must be {s} entries >= 1, got {strides}")
        pad_type = cls.choice(ctx, "pad_type", ("valid", "same", "same_lower", "custom"))
        if pad_type is None:
            raise InferError("pad_type must be a const string")
        if pad_type == "same_lower" and ctx.opset == "ios15":
            raise InferError("pad_type 'same_lower' exists from ios16 on")
        ceil_mode = bool(cls.bool_value(ctx, "ceil_mode"))
        pad = cls.ints_value(ctx, "pad")
        if pad is not None and len(pad) != 2 * s:
            raise InferError(f"pad must have 2*{s} = {2 * s} entries, got {pad}")
        if ceil_mode:
            if pad_type not in ("valid", "custom"):
                raise InferError(f"ceil_mode applies only to pad_type valid or custom, got {pad_type!r}")
            if s > 2:
                raise InferError(f"ceil_mode is supported for 1-D and 2-D pooling only, got {s}-D")
            if pad_type == "custom" and pad is not None and any(pad[2 * i] != pad[2 * i + 1] for i in range(s)):
                raise InferError(f"ceil_mode needs symmetric padding, got pad {pad}")
        if s > cls.max_spatial:
            raise InferError(f"{cls.op_type} supports up to {cls.max_spatial}-D pooling, got {s}-D")
        sizes = list(x.shape[2:])
        pads = spatial_pads(pad_type, sizes, list(kernels), strides, [1] * s, pad)
        out = [pool_output_dim(sizes[i], kernels[i], strides[i], pads[i], ceil_mode) for i in range(s)]
        return [TensorType(x.dtype, (x.shape[0], x.shape[1], *out))]


@register_op("max_pool", category="pool")
class MaxPool(Pooling):
    """Max pooling (see :class:`Pooling`)."""


@register_op("l2_pool", category="pool")
class L2Pool(Pooling):
    """L2 pooling ``sqrt(Σ x²)`` over each window, 1-D or 2-D only (see :class:`Pooling`)."""

    max_spatial = 2


@register_op("avg_pool", category="pool")
class AvgPool(Pooling):
    """Average pooling; ``exclude_padding_from_average`` const bool, optional, default false."""

    inputs = (
        *Pooling.base_inputs,
        InputSpec(
            "exclude_padding_from_average",
            ("bool",),
            const=True,
            optional=True,
            default=boolean(False),
            rank=(0,),
        ),
    )
