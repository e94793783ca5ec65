"""Convolution kernels: ``conv`` and ``conv_transpose``, 1-D to 3-D, grouped (docs/internals/mil-format.md §10.1).

``conv`` lowers to one matrix product per group: a 1×1 convolution with stride 1 and no padding (the ANE's
linear layer on ``[1, C, 1, S]``) is a single GEMM on the reshaped input; any other convolution gathers the
receptive fields into a strided view (im2col) first. ``conv_transpose`` scatters one GEMM per kernel tap.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._registry import KernelContext, kernel
from ._util import as_int, as_int_tuple, as_str, bit_view

__all__ = ["conv_pads"]

_PAD_TYPES = ("valid", "same", "same_lower", "custom")


def _spatial_param(ctx: KernelContext, v: Any, n: int, default: int, what: str) -> tuple[int, ...]:
    if v is None:
        return (default,) * n
    t = as_int_tuple(v)
    if len(t) != n:
        raise ctx.error(f"{what} has {len(t)} entries; expected one per spatial dim ({n})")
    if any(i < 1 for i in t):
        raise ctx.error(f"{what} entries must be >= 1, got {list(t)}")
    return t


def conv_pads(
    ctx: KernelContext,
    pad_type: str,
    pad: Any,
    in_sizes: tuple[int, ...],
    eff_kernel: tuple[int, ...],
    strides: tuple[int, ...],
) -> list[tuple[int, int]]:
    """(before, after) padding per spatial dim for conv's pad types (docs/internals/mil-format.md §10.1).

    ``same``: ``d_out = ceil(D/s)``, ``total = max(0, (d_out−1)·s + dk − D)``, ``before = floor(total/2)``;
    ``same_lower`` puts the odd element before instead; ``custom`` reads ``pad`` as
    ``[d0_before, d0_after, d1_before, …]``; ``valid`` pads nothing.
    """
    n = len(in_sizes)
    if pad_type == "valid":
        return [(0, 0)] * n
    if pad_type == "custom":
        p = as_int_tuple(pad) if pad is not None else (0,) * (2 * n)
        if len(p) != 2 * n or any(v < 0 for v in p):
            raise ctx.error(f"custom pad must be {2 * n} non-negative ints, got {list(p)}")
        return [(p[2 * i], p[2 * i + 1]) for i in range(n)]
    if pad_type in ("same", "same_lower"):
        out = []
        for d, dk, s in zip(in_sizes, eff_kernel, strides, strict=True):
            total = max(0, (math.ceil(d / s) - 1) * s + dk - d)
            small = total // 2
            out.append((small, total - small) if pad_type == "same" else (total - small, small))
        return out
    raise ctx.error(f"pad_type {pad_type!r} is not one of {', '.join(_PAD_TYPES)}")


def _check_groups(ctx: KernelContext, c_in: int, c_out: int, groups: int) -> None:
    if groups < 1 or c_in % groups or c_out % groups:
        raise ctx.error(f"groups {groups} must divide input channels {c_in} and output channels {c_out}")


@kernel("conv")
def conv(
    ctx: KernelContext,
    x: np.ndarray,
    weight: np.ndarray,
    bias: Any = None,
    strides: Any = None,
    pad_type: Any = "valid",
    pad: Any = None,
    dilations: Any = None,
    groups: Any = 1,
) -> list[np.ndarray]:
    """N-D convolution (cross-correlation, as in every framework) of ``x [N, C_in, *D]`` with
    ``weight [C_out, C_in/groups, *K]``; output ``[N, C_out, *d_out]`` with
    ``d_out = floor((D + before + after − ((K−1)·dil + 1)) / s) + 1``."""
    xa = np.asarray(x)
    w = np.asarray(weight, dtype=xa.dtype)
    nsp = xa.ndim - 2
    if nsp < 1 or w.ndim != xa.ndim:
        raise ctx.error(f"x {xa.shape} and weight {w.shape} must both be rank 3 to 5 (1-D to 3-D conv)")
    g = as_int(groups)
    n, c_in = xa.shape[:2]
    c_out, cg = w.shape[:2]
    _check_groups(ctx, c_in, c_out, g)
    if cg * g != c_in:
        raise ctx.error(f"weight has {cg} input channels per group; x has {c_in} channels and groups={g}")
    ksz = w.shape[2:]
    st = _spatial_param(ctx, strides, nsp, 1, "strides")
    dil = _spatial_param(ctx, dilations, nsp, 1, "dilations")
    eff = tuple((k - 1) * d + 1 for k, d in zip(ksz, dil, strict=True))
    pads = conv_pads(ctx, as_str(pad_type), pad, xa.shape[2:], eff, st)
    if any(p != (0, 0) for p in pads):
        xa = np.pad(xa, [(0, 0), (0, 0), *pads])
    sizes = xa.shape[2:]
    outs = tuple((s - e) // t + 1 for s, e, t in zip(sizes, eff, st, strict=True))
    if any(o < 1 for o in outs):
        raise ctx.error(f"empty output: padded input {sizes}, effective kernel {eff}, strides {st}")
    cout_g = c_out // g
    wg = w.reshape(g, cout_g, -1)  # [G, Cout/G, Cin/G * prod(K)]
    if all(k == 1 for k in ksz) and all(t == 1 for t in st):
        cols = xa.reshape(n, g, cg, -1)  # 1x1, stride 1: the input already is the column matrix
    else:
        # im2col: a read-only strided view [N, C, *d_out, *K], then one copy into [N, G, Cin/G·prod(K), P].
        xs = xa.strides
        view = as_strided(
            xa,
            shape=(n, c_in, *outs, *ksz),
            strides=(xs[0], xs[1], *(xs[2 + i] * st[i] for i in range(nsp)), *(xs[2 + i] * dil[i] for i in range(nsp))),
            writeable=False,
        )
        order = (0, 1, *range(2 + nsp, 2 + 2 * nsp), *range(2, 2 + nsp))
        cols = view.transpose(order).reshape(n, g, cg * math.prod(ksz), math.prod(outs))
    # One GEMM in the common case (N = 1, G = 1); else a batched product [N, G, Cout/G, P].
    y = _gemm_repeated_tail(wg[0], cols[0, 0])[None, None] if n == 1 and g == 1 else np.matmul(wg[None], cols)
    y = y.reshape(n, c_out, *outs)
    if bias is not None:
        y += np.asarray(bias, dtype=y.dtype).reshape((1, c_out) + (1,) * nsp)
    return [y]


def _gemm_repeated_tail(w: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``w @ cols`` computing a trailing run of bit-identical columns once.

    Single-token programs pad their one position to 32 columns (validator rule ane-single-token), and a host
    that fills the padding with copies of the token (as :meth:`anekit.models.Llama.decode` does) makes every
    column of every activation identical: a product over all 32 would cost 32 times the arithmetic of one
    column. Output column ``j`` of a 1x1 convolution depends on input column ``j`` alone, so identical input
    columns have identical outputs and each is computed once. The match is on the bit patterns (``-0`` and
    ``+0`` differ, a NaN column matches only the same NaN bits), so the values are exactly those of the same
    columns in the full product *in real arithmetic*; in float32 the one difference is BLAS's summation order,
    which depends on the number of columns (as it does on the BLAS build and thread count), a last-bit effect
    before the fp16 rounding of the output.
    """
    s = cols.shape[1]
    bits = bit_view(cols) if s >= 2 else None
    if bits is None:
        return w @ cols
    same = np.all(bits == bits[:, -1:], axis=0)  # [S]: column j equals the last column
    distinct = s - int(np.argmin(same[::-1])) if not same.all() else 0  # columns before the repeated tail
    if distinct >= s - 1:
        return w @ cols  # no run of two or more to share
    y = np.empty((w.shape[0], s), dtype=np.result_type(w, cols))
    y[:, : distinct + 1] = w @ cols[:, : distinct + 1]
    y[:, distinct + 1 :] = y[:, distinct : distinct + 1]
    return y


