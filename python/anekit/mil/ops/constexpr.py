"""Compressed-weight ``constexpr_*`` ops (decompressed at load time; every operand is const).

Reference: docs/internals/mil-format.md §7.4 and §10.7; coremltools ``iOS16/constexpr_ops.py`` and
``iOS18/compression.py``.

Spellings: before iOS18 the constexpr operands are **attributes** (``constexpr_affine_dequantize()[axis = …,
quantized_data = …]``); the iOS18 ops take inline arguments. ``constexpr_lut_to_dense`` and
``constexpr_sparse_to_dense`` exist in both worlds with different signatures: their iOS16 form (attributes,
packed uint8 data plus a ``shape``) is used for ios16/ios17 functions and the iOS18 form (inline, sub-byte
typed data with the dense shape) for ios18 — see :meth:`Op.operands_as_attributes`. Attribute operands may
arrive without a type (only a value); their type is then derived from the numpy value.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from ..types import TensorType, Type, dtype
from ._base import Op
from ._infer import FLOATS, InferError, dims_equal, fmt_shape, normalize_axis, prod
from ._spec import InferContext, InputSpec, opset_index, register_op

__all__ = ["ConstexprOp", "per_axis_check"]


_SUBBYTE_U = ("uint1", "uint2", "uint3", "uint4", "uint6", "uint8")
_SRC18 = ("int4", "uint4", "int8", "uint8", "fp16", "fp32")
_LUT_T = ("int8", "uint8", "fp16", "fp32")


class ConstexprOp(Op):
    """Base of the ``constexpr_*`` ops: every operand is const; inputs may be attributes (pre-iOS18)."""

    category = "quantization"
    attrs_as_inputs = True

    @classmethod
    def check_inputs(cls, ctx: InferContext) -> None:
        for spec in cls.inputs:
            present = ctx.has(spec.name) or ctx.attr(spec.name) is not None
            if not present and not spec.optional:
                raise InferError(f"missing required operand '{spec.name}'")
            if present:
                if spec.min_opset is not None and opset_index(ctx.opset) < opset_index(spec.min_opset):
                    raise InferError(f"operand '{spec.name}' exists from {spec.min_opset} on, not in {ctx.opset}")
                t = cls.operand(ctx, spec.name)
                allowed = cls.allowed_dtypes(spec.name, ctx.opset)
                if allowed and t.dtype.name not in allowed:
                    raise InferError(
                        f"operand '{spec.name}' dtype {t.dtype} not allowed in {ctx.opset}; "
                        f"expected one of {', '.join(allowed)}"
                    )
                if spec.rank and t.rank not in spec.rank:
                    raise InferError(f"operand '{spec.name}' must have rank {spec.rank}, got {t.rank}")

    @classmethod
    def operand(cls, ctx: InferContext, name: str) -> TensorType:
        """The operand's type: the declared type, else one derived from its (attribute) value."""
        t = ctx.type(name)
        if isinstance(t, TensorType):
            return t
        v = ctx.value(name)
        if v is None:
            v = ctx.attr(name)
        if v is None:
            raise InferError(f"operand '{name}' has neither a type nor a value")
        arr = np.asarray(v)
        return TensorType(dtype(arr.dtype), arr.shape)

    @classmethod
    def opt_operand(cls, ctx: InferContext, name: str) -> TensorType | None:
        if not ctx.has(name) and ctx.attr(name) is None:
            return None
        return cls.operand(ctx, name)


def per_axis_check(t: TensorType | None, name: str, size: int | None) -> None:
    """A scalar, or a vector of length ``size`` (the quantized axis)."""
    if t is None or t.rank == 0:
        return
    if t.rank != 1 or not dims_equal(t.shape[0], size):
        raise InferError(f"'{name}' must be a scalar or a vector of length {size}, got {fmt_shape(t.shape)}")


