"""Compressed-weight decompression, the ``constexpr_*`` ops (docs/internals/mil-format.md §7.4, §10.7; formulas as in
coremltools' iOS16/iOS18 constexpr definitions).

The executor evaluates constexpr ops once, when it prepares a function (their operands are all constants).
Float results are computed in the compute dtype and stored in the declared type (fp16 outputs land on the fp16
grid for ``precision="ane"``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_int, as_int_tuple, as_str, norm_axis

__all__ = ["along_axis", "lut_lookup", "unpack_lsb_first"]


def unpack_lsb_first(packed: np.ndarray, nbits: int, count: int) -> np.ndarray:
    """The first ``count`` ``nbits``-bit unsigned values of a byte stream packed LSB first (§9.5)."""
    bits = np.unpackbits(np.asarray(packed, dtype=np.uint8).reshape(-1), bitorder="little")
    if bits.size < count * nbits:
        raise ValueError(f"{bits.size // 8} bytes hold fewer than {count} values of {nbits} bits")
    groups = bits[: count * nbits].reshape(count, nbits).astype(np.uint16)
    return (groups << np.arange(nbits, dtype=np.uint16)).sum(axis=1).astype(np.uint8)


def along_axis(ctx: KernelContext, v: np.ndarray, ndim: int, axis: int | None, what: str) -> np.ndarray:
    """A scalar, or a vector broadcast along ``axis`` of a rank-``ndim`` tensor."""
    if v.ndim == 0 or (v.size == 1 and axis is None):
        return v.reshape(())
    if axis is None:
        raise ctx.error(f"{what} is a vector but no axis was given")
    shape = [1] * ndim
    shape[axis] = v.size
    return v.reshape(shape)


@kernel("constexpr_affine_dequantize")
def constexpr_affine_dequantize(
    ctx: KernelContext, quantized_data: np.ndarray, zero_point: Any, scale: Any, axis: Any
) -> list[np.ndarray]:
    """``scale · (quantized_data − zero_point)``; vector scale/zero_point run along ``axis``; the output
    has the scale's dtype."""
    q = np.asarray(quantized_data)
    ax = norm_axis(ctx, as_int(axis), q.ndim)
    fd = ctx.float_dtype
    zp = along_axis(ctx, np.asarray(zero_point, dtype=fd), q.ndim, ax, "zero_point")
    sc = along_axis(ctx, np.asarray(scale, dtype=fd), q.ndim, ax, "scale")
    return [sc * (q.astype(fd) - zp)]


@kernel("constexpr_cast", preserves_values=True)
def constexpr_cast(ctx: KernelContext, source_val: np.ndarray, output_dtype: Any) -> list[np.ndarray]:
    """Cast the fp16 ``source_val`` to ``output_dtype`` (exact: fp16 → fp32)."""
    target = as_str(output_dtype)
    if target not in ("fp16", "fp32"):
        raise ctx.error(f"output_dtype {target!r} is not fp16 or fp32")
    return [np.asarray(source_val, dtype=ctx.float_dtype)]