@kernel("conv_transpose")
def conv_transpose(
    ctx: KernelContext,
    x: np.ndarray,
    weight: np.ndarray,
    bias: Any = None,
    pad: Any = None,
    output_shape: Any = None,
    pad_type: Any = "valid",
    strides: Any = None,
    dilations: Any = None,
    groups: Any = 1,
) -> list[np.ndarray]:
    """Transposed convolution of ``x [N, C_in, *D]`` with ``weight [C_in, C_out/groups, *K]``.

    The full result has ``(D−1)·s + (K−1)·dil + 1`` elements per spatial dim (``valid``); ``custom`` crops
    ``pad[2i]`` before and ``pad[2i+1]`` after; ``same`` produces ``D·s`` elements, cropping the excess
    ``floor(total/2)`` before (conv's ``same`` split); ``output_shape`` (``[N, C_out, *D_out]``) overrides the
    size: the result is cropped at the pad-type's ``before`` offset and zero-extended at the end if needed.
    """
    xa = np.asarray(x)
    w = np.asarray(weight, dtype=xa.dtype)
    nsp = xa.ndim - 2
    if nsp < 1 or w.ndim != xa.ndim:
        raise ctx.error(f"x {xa.shape} and weight {w.shape} must both be rank 3 to 5")
    g = as_int(groups)
    n, c_in = xa.shape[:2]
    if w.shape[0] != c_in:
        raise ctx.error(f"weight dim 0 ({w.shape[0]}) must equal x channels ({c_in})")
    cout_g = w.shape[1]
    c_out = cout_g * g
    _check_groups(ctx, c_in, c_out, g)
    cin_g = c_in // g
    ksz = w.shape[2:]
    st = _spatial_param(ctx, strides, nsp, 1, "strides")
    dil = _spatial_param(ctx, dilations, nsp, 1, "dilations")
    din = xa.shape[2:]
    full = tuple((d - 1) * s + (k - 1) * dd + 1 for d, s, k, dd in zip(din, st, ksz, dil, strict=True))
    acc = np.zeros((n, g, cout_g, *full), dtype=xa.dtype)
    xg = xa.reshape(n, g, cin_g, -1)  # [N, G, Cin/G, P]
    wg = w.reshape(g, cin_g, cout_g, -1)  # [G, Cin/G, Cout/G, prod(K)]
    for t, tap in enumerate(np.ndindex(*ksz)):
        contrib = np.matmul(np.swapaxes(wg[:, :, :, t], 1, 2)[None], xg).reshape(n, g, cout_g, *din)
        region = tuple(slice(tap[i] * dil[i], tap[i] * dil[i] + (din[i] - 1) * st[i] + 1, st[i]) for i in range(nsp))
        acc[(slice(None), slice(None), slice(None), *region)] += contrib
    acc = acc.reshape(n, c_out, *full)
    ptype = as_str(pad_type)
    if ptype == "custom":
        p = as_int_tuple(pad) if pad is not None else (0,) * (2 * nsp)
        if len(p) != 2 * nsp:
            raise ctx.error(f"custom pad must have {2 * nsp} entries, got {list(p)}")
        before = [p[2 * i] for i in range(nsp)]
        sizes = [full[i] - p[2 * i] - p[2 * i + 1] for i in range(nsp)]
    elif ptype == "same":
        sizes = [din[i] * st[i] for i in range(nsp)]
        before = [max(0, full[i] - sizes[i]) // 2 for i in range(nsp)]
    elif ptype == "valid":
        before, sizes = [0] * nsp, list(full)
    else:
        raise ctx.error(f"pad_type {ptype!r} is not one of valid, same, custom")
    if output_shape is not None:
        osh = as_int_tuple(output_shape)
        if len(osh) != xa.ndim or osh[0] != n or osh[1] != c_out:
            raise ctx.error(f"output_shape {list(osh)} must be [N={n}, C_out={c_out}, *D_out]")
        sizes = list(osh[2:])
    if any(s < 1 for s in sizes):
        raise ctx.error(f"empty output: sizes {sizes}")
    y = np.zeros((n, c_out, *sizes), dtype=xa.dtype)
    src = tuple(slice(b, min(b + s, f)) for b, s, f in zip(before, sizes, full, strict=True))
    dst = tuple(slice(0, max(0, min(b + s, f) - b)) for b, s, f in zip(before, sizes, full, strict=True))
    y[(slice(None), slice(None), *dst)] = acc[(slice(None), slice(None), *src)]
    if bias is not None:
        y += np.asarray(bias, dtype=y.dtype).reshape((1, c_out) + (1,) * nsp)
    return [y]