@register_op("constexpr_affine_dequantize", category="quantization")
class ConstexprAffineDequantize(ConstexprOp):
    """``scale · (quantized_data − zero_point)``, per-tensor or along ``axis`` (iOS16+, attribute operands).

    Args:
        quantized_data: const ``tensor<[*D], uint8|int8>``.
        zero_point: const scalar or ``[D[axis]]`` of uint8/int8/fp32.
        scale: const scalar or ``[D[axis]]`` of fp16/fp32 (the output dtype).
        axis: const int32 scalar.

    Returns:
        ``tensor<[*D], scale dtype>``. Still accepted by the ANE inside ios18 functions (docs/internals/mil-format.md
        §7.4), so the op is not capped at ios17.
    """

    inputs = (
        InputSpec("quantized_data", ("uint8", "int8"), const=True),
        InputSpec("zero_point", ("uint8", "int8", "fp32"), const=True, rank=(0, 1)),
        InputSpec("scale", FLOATS, const=True, rank=(0, 1)),
        InputSpec("axis", ("int32",), const=True, rank=(0,)),
    )
    min_opset = "ios16"

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        q = cls.operand(ctx, "quantized_data")
        zp, scale = cls.operand(ctx, "zero_point"), cls.operand(ctx, "scale")
        axis = cls.int_value(ctx, "axis")
        if axis is None:
            raise InferError("axis must be const")
        size = q.shape[normalize_axis(axis, q.rank)]
        per_axis_check(zp, "zero_point", size)
        per_axis_check(scale, "scale", size)
        if zp.dtype.name != "fp32" and zp.dtype != q.dtype:
            raise InferError(f"zero_point dtype {zp.dtype} must equal quantized_data dtype {q.dtype} (or be fp32)")
        return [TensorType(scale.dtype, q.shape)]


@register_op("constexpr_cast", category="quantization")
class ConstexprCast(ConstexprOp):
    """Cast a const ``source_val`` (fp16) to ``output_dtype`` (``"fp32"``) at load time (iOS16+)."""

    inputs = (
        InputSpec("source_val", ("fp16",), const=True),
        InputSpec("output_dtype", ("string",), const=True, rank=(0,)),
    )
    min_opset = "ios16"

    @classmethod
    def check_inputs(cls, ctx: InferContext) -> None:
        cls._present(ctx)
        src = cls.operand(ctx, "source_val")
        if src.dtype.name != "fp16":
            raise InferError(f"source_val must be fp16, got {src.dtype}")

    @classmethod
    def _present(cls, ctx: InferContext) -> None:
        for name in ("source_val", "output_dtype"):
            if not ctx.has(name) and ctx.attr(name) is None:
                raise InferError(f"missing required operand '{name}'")

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        out = cls.choice(ctx, "output_dtype", ("fp32",))
        return [cls.operand(ctx, "source_val").with_dtype(out or "fp32")]


def _is18(ctx: InferContext) -> bool:
    return opset_index(ctx.opset) >= opset_index("ios18")


