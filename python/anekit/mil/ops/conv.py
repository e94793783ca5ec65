"""Convolutions: ``conv`` and ``conv_transpose`` (1-D to 3-D).

Reference: docs/internals/mil-format.md §10.1; coremltools ``iOS15/conv.py`` and ``iOS17/conv.py`` (iOS17
lets weight/bias have their own float dtype). Defaults are materialised as coremltools does: ``strides`` and
``dilations`` ones, ``pad_type`` ``"valid"``, ``pad`` zeros of length 2·S, ``groups`` 1 (real files carry all
five, e.g. the Silero VAD corpus convs).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..types import TensorType, Type
from ._base import Op, i32, int32_ones, int32_zeros
from ._infer import (
    FLOATS,
    InferError,
    conv_output_dim,
    conv_transpose_output_dim,
    dims_equal,
    spatial_pads,
)
from ._spec import InferContext, InputSpec, register_op

__all__ = ["Conv", "ConvTranspose", "spatial_ones", "spatial_rank", "spatial_zero_pads"]

_PAD_TYPES = ("valid", "same", "same_lower", "custom")


def spatial_rank(ctx: InferContext, source: str = "x") -> int | None:
    """Number of spatial dims of input ``source`` (rank − 2), or None if it is not a tensor."""
    t = ctx.type(source)
    return t.rank - 2 if isinstance(t, TensorType) and t.rank >= 2 else None


# Defaults of strides / dilations / pad, shared by conv, conv_transpose and the pools.
def spatial_ones(ctx: InferContext) -> Any:
    """int32 ones, one per spatial dim of x"""
    s = spatial_rank(ctx)
    return None if s is None else int32_ones(s)


def spatial_zero_pads(ctx: InferContext) -> Any:
    """int32 zeros, two per spatial dim of x"""
    s = spatial_rank(ctx)
    return None if s is None else int32_zeros(2 * s)


def _conv_inputs() -> tuple[InputSpec, ...]:
    return (
        InputSpec("x", FLOATS, rank=(3, 4, 5)),
        InputSpec("weight", FLOATS, rank=(3, 4, 5)),
        InputSpec("bias", FLOATS, optional=True, rank=(1,)),
        InputSpec("strides", ("int32",), const=True, optional=True, default=spatial_ones, rank=(1,)),
        InputSpec("pad_type", ("string",), const=True, optional=True, default="valid", rank=(0,)),
        InputSpec("pad", ("int32",), const=True, optional=True, default=spatial_zero_pads, rank=(1,)),
        InputSpec("dilations", ("int32",), const=True, optional=True, default=spatial_ones, rank=(1,)),
        InputSpec("groups", ("int32",), const=True, optional=True, default=i32(1), rank=(0,)),
    )


class _ConvBase(Op):
    category = "conv"
    # iOS17 dropped the const requirement of bias (and of conv_transpose's weight), coremltools iOS17/conv.py.
    const_before: ClassVar[dict[str, str]] = {"bias": "ios17"}

    @classmethod
    def _params(cls, ctx: InferContext, s: int) -> tuple[list[int], list[int], str, list[int] | None, int]:
        strides = cls.ints_value(ctx, "strides") or [1] * s
        dilations = cls.ints_value(ctx, "dilations") or [1] * s
        for name, vals in (("strides", strides), ("dilations", dilations)):
            if len(vals) != s:
                raise InferError(f"{name} must have {s} entries (one per spatial dim), got {vals}")
            if any(v < 1 for v in vals):
                raise InferError(f"{name} entries must be >= 1, got {vals}")
        pad_type = cls.choice(ctx, "pad_type", _PAD_TYPES) or "valid"
        if pad_type == "same_lower" and ctx.opset == "ios15":
            raise InferError("pad_type 'same_lower' exists from ios16 on")
        pad = cls.ints_value(ctx, "pad")
        groups = cls.int_value(ctx, "groups")
        groups = 1 if groups is None else groups
        if groups < 1:
            raise InferError(f"groups must be >= 1, got {groups}")
        return strides, dilations, pad_type, pad, groups

    @classmethod
    def _check_bias(cls, ctx: InferContext, c_out: int | None) -> None:
        b = cls.opt_tensor(ctx, "bias")
        if b is not None and not dims_equal(b.shape[0], c_out):
            raise InferError(f"bias length {b.shape[0]} != output channels {c_out}")

    @classmethod
    def _check_dtypes(cls, ctx: InferContext, x: TensorType) -> None:
        if ctx.opset in ("ios15", "ios16"):
            for name in ("weight", "bias"):
                t = cls.opt_tensor(ctx, name)
                if t is not None and t.dtype != x.dtype:
                    raise InferError(f"{name} dtype {t.dtype} must equal x dtype {x.dtype} before ios17")


@register_op("conv", category="conv")
class Conv(_ConvBase):
    """N-D convolution with groups, dilations and padding modes.

    Args:
        x: ``tensor<[N, C_in, *D], T>``, rank 3–5.
        weight: ``tensor<[C_out, C_in/groups, *K], U>`` (may be non-const; the ANE rejects runtime-weight
            grouped convs, docs/internals/mil-format.md §11 rule 14).
        bias: ``tensor<[C_out], U>``, optional; const before iOS17.
        strides, dilations: const ``int32[S]``, default ones.
        pad_type: const string ``valid`` | ``same`` | ``same_lower`` (iOS16+) | ``custom``, default ``valid``.
        pad: const ``int32[2S]`` ``[d0_before, d0_after, ...]``, default zeros; used only with ``custom``.
        groups: const int32, default 1.

    Returns:
        ``tensor<[N, C_out, *d_out], T>`` with ``d_out = floor((D + pads − ((K−1)·dil + 1)) / stride) + 1``.
    """

    inputs = _conv_inputs()

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, w = cls.tensor(ctx, "x"), cls.tensor(ctx, "weight")
        cls._check_dtypes(ctx, x)
        s = x.rank - 2
        if w.rank != x.rank:
            raise InferError(f"weight rank {w.rank} != x rank {x.rank} ([C_out, C_in/groups, *K])")
        strides, dilations, pad_type, pad, groups = cls._params(ctx, s)
        c_in, c_out = x.shape[1], w.shape[0]
        if c_in is not None and c_in % groups:
            raise InferError(f"x channels {c_in} not divisible by groups {groups}")
        if c_out is not None and c_out % groups:
            raise InferError(f"weight output channels {c_out} not divisible by groups {groups}")
        if c_in is not None and not dims_equal(w.shape[1], c_in // groups):
            raise InferError(f"weight dim 1 {w.shape[1]} != x channels {c_in} / groups {groups}")
        cls._check_bias(ctx, c_out)
        sizes, kernels = list(x.shape[2:]), list(w.shape[2:])
        pads = spatial_pads(pad_type, sizes, kernels, strides, dilations, pad)
        out = []
        for i in range(s):
            p = pads[i]
            if pad_type in ("same", "same_lower"):
                out.append(None if sizes[i] is None else -(-sizes[i] // strides[i]))
            elif p is None:
                out.append(None)
            else:
                out.append(conv_output_dim(sizes[i], kernels[i], strides[i], dilations[i], p[0], p[1]))
        return [TensorType(x.dtype, (x.shape[0], c_out, *out))]


@register_op("conv_transpose", category="conv")
class ConvTranspose(_ConvBase):
    """Transposed (fractionally strided) convolution.

    ``weight`` and ``bias`` must be const before iOS17 (:meth:`requires_const`).

    Args:
        x: ``tensor<[N, C_in, *D], T>``, rank 3–5.
        weight: ``tensor<[C_in, C_out/groups, *K], U>`` (const before iOS17).
        bias: ``tensor<[C_out], U>``, optional (const before iOS17).
        pad, output_shape, pad_type, strides, dilations, groups: as ``conv``; ``output_shape`` (const
            ``int32[rank]``, optional) fixes the output shape (the ``same`` modes need it to be exact).

    Returns:
        ``tensor<[N, C_out, *d_out], T>`` with ``d_out = s·(D−1) + (K−1)·dil + 1 − pads`` unless
        ``output_shape`` is given.
    """

    const_before: ClassVar[dict[str, str]] = {"weight": "ios17", "bias": "ios17"}
    inputs = (
        InputSpec("x", FLOATS, rank=(3, 4, 5)),
        InputSpec("weight", FLOATS, rank=(3, 4, 5)),
        InputSpec("bias", FLOATS, optional=True, rank=(1,)),
        InputSpec("pad", ("int32",), const=True, optional=True, default=spatial_zero_pads, rank=(1,)),
        InputSpec("output_shape", ("int32",), const=True, optional=True, rank=(1,)),
        InputSpec("pad_type", ("string",), const=True, optional=True, default="valid", rank=(0,)),
        InputSpec("strides", ("int32",), const=True, optional=True, default=spatial_ones, rank=(1,)),
        InputSpec("dilations", ("int32",), const=True, optional=True, default=spatial_ones, rank=(1,)),
        InputSpec("groups", ("int32",), const=True, optional=True, default=i32(1), rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, w = cls.tensor(ctx, "x"), cls.tensor(ctx, "weight")
        cls._check_dtypes(ctx, x)
        s = x.rank - 2
        if w.rank != x.rank:
            raise InferError(f"weight rank {w.rank} != x rank {x.rank} ([C_in, C_out/groups, *K])")
        strides, dilations, pad_type, pad, groups = cls._params(ctx, s)
        if not dims_equal(w.shape[0], x.shape[1]):
            raise InferError(f"weight dim 0 {w.shape[0]} != x channels {x.shape[1]}")
        c_out = None if w.shape[1] is None else w.shape[1] * groups
        cls._check_bias(ctx, c_out)
        output_shape = cls.ints_value(ctx, "output_shape")
        if output_shape is not None:
            if len(output_shape) != x.rank:
                raise InferError(f"output_shape must have {x.rank} entries, got {output_shape}")
            if not dims_equal(x.shape[0], output_shape[0]) or not dims_equal(c_out, output_shape[1]):
                raise InferError(f"output_shape {output_shape} must start with [N, C_out] = [{x.shape[0]}, {c_out}]")
            return [TensorType(x.dtype, tuple(output_shape))]
        sizes, kernels = list(x.shape[2:]), list(w.shape[2:])
        out: list[int | None] = []
        for i in range(s):
            if pad_type == "valid":
                p: tuple[int, int] | None = (0, 0)
            elif pad_type == "custom":
                p = None if pad is None else spatial_pads("custom", sizes, kernels, strides, dilations, pad)[i]
            else:
                # same / same_lower: output = input · stride (coremltools conv_transpose).
                out.append(None if sizes[i] is None else sizes[i] * strides[i])
                continue
            out.append(conv_transpose_output_dim(sizes[i], kernels[i], strides[i], dilations[i], p))
        return [TensorType(x.dtype, (x.shape[0], c_out, *out))]
