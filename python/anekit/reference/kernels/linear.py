"""Linear-algebra kernels: matmul, linear, einsum (docs/internals/mil-format.md §10.1).

Float products run through numpy's BLAS in the compute dtype (float32 accumulation for ``precision="ane"``;
the ANE's own accumulation width is an open question, docs/internals/mil-format.md §14).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_bool, as_str, bit_view

__all__: list[str] = []


def _swap_last(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2) if a.ndim >= 2 else a


@kernel("matmul")
def matmul(
    ctx: KernelContext,
    x: np.ndarray,
    y: np.ndarray,
    transpose_x: Any = False,
    transpose_y: Any = False,
) -> list[np.ndarray]:
    """``np.matmul(swap(x) if transpose_x, swap(y) if transpose_y)``.

    ``swap`` exchanges the two last axes; batch dims broadcast like numpy; a 1-D operand follows numpy's
    rules and its transpose flag has no effect.
    """
    xa, ya = np.asarray(x), np.asarray(y)
    if as_bool(transpose_x):
        xa = _swap_last(xa)
    if as_bool(transpose_y):
        ya = _swap_last(ya)
    kx = xa.shape[-1]
    ky = ya.shape[-2] if ya.ndim >= 2 else ya.shape[0]
    if kx != ky:
        raise ctx.error(f"inner dimensions differ: x {xa.shape} and y {ya.shape} (after transposes)")
    if xa.dtype != ya.dtype:
        common = np.result_type(xa, ya)
        xa, ya = xa.astype(common, copy=False), ya.astype(common, copy=False)
    return [_product_repeated_rows(xa, ya)]


def _product_repeated_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`_product`, computing each run of bit-identical consecutive rows of ``x`` once.

    Output row ``i`` of a matrix product depends on row ``i`` of ``x`` alone. A decode step's attention has one
    query per padded column, and the host fills the 31 padding columns with copies of the token
    (:meth:`anekit.models.Llama.decode`), so ``q @ k`` and ``p @ v`` see runs of 32 identical rows; each run is
    computed once and repeated. Rows match by their bits in every batch (a NaN row only matches the same bits).
    As for the 1x1 conv's repeated columns, this is exact in real arithmetic, and in float32 differs only by the
    summation order BLAS picks for the number of rows.
    """
    m = x.shape[-2] if x.ndim >= 2 else 0
    bits = bit_view(x) if m >= 2 and y.ndim >= 2 and x.dtype.kind == "f" else None
    if bits is None:
        return _product(x, y)
    same = np.all(bits[..., 1:, :] == bits[..., :-1, :], axis=-1)  # [..., M-1]: row i+1 equals row i
    same = same.reshape(-1, m - 1).all(axis=0)  # in every batch
    starts = np.concatenate([[0], np.flatnonzero(~same) + 1])
    if 2 * starts.size > m:
        return _product(x, y)
    counts = np.diff(np.append(starts, m))
    return np.repeat(_product(np.ascontiguousarray(x[..., starts, :]), y), counts, axis=-2)


def _product(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``np.matmul`` routed to one BLAS GEMM where possible.

    numpy's batched matmul of an N-D operand with a 2-D (possibly transposed) one loops over the batch and can
    fall off the BLAS path, 10x slower; stacking the batch into rows gives the same result with one GEMM.
    """
    if x.ndim > 2 and y.ndim == 2:
        return (x.reshape(-1, x.shape[-1]) @ y).reshape(*x.shape[:-1], y.shape[-1])
    if x.ndim > 2 or y.ndim > 2:
        return np.matmul(np.ascontiguousarray(x), np.ascontiguousarray(y))
    return np.matmul(x, y)


@kernel("linear")
def linear(ctx: KernelContext, x: np.ndarray, weight: np.ndarray, bias: Any = None) -> list[np.ndarray]:
    """``x · weightᵀ + bias`` with ``x [*D, D_in]``, ``weight [D_out, D_in]``, ``bias [D_out]`` (default 0)."""
    xa = np.asarray(x)
    w = np.asarray(weight, dtype=xa.dtype)
    if w.ndim != 2 or xa.shape[-1] != w.shape[1]:
        raise ctx.error(f"weight {w.shape} does not match x {xa.shape}: expected [D_out, {xa.shape[-1]}]")
    y = _product(xa, w.T)
    if bias is not None:
        y += np.asarray(bias, dtype=y.dtype)
    return [y]


@kernel("einsum")
def einsum(ctx: KernelContext, values: tuple[np.ndarray, ...], equation: Any) -> list[np.ndarray]:
    """``np.einsum(equation, *values)`` (MIL accepts a subset of patterns; numpy's semantics are the superset)."""
    eq = as_str(equation)
    arrays = [np.asarray(v) for v in values]
    try:
        return [np.einsum(eq, *arrays, optimize=True)]
    except ValueError as exc:
        raise ctx.error(f"einsum equation {eq!r} does not fit operands {[a.shape for a in arrays]}: {exc}") from None