@register_op("constexpr_lut_to_dense", category="quantization")
class ConstexprLutToDense(ConstexprOp):
    """Palettized weights: look ``indices`` up in ``lut``.

    iOS16/17 (attribute operands): ``indices`` packed ``uint8[M]`` (LSB first), ``lut`` ``T[2^nbits]`` with
    nbits ∈ {1, 2, 4, 6, 8}, ``shape`` ``uint32[K]`` → ``tensor<shape, T>``; ``M = ceil(prod(shape)·nbits/8)``.

    iOS18 (inline): ``indices`` ``uint1…uint8`` with the output's shape ``[*D]``, ``lut``
    ``T[*B, 2^nbits, V]`` of rank ``K + 2`` (``B[i]`` divides ``D[i]``), ``vector_axis`` int32 (needed when
    V > 1) → ``tensor<D with D[vector_axis]·V, T>``.

    T ∈ {int8, uint8, fp16, fp32}.
    """

    inputs = (
        InputSpec("indices", _SUBBYTE_U, const=True),
        InputSpec("lut", _LUT_T, const=True),
        InputSpec("shape", ("uint32",), const=True, optional=True, rank=(1,)),
        InputSpec("vector_axis", ("int32",), const=True, optional=True, rank=(0,), min_opset="ios18"),
    )
    min_opset = "ios16"
    dtype_history: ClassVar = {"indices": (("ios16", ("uint8",)), ("ios18", _SUBBYTE_U))}

    @classmethod
    def operands_as_attributes(cls, opset: str) -> bool:
        return opset_index(opset) < opset_index("ios18")

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        idx, lut = cls.operand(ctx, "indices"), cls.operand(ctx, "lut")
        if not _is18(ctx):
            return [cls._ios16(ctx, idx, lut)]
        if ctx.has("shape") or ctx.attr("shape") is not None:
            raise InferError("'shape' is an iOS16/17 operand; the ios18 form takes indices with the dense shape")
        return [lut_dense_type(ctx, cls, idx, lut, idx.shape)]

    @classmethod
    def _ios16(cls, ctx: InferContext, idx: TensorType, lut: TensorType) -> TensorType:
        if idx.rank != 1 or lut.rank != 1:
            raise InferError(f"ios16 indices and lut must be 1-D, got {fmt_shape(idx.shape)}, {fmt_shape(lut.shape)}")
        nbits = {2: 1, 4: 2, 16: 4, 64: 6, 256: 8}.get(lut.shape[0] or -1)
        if nbits is None:
            raise InferError(f"lut must have 2, 4, 16, 64 or 256 entries (nbits 1, 2, 4, 6, 8), got {lut.shape[0]}")
        shape = cls.ints_value(ctx, "shape")
        if shape is None:
            raise InferError("'shape' (uint32 const) is required in ios16/ios17")
        n = prod(shape)
        if n is not None and idx.shape[0] is not None and idx.shape[0] != math.ceil(n * nbits / 8):
            raise InferError(
                f"indices has {idx.shape[0]} bytes; {n} elements of {nbits} bits need {math.ceil(n * nbits / 8)}"
            )
        return TensorType(lut.dtype, tuple(shape))


def lut_dense_type(
    ctx: InferContext,
    cls: type[Op],
    idx: TensorType,
    lut: TensorType,
    dense: tuple[int | None, ...],
) -> TensorType:
    """Output type of an iOS18 LUT lookup over ``dense``-shaped indices (shared with lut_to_sparse)."""
    k = len(dense)
    if k < 1 or lut.rank != k + 2:
        raise InferError(f"lut rank {lut.rank} must be indices rank {k} + 2")
    for i in range(k):
        if dense[i] is not None and lut.shape[i] is not None and dense[i] % lut.shape[i]:
            raise InferError(f"indices dim {i} ({dense[i]}) not divisible by lut dim {i} ({lut.shape[i]})")
    nbits = idx.dtype.bits
    if lut.shape[-2] is not None and lut.shape[-2] != 2**nbits:
        raise InferError(f"lut dim -2 must be 2^{nbits} = {2**nbits} for {idx.dtype} indices, got {lut.shape[-2]}")
    vsize = lut.shape[-1]
    out = list(dense)
    axis = cls.int_value(ctx, "vector_axis")
    if axis is not None:
        axis = normalize_axis(axis, k, "vector_axis")
    if vsize != 1:
        if axis is None:
            raise InferError("vector_axis is required when the lut vector size (last dim) is > 1")
        out[axis] = None if out[axis] is None or vsize is None else out[axis] * vsize
    return TensorType(lut.dtype, tuple(out))


