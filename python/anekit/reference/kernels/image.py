"""Resampling kernels on the last two dims: upsample/resize (nearest, bilinear) and crop
(grid rules from coremltools' iOS15/iOS16 image_resizing definitions)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_bool, as_float, as_int, as_int_tuple, as_str

__all__: list[str] = []


def _rank3(ctx: KernelContext, x: np.ndarray) -> np.ndarray:
    xa = np.asarray(x)
    if xa.ndim < 3:
        raise ctx.error(f"x must have rank >= 3 ([*, H, W]), got shape {xa.shape}")
    return xa


def _bilinear(x: np.ndarray, gy: np.ndarray, gx: np.ndarray) -> np.ndarray:
    """Sample the last two dims of ``x`` at fractional grid coordinates (already clamped to the input)."""
    y0 = np.floor(gy).astype(np.intp)
    x0 = np.floor(gx).astype(np.intp)
    y1 = np.minimum(y0 + 1, x.shape[-2] - 1)
    x1 = np.minimum(x0 + 1, x.shape[-1] - 1)
    wy = (gy - y0).astype(x.dtype)[:, None]
    wx = (gx - x0).astype(x.dtype)[None, :]
    top = x[..., y0, :][..., :, x0] * (1 - wx) + x[..., y0, :][..., :, x1] * wx
    bot = x[..., y1, :][..., :, x0] * (1 - wx) + x[..., y1, :][..., :, x1] * wx
    return top * (1 - wy) + bot * wy


def _grid(mode: str, n_in: int, n_out: int) -> np.ndarray:
    """Sample positions for one axis (coremltools ``resize_bilinear`` sampling modes)."""
    i = np.arange(n_out, dtype=np.float64)
    if mode in ("STRICT_ALIGN_CORNERS", "ALIGN_CORNERS"):
        if n_out == 1:
            g = np.full(1, (n_in - 1) / 2.0 if mode == "ALIGN_CORNERS" else 0.0)
        else:
            g = i * (n_in - 1) / (n_out - 1)
    elif mode == "DEFAULT":
        g = i * ((n_in - n_in / n_out) / (n_out - 1)) if n_out > 1 else np.zeros(1)
    elif mode == "OFFSET_CORNERS":
        delta = max(1, n_in - 1) / n_out
        g = 0.5 * delta + i * delta
    else:  # UNALIGN_CORNERS: half-pixel centres
        s = n_in / n_out
        g = i * s + 0.5 * s - 0.5
    return np.clip(g, 0, n_in - 1)


@kernel("upsample_nearest_neighbor", preserves_values=True)
def upsample_nearest_neighbor(
    ctx: KernelContext, x: np.ndarray, scale_factor_height: Any = 1.0, scale_factor_width: Any = 1.0
) -> list[np.ndarray]:
    """Output ``floor(H·sh) × floor(W·sw)``; output pixel ``i`` copies input ``floor(i / scale)``."""
    xa = _rank3(ctx, x)
    sh, sw = as_float(scale_factor_height), as_float(scale_factor_width)
    if sh <= 0 or sw <= 0:
        raise ctx.error(f"scale factors must be > 0, got {sh}, {sw}")
    h, w = math.floor(xa.shape[-2] * sh), math.floor(xa.shape[-1] * sw)
    iy = np.minimum(np.floor(np.arange(h) / sh).astype(np.intp), xa.shape[-2] - 1)
    ix = np.minimum(np.floor(np.arange(w) / sw).astype(np.intp), xa.shape[-1] - 1)
    return [xa[..., iy, :][..., :, ix]]


@kernel("upsample_bilinear")
def upsample_bilinear(
    ctx: KernelContext,
    x: np.ndarray,
    scale_factor_height: Any = 1.0,
    scale_factor_width: Any = 1.0,
    align_corners: Any = True,
    half_pixel_centers: Any = None,
) -> list[np.ndarray]:
    """Bilinear upsampling to ``floor(H·sh) × floor(W·sw)``: ``align_corners`` samples ``i·(in−1)/(out−1)``;
    otherwise half-pixel centres ``(i + 0.5)·in/out − 0.5`` (``half_pixel_centers``, default
    ``not align_corners``) or the legacy ``i·in/out``; positions clamp to the input."""
    xa = _rank3(ctx, x)
    sh, sw = as_float(scale_factor_height), as_float(scale_factor_width)
    h, w = math.floor(xa.shape[-2] * sh), math.floor(xa.shape[-1] * sw)
    ac = as_bool(align_corners)
    hp = (not ac) if half_pixel_centers is None else as_bool(half_pixel_centers)
    mode = "STRICT_ALIGN_CORNERS" if ac else "UNALIGN_CORNERS" if hp else "LEGACY"

    def grid(n_in: int, n_out: int) -> np.ndarray:
        if mode == "LEGACY":
            return np.clip(np.arange(n_out) * (n_in / n_out), 0, n_in - 1)
        return _grid(mode, n_in, n_out)

    return [_bilinear(xa, grid(xa.shape[-2], h), grid(xa.shape[-1], w))]


@kernel("resize_nearest_neighbor", preserves_values=True)
def resize_nearest_neighbor(
    ctx: KernelContext, x: np.ndarray, target_size_height: Any, target_size_width: Any
) -> list[np.ndarray]:
    """Output pixel ``i`` copies input ``floor(i · in / out)`` (TensorFlow's legacy nearest rule)."""
    xa = _rank3(ctx, x)
    h, w = as_int(target_size_height), as_int(target_size_width)
    if h < 1 or w < 1:
        raise ctx.error(f"target sizes must be >= 1, got {h}x{w}")
    iy = np.minimum((np.arange(h) * xa.shape[-2]) // h, xa.shape[-2] - 1)
    ix = np.minimum((np.arange(w) * xa.shape[-1]) // w, xa.shape[-1] - 1)
    return [xa[..., iy, :][..., :, ix]]


_MODES = ("DEFAULT", "STRICT_ALIGN_CORNERS", "ALIGN_CORNERS", "OFFSET_CORNERS", "UNALIGN_CORNERS")


@kernel("resize_bilinear")
def resize_bilinear(
    ctx: KernelContext,
    x: np.ndarray,
    target_size_height: Any = 1,
    target_size_width: Any = 1,
    sampling_mode: Any = "DEFAULT",
) -> list[np.ndarray]:
    """Bilinear resize with one of coremltools' five sampling grids (``sampling_mode``)."""
    xa = _rank3(ctx, x)
    mode = as_str(sampling_mode)
    if mode not in _MODES:
        raise ctx.error(f"sampling_mode {mode!r} is not one of {', '.join(_MODES)}")
    h, w = as_int(target_size_height), as_int(target_size_width)
    if h < 1 or w < 1:
        raise ctx.error(f"target sizes must be >= 1, got {h}x{w}")
    return [_bilinear(xa, _grid(mode, xa.shape[-2], h), _grid(mode, xa.shape[-1], w))]


@kernel("crop", preserves_values=True)
def crop(ctx: KernelContext, x: np.ndarray, crop_height: Any, crop_width: Any) -> list[np.ndarray]:
    """Remove ``crop_height = [top, bottom]`` rows and ``crop_width = [left, right]`` columns."""
    xa = _rank3(ctx, x)
    ch, cw = as_int_tuple(crop_height), as_int_tuple(crop_width)
    if len(ch) != 2 or len(cw) != 2 or min(ch + cw) < 0 or sum(ch) >= xa.shape[-2] or sum(cw) >= xa.shape[-1]:
        raise ctx.error(f"crop {list(ch)}/{list(cw)} invalid for spatial dims {xa.shape[-2:]}")
    return [xa[..., ch[0] : xa.shape[-2] - ch[1], cw[0] : xa.shape[-1] - cw[1]]]


def _lerp_axis(x: np.ndarray, axis: int, g: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``x`` along ``axis`` at positions ``g`` (clamped to the axis)."""
    i0 = np.floor(g).astype(np.intp)
    i1 = np.minimum(i0 + 1, x.shape[axis] - 1)
    shape = [1] * x.ndim
    shape[axis] = g.size
    w = (g - i0).reshape(shape).astype(x.dtype)
    return np.take(x, i0, axis=axis) * (1 - w) + np.take(x, i1, axis=axis) * w


@kernel("resize")
def resize(
    ctx: KernelContext,
    x: np.ndarray,
    shape: Any,
    resized_dims: Any,
    interpolation_mode: Any = "LINEAR",
    sampling_mode: Any = "DEFAULT",
) -> list[np.ndarray]:
    """Resize the last ``resized_dims`` dims of ``x`` to the last entries of ``shape`` (a 0 keeps x's dim),
    sampling each resized axis with ``resize_bilinear``'s grids. ``LINEAR`` interpolates separably;
    ``NEAREST_NEIGHBOR`` takes ``floor(position)`` for ``DEFAULT`` sampling (as ``resize_nearest_neighbor``)
    and the nearest position, ties up, for the other modes (anekit's definition). int32 inputs are
    interpolated in float and stored truncated."""
    xa = _rank3(ctx, x) if np.ndim(x) >= 3 else np.asarray(x)
    target = as_int_tuple(shape)
    r = as_int(resized_dims)
    interp, mode = as_str(interpolation_mode), as_str(sampling_mode)
    if interp not in ("LINEAR", "NEAREST_NEIGHBOR") or mode not in _MODES:
        raise ctx.error(f"interpolation_mode {interp!r} / sampling_mode {mode!r} not supported")
    if not 0 <= r <= len(target) <= xa.ndim:
        raise ctx.error(f"resized_dims {r} and shape {list(target)} do not fit x of rank {xa.ndim}")
    y = xa.astype(ctx.float_dtype) if xa.dtype.kind in "iub" and interp == "LINEAR" else xa
    for j in range(1, r + 1):
        axis = xa.ndim - j
        n_out = target[-j] or xa.shape[axis]
        g = _grid(mode, xa.shape[axis], n_out)
        if interp == "LINEAR":
            y = _lerp_axis(y, axis, g)
        else:
            idx = np.floor(g) if mode == "DEFAULT" else np.floor(g + 0.5)
            y = np.take(y, np.minimum(idx.astype(np.intp), xa.shape[axis] - 1), axis=axis)
    return [y]