def lut_lookup(ctx: KernelContext, indices: np.ndarray, lut: np.ndarray, vector_axis: int | None) -> np.ndarray:
    """iOS18 palettisation: ``indices`` with the dense shape ``D``; ``lut [*B, 2^n, V]`` with one table per
    block (``B[i]`` divides ``D[i]``); with ``V > 1`` each index expands into ``V`` consecutive elements along
    ``vector_axis``."""
    idx = np.asarray(indices).astype(np.intp)
    k = idx.ndim
    if lut.ndim != k + 2 or any(d % b for d, b in zip(idx.shape, lut.shape[:k], strict=True)):
        raise ctx.error(f"lut {lut.shape} does not fit indices {idx.shape}: need [*B, 2^n, V], B dividing D")
    if idx.size and (idx.min() < 0 or idx.max() >= lut.shape[-2]):
        raise ctx.error(f"indices exceed the lut's {lut.shape[-2]} entries")
    blocks = np.ix_(*(np.arange(d) // (d // b) for d, b in zip(idx.shape, lut.shape[:k], strict=True)))
    vals = lut[(*blocks, idx)]  # [*D, V]
    v = lut.shape[-1]
    if v == 1:
        return vals[..., 0]
    if vector_axis is None:
        raise ctx.error("vector_axis is required when the lut vector size is > 1")
    ax = norm_axis(ctx, vector_axis, k, what="vector_axis")
    out_shape = list(idx.shape)
    out_shape[ax] *= v
    return np.moveaxis(vals, -1, ax + 1).reshape(out_shape)


@kernel("constexpr_lut_to_dense")
def constexpr_lut_to_dense(
    ctx: KernelContext, indices: np.ndarray, lut: np.ndarray, shape: Any = None, vector_axis: Any = None
) -> list[np.ndarray]:
    """Palettised weights. iOS16/17: ``indices`` packed LSB first with ``log2(len(lut))`` bits each,
    ``lut[unpacked[:prod(shape)]].reshape(shape)``. iOS18: see :func:`lut_lookup`."""
    table = np.asarray(lut)
    if shape is not None:  # iOS16/17 form
        dims = as_int_tuple(shape)
        nbits = {2: 1, 4: 2, 16: 4, 64: 6, 256: 8}.get(table.size)
        if table.ndim != 1 or nbits is None:
            raise ctx.error(f"lut must be 1-D with 2, 4, 16, 64 or 256 entries, got shape {table.shape}")
        n = math.prod(dims)
        try:
            flat = unpack_lsb_first(indices, nbits, n)
        except ValueError as exc:
            raise ctx.error(str(exc)) from None
        return [table[flat.astype(np.intp)].reshape(dims)]
    return [lut_lookup(ctx, indices, table, None if vector_axis is None else as_int(vector_axis))]


def _sparse_fill(ctx: KernelContext, nonzero_data: np.ndarray, mask_bits: np.ndarray) -> np.ndarray:
    nz = np.asarray(nonzero_data).reshape(-1)
    m = mask_bits != 0
    if int(m.sum()) != nz.size:
        raise ctx.error(f"mask has {int(m.sum())} set bits but nonzero_data has {nz.size} values")
    out = np.zeros(m.shape, dtype=nz.dtype)
    out[m] = nz
    return out


@kernel("constexpr_sparse_to_dense")
def constexpr_sparse_to_dense(
    ctx: KernelContext, nonzero_data: np.ndarray, mask: np.ndarray, shape: Any = None
) -> list[np.ndarray]:
    """Sparse weights: ``nonzero_data`` fills the set bits of ``mask`` in row-major order, zeros elsewhere.
    iOS16/17: ``mask`` is packed LSB first and ``shape`` gives the dense shape; iOS18: ``mask`` is uint1
    with the dense shape."""
    if shape is not None:
        dims = as_int_tuple(shape)
        try:
            bits = unpack_lsb_first(mask, 1, math.prod(dims)).reshape(dims)
        except ValueError as exc:
            raise ctx.error(str(exc)) from None
        return [_sparse_fill(ctx, nonzero_data, bits)]
    return [_sparse_fill(ctx, nonzero_data, np.asarray(mask))]


def _blockwise(ctx: KernelContext, data: np.ndarray, scale: np.ndarray, offset: Any) -> np.ndarray:
    """``scale[i/bs] · (data[i] − offset[i/bs])`` with ``bs[d] = data.shape[d] / scale.shape[d]``."""
    fd = ctx.float_dtype
    d = np.asarray(data).astype(fd)
    s = np.asarray(scale, dtype=fd)
    if s.ndim != d.ndim or any(a % b for a, b in zip(d.shape, s.shape, strict=True)):
        raise ctx.error(f"scale {s.shape} must have data's rank with dims dividing data {d.shape}")
    reps = [a // b for a, b in zip(d.shape, s.shape, strict=True)]

    def expand(v: np.ndarray) -> np.ndarray:
        for axis, r in enumerate(reps):
            if r > 1:
                v = np.repeat(v, r, axis=axis)
        return v

    if offset is not None:
        o = np.asarray(offset, dtype=fd)
        if o.shape != s.shape:
            raise ctx.error(f"offset {o.shape} must have scale's shape {s.shape}")
        d = d - expand(o)
    return expand(s) * d


@kernel("constexpr_blockwise_shift_scale")
def constexpr_blockwise_shift_scale(
    ctx: KernelContext, data: np.ndarray, scale: np.ndarray, offset: Any = None
) -> list[np.ndarray]:
    """Blockwise dequantisation (iOS18); output dtype is the scale's."""
    return [_blockwise(ctx, data, scale, offset)]


@kernel("constexpr_lut_to_sparse")
def constexpr_lut_to_sparse(
    ctx: KernelContext,
    indices_mask: np.ndarray,
    indices_nonzero_data: np.ndarray,
    lut: np.ndarray,
    vector_axis: Any = None,
) -> list[np.ndarray]:
    """LUT lookup on sparse indices (iOS18): the mask (repeated ``V`` times along ``vector_axis``) and the
    looked-up values at its set positions, row-major."""
    mask = np.asarray(indices_mask)
    dense_idx = _sparse_fill(ctx, indices_nonzero_data, mask)
    va = None if vector_axis is None else as_int(vector_axis)
    values = lut_lookup(ctx, dense_idx, np.asarray(lut), va)
    out_mask = mask
    if va is not None and np.asarray(lut).shape[-1] > 1:
        out_mask = np.repeat(mask, np.asarray(lut).shape[-1], axis=norm_axis(ctx, va, mask.ndim))
    return [out_mask.astype(np.uint8), values[out_mask != 0].reshape(-1)]


@kernel("constexpr_sparse_blockwise_shift_scale")
def constexpr_sparse_blockwise_shift_scale(
    ctx: KernelContext, data_mask: np.ndarray, nonzero_data: np.ndarray, scale: np.ndarray, offset: Any = None
) -> list[np.ndarray]:
    """Blockwise shift-scale of sparse data (iOS18): the mask and the dequantised values at its set bits."""
    mask = np.asarray(data_mask)
    dense = _sparse_fill(ctx, nonzero_data, mask)
    deq = _blockwise(ctx, dense, scale, offset)
    return [mask.astype(np.uint8), deq[mask != 0].reshape(-1)]