@register_op("constexpr_sparse_to_dense", category="quantization")
class ConstexprSparseToDense(ConstexprOp):
    """Sparse weights: ``nonzero_data`` fills the set bits of ``mask`` in row-major order.

    iOS16/17 (attributes): ``nonzero_data`` ``T[D]``, ``mask`` packed ``uint8[M]`` (LSB first),
    ``shape`` ``uint32[K]`` → ``tensor<shape, T>`` with ``M = ceil(prod(shape)/8)``.
    iOS18 (inline): ``mask`` ``uint1`` with the dense shape → ``tensor<mask.shape, T>``.
    """

    inputs = (
        InputSpec("nonzero_data", _SRC18, const=True, rank=(1,)),
        InputSpec("mask", ("uint8", "uint1"), const=True),
        InputSpec("shape", ("uint32",), const=True, optional=True, rank=(1,)),
    )
    min_opset = "ios16"
    dtype_history: ClassVar = {
        "nonzero_data": (("ios16", ("int8", "uint8", "fp16", "fp32")), ("ios18", _SRC18)),
        "mask": (("ios16", ("uint8",)), ("ios18", ("uint1",))),
    }

    @classmethod
    def operands_as_attributes(cls, opset: str) -> bool:
        return opset_index(opset) < opset_index("ios18")

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        data, mask = cls.operand(ctx, "nonzero_data"), cls.operand(ctx, "mask")
        if _is18(ctx):
            if ctx.has("shape") or ctx.attr("shape") is not None:
                raise InferError("'shape' is an iOS16/17 operand; the ios18 mask has the dense shape")
            _check_popcount(cls, ctx, "mask", data.shape[0], packed=False)
            return [TensorType(data.dtype, mask.shape)]
        shape = cls.ints_value(ctx, "shape")
        if shape is None:
            raise InferError("'shape' (uint32 const) is required in ios16/ios17")
        n = prod(shape)
        if mask.rank != 1 or (n is not None and mask.shape[0] is not None and mask.shape[0] != math.ceil(n / 8)):
            raise InferError(
                f"mask must be uint8[ceil({n}/8)] = [{math.ceil((n or 0) / 8)}], got {fmt_shape(mask.shape)}"
            )
        _check_popcount(cls, ctx, "mask", data.shape[0], packed=True)
        return [TensorType(data.dtype, tuple(shape))]


def _check_popcount(cls: type[Op], ctx: InferContext, name: str, count: int | None, packed: bool) -> None:
    v = cls.value_array(ctx, name)
    if v is None or count is None:
        return
    arr = np.asarray(v)
    ones = int(np.unpackbits(arr.astype(np.uint8)).sum()) if packed else int(np.count_nonzero(arr))
    if ones != count:
        raise InferError(f"'{name}' has {ones} set bits but nonzero_data has {count} entries")


def _shift_scale_check(cls: type[Op], ctx: InferContext, dense: tuple[int | None, ...], data_dtype: str) -> TensorType:
    scale = cls.operand(ctx, "scale")  # type: ignore[attr-defined]
    if len(dense) < 1 or scale.rank != len(dense):
        raise InferError(f"scale rank {scale.rank} must equal data rank {len(dense)} (>= 1)")
    for i, (d, s) in enumerate(zip(dense, scale.shape, strict=True)):
        if d is not None and s is not None and (s == 0 or d % s):
            raise InferError(f"data dim {i} ({d}) is not a multiple of scale dim {i} ({s})")
    off = cls.opt_operand(ctx, "offset")  # type: ignore[attr-defined]
    if off is not None:
        if off.rank != scale.rank or not all(dims_equal(a, b) for a, b in zip(off.shape, scale.shape, strict=True)):
            raise InferError(f"offset shape {fmt_shape(off.shape)} must equal scale shape {fmt_shape(scale.shape)}")
        if not off.dtype.is_float and off.dtype.name != data_dtype:
            raise InferError(f"offset dtype {off.dtype} must be a float or equal data dtype {data_dtype}")
    return scale


