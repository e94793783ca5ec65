"""``conv``: cotangents of the input, the weight (weights travel as inputs when training) and the bias.

* Input, 1x1 kernel, stride 1, no padding (the linear layers of :mod:`anekit.nn`, any ``groups``): a 1x1 ``conv``
  of the cotangent with the per-group transposed weight. A constant weight is transposed here in numpy; a
  run-time weight with a ``transpose`` op (``groups=1``: the ANE rejects run-time weights in grouped convs,
  docs/internals/mil-format.md §11 rule 14).
* Input, larger kernels, stride 1, constant weight: the "full" correlation with the flipped, transposed kernel,
  padded by ``dilation·(K-1) - pad`` on each side (a plain ``conv``).
* Input, any other form (strides, a run-time weight with a larger kernel): ``conv_transpose`` of the cotangent with
  the same weight, strides, dilations, padding and groups, its ``output_shape`` the input's shape (positions no
  output window reads get zeros). ``conv_transpose`` is not among the ops the ANE documentation shows running.
* Weight, 1x1 kernel, stride 1, no padding: ``dW[o, i] = Σ_s g[o, s] x[i, s]``, one batched ``matmul`` per group
  whose inner dimension is the spatial size (keep it a multiple of 32, docs/internals/mil-format.md §11 rule 14).
* Weight, any other form with ``groups=1``: the correlation of the input with the cotangent, batch and channel
  axes swapped — ``conv(x^T, g^T)`` with the forward's dilations as strides and its strides as dilations, cut to
  the kernel size.
* Bias: ``g`` summed over the batch and spatial axes.

The weight gradient of a grouped conv with a kernel larger than 1x1 (or strides or padding) raises
:class:`~anekit.errors.NotDifferentiableError` naming the op.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...errors import NotDifferentiableError
from ...mil import Operation, Var
from ...mil.ops import opset_index
from ..context import BackwardContext, first_cotangent, static_shape
from ..registry import register_rule

__all__: list[str] = []


def _pads(ctx: BackwardContext, op: Operation, k: Sequence[int], dil: Sequence[int]) -> list[int]:
    """``[before, after]`` per spatial axis for the stride-1 conv (``same`` pads ``(K_eff - 1)`` split low-first)."""
    pad_type = ctx.const(op, "pad_type")
    pad_type = "valid" if pad_type is None else str(np.asarray(pad_type).reshape(-1)[0])
    s = len(k)
    if pad_type == "valid":
        return [0] * (2 * s)
    if pad_type == "custom":
        return ctx.const_ints(op, "pad", 2 * s, 0)
    out = []
    for kk, d in zip(k, dil, strict=True):
        total = (kk - 1) * d
        small, large = total // 2, total - total // 2
        out += [small, large] if pad_type == "same" else [large, small]
    return out


def _unsupported(op: Operation, what: str) -> NotDifferentiableError:
    return NotDifferentiableError(
        f"[conv '{op.name}'] output {op.output.name}: {what} has no VJP rule (see anekit.autodiff.rules.conv for "
        "the covered forms); use a 1x1 stride-1 conv, or feed the value as an input to stop the gradient there"
    )


def _weight_t(ctx: BackwardContext, op: Operation, c_in: int, groups: int) -> Var | np.ndarray:
    """The 1x1 weight of the input cotangent: per group, ``W_g^T`` (``[C_in, C_out/groups, 1...]``)."""
    wshape = static_shape(op.inputs["weight"]) if isinstance(op.inputs["weight"], Var) else None
    w = ctx.const(op, "weight")
    s = (len(wshape) if wshape else np.ndim(w)) - 2
    c_out = (wshape or np.shape(w))[0]
    cig, cog = c_in // groups, c_out // groups
    if w is not None:
        wt = np.asarray(w).reshape(groups, cog, cig).transpose(0, 2, 1).reshape((c_in, cog) + (1,) * s)
        return np.ascontiguousarray(wt)
    if groups != 1:
        raise _unsupported(op, "the input gradient of a grouped conv with a run-time weight")
    mb, wv = ctx.mb, ctx.input(op, "weight")
    perm = np.array([1, 0, *range(2, 2 + s)], np.int32)
    return mb.transpose(x=wv, perm=perm)


@register_rule("conv")
def _conv(ctx: BackwardContext, op: Operation, cots: Sequence[Var | None]) -> dict[str, Var]:
    g = first_cotangent(cots)
    mb = ctx.mb
    xshape = static_shape(op.inputs["x"], f"conv '{op.name}' input x")  # type: ignore[arg-type]
    w = op.inputs["weight"]
    wshape = static_shape(w) if isinstance(w, Var) else tuple(np.shape(ctx.const(op, "weight")))
    s = len(xshape) - 2
    n, c_in = xshape[0], xshape[1]
    c_out, k = wshape[0], list(wshape[2:])
    strides = ctx.const_ints(op, "strides", s, 1)
    dil = ctx.const_ints(op, "dilations", s, 1)
    groups = ctx.const_ints(op, "groups", 1, 1)[0]
    pads = _pads(ctx, op, k, dil)
    pointwise = all(kk == 1 for kk in k) and all(st == 1 for st in strides) and not any(pads)
    out: dict[str, Var] = {}
    if ctx.needs(op, "x"):
        if pointwise:
            wt = _weight_t(ctx, op, c_in, groups)
            out["x"] = mb.conv(x=g, weight=wt, pad_type="valid", groups=np.int32(groups))
        elif all(st == 1 for st in strides) and ctx.const(op, "weight") is not None:
            wc = np.asarray(ctx.const(op, "weight"))
            cig, cog = c_in // groups, c_out // groups
            flipped = wc[(slice(None), slice(None), *[slice(None, None, -1)] * s)]
            wt = flipped.reshape((groups, cog, cig, *k)).swapaxes(1, 2).reshape((c_in, cog, *k))
            full = [d * (kk - 1) for kk, d in zip(k, dil, strict=True)]
            new_pads = [full[i // 2] - pads[i] for i in range(2 * s)]
            if any(p < 0 for p in new_pads):
                raise _unsupported(op, f"the input gradient with padding {pads} larger than the kernel extent")
            out["x"] = mb.conv(
                x=g,
                weight=np.ascontiguousarray(wt),
                pad_type="custom",
                pad=np.array(new_pads, np.int32),
                dilations=np.array(dil, np.int32),
                groups=np.int32(groups),
            )
        else:
            w_in = ctx.const(op, "weight")
            if w_in is None and opset_index(mb.opset) < opset_index("ios17"):
                raise _unsupported(op, f"the input gradient with a run-time weight before ios17 (opset {mb.opset})")
            out["x"] = mb.conv_transpose(
                x=g,
                weight=np.asarray(w_in) if w_in is not None else ctx.input(op, "weight"),
                pad_type="custom",
                pad=np.array(pads, np.int32),
                strides=np.array(strides, np.int32),
                dilations=np.array(dil, np.int32),
                groups=np.int32(groups),
                output_shape=np.array(xshape, np.int32),
            )
    if ctx.needs(op, "weight"):
        if pointwise:
            p = int(np.prod(xshape[2:], dtype=np.int64))
            cig, cog = c_in // groups, c_out // groups
            g4 = mb.reshape(x=g, shape=np.array([n, groups, cog, p], np.int32))
            x4 = mb.reshape(x=ctx.input(op, "x"), shape=np.array([n, groups, cig, p], np.int32))
            dw = mb.matmul(x=g4, y=x4, transpose_x=False, transpose_y=True)  # [N, G, C_out/G, C_in/G]
            if n > 1:
                dw = mb.reduce_sum(x=dw, axes=np.array([0], np.int32), keep_dims=False)
            out["weight"] = mb.reshape(x=dw, shape=np.array(wshape, np.int32))
        elif groups == 1:
            swap = np.array([1, 0, *range(2, 2 + s)], np.int32)
            dw = mb.conv(
                x=mb.transpose(x=ctx.input(op, "x"), perm=swap),  # [C_in, N, *D]
                weight=mb.transpose(x=g, perm=swap),  # [C_out, N, *D_out]
                pad_type="custom",
                pad=np.array(pads, np.int32),
                strides=np.array(dil, np.int32),
                dilations=np.array(strides, np.int32),
            )  # [C_in, C_out, *K'] with K' >= K: the windows past the kernel are cut off
            if static_shape(dw)[2:] != tuple(k):
                size = np.array([c_in, c_out, *k], np.int32)
                dw = mb.slice_by_size(x=dw, begin=np.zeros(2 + s, np.int32), size=size)
            out["weight"] = mb.transpose(x=dw, perm=swap)
        else:
            raise _unsupported(op, "the weight gradient of a grouped conv with a kernel > 1, strides or padding")
    if ctx.needs(op, "bias"):
        axes = np.array([0, *range(2, 2 + s)], np.int32)
        out["bias"] = mb.reduce_sum(x=g, axes=axes, keep_dims=False)
    return out