@register_op("constexpr_blockwise_shift_scale", category="quantization")
class ConstexprBlockwiseShiftScale(ConstexprOp):
    """Blockwise dequantisation ``scale[i/bs] · (data[i] − offset[i/bs])`` (iOS18, inline operands).

    Args:
        data: const ``tensor<[*D], SrcT>`` (int4/uint4/int8/uint8/fp16/fp32).
        scale: const ``tensor<[*S], DstT>`` (fp16/fp32) of data's rank; ``S[i]`` divides ``D[i]``.
        offset: const, optional, scale's shape; a float or data's dtype.

    Returns:
        ``tensor<[*D], DstT>``.
    """

    inputs = (
        InputSpec("data", _SRC18, const=True),
        InputSpec("scale", FLOATS, const=True),
        InputSpec("offset", _SRC18, const=True, optional=True),
    )
    min_opset = "ios18"
    attrs_as_inputs = False

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        data = cls.operand(ctx, "data")
        scale = _shift_scale_check(cls, ctx, data.shape, data.dtype.name)
        return [TensorType(scale.dtype, data.shape)]


@register_op("constexpr_lut_to_sparse", category="quantization")
class ConstexprLutToSparse(ConstexprOp):
    """LUT lookup applied to sparse indices (iOS18); outputs the (expanded) uint1 mask and the values.

    Args:
        indices_mask: const ``uint1[*D]``; indices_nonzero_data: const ``IndicesT[N]`` (N = set bits);
        lut: const ``T[*B, 2^nbits, V]``; vector_axis: const int32, needed when V > 1.

    Returns:
        ``tensor<D (·V on vector_axis), uint1>`` and ``tensor<[N·V], T>``.
    """

    inputs = (
        InputSpec("indices_mask", ("uint1",), const=True),
        InputSpec("indices_nonzero_data", _SUBBYTE_U, const=True, rank=(1,)),
        InputSpec("lut", _LUT_T, const=True),
        InputSpec("vector_axis", ("int32",), const=True, optional=True, rank=(0,)),
    )
    min_opset = "ios18"
    attrs_as_inputs = False

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        mask, nz = cls.operand(ctx, "indices_mask"), cls.operand(ctx, "indices_nonzero_data")
        lut = cls.operand(ctx, "lut")
        _check_popcount(cls, ctx, "indices_mask", nz.shape[0], packed=False)
        dense = lut_dense_type(ctx, cls, nz, lut, mask.shape)
        v = lut.shape[-1]
        n = None if nz.shape[0] is None or v is None else nz.shape[0] * v
        return [TensorType("uint1", dense.shape), TensorType(lut.dtype, (n,))]


@register_op("constexpr_sparse_blockwise_shift_scale", category="quantization")
class ConstexprSparseBlockwiseShiftScale(ConstexprOp):
    """Blockwise shift-scale applied to sparse data (iOS18); outputs the uint1 mask and the values.

    Args:
        data_mask: const ``uint1[*D]``; nonzero_data: const ``SrcT[N]``; scale: const ``DstT[*S]``;
        offset: const, optional (as constexpr_blockwise_shift_scale over the dense shape D).

    Returns:
        ``tensor<[*D], uint1>`` and ``tensor<[N], DstT>``.
    """

    inputs = (
        InputSpec("data_mask", ("uint1",), const=True),
        InputSpec("nonzero_data", _SRC18, const=True, rank=(1,)),
        InputSpec("scale", FLOATS, const=True),
        InputSpec("offset", _SRC18, const=True, optional=True),
    )
    min_opset = "ios18"
    attrs_as_inputs = False

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        mask, nz = cls.operand(ctx, "data_mask"), cls.operand(ctx, "nonzero_data")
        _check_popcount(cls, ctx, "data_mask", nz.shape[0], packed=False)
        scale = _shift_scale_check(cls, ctx, mask.shape, nz.dtype.name)
        return [TensorType("uint1", mask.shape), TensorType(scale.dtype, nz.shape)]
