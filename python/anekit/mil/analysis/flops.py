"""Estimated floating-point operations per MIL op (used by :mod:`anekit.mil.analysis.summary`).

Conventions (estimates of the arithmetic the graph asks for, not of what a chip executes):

* A multiply-accumulate counts as **2 FLOPs**, as in docs/internals/reference-numbers.md §1-2 ("2 · C · C · S · depth"
  for a
  1×1 conv chain).
* ``conv``: ``2 · N · C_out · prod(out spatial) · (C_in / groups) · prod(kernel)``, plus one per output
  element for a bias. ``conv_transpose``: ``2 · N · C_in · prod(in spatial) · (C_out / groups) · prod(kernel)``
  plus bias.
* ``matmul``: ``2 · prod(output shape) · K`` (K = the contracted dimension). ``linear``: ``2 · prod(out) · D_in``
  plus bias. ``einsum``: ``2 · prod(size of every index)`` when an index is summed, else ``prod(out)``.
* ``scaled_dot_product_attention``: ``2·B·L·S·E`` (Q·Kᵀ) + ``2·B·L·S·E_v`` (weights·V) + ``5·B·L·S`` (scale and
  softmax), B = product of the batch/head dims.
* Elementwise ops and activations: 1 per output element (a transcendental is still 1); ``softmax``: 5 per
  element (max, subtract, exp, sum, divide); ``select``, ``clip`` and friends: 1 per element.
* Reductions (including arg-reductions and ``cumsum``): 1 per *input* element.
* ``layer_norm``/``instance_norm``: 5 per element (mean, subtract, variance, normalise) plus 1 each for gamma and
  beta; ``batch_norm``: 2 per element (folded scale and shift); ``l2_norm``: 3; ``local_response_norm``: 3.
* Pools: ``prod(out) · prod(kernel)``. Bilinear resize/upsample: 4 per output element; nearest: 0.
* Recurrences per time step and batch row (``×`` directions): LSTM ``2·4H·(I+H) + 10H``, GRU ``2·3H·(I+H) + 8H``,
  RNN ``2·H·(I+H) + 2H``.
* ``quantize``/``dequantize``: 2 per element.
* 0 FLOPs: ``const``, every ``constexpr_*`` (decompressed at load time, docs/internals/mil-format.md §10.7) and pure
  data
  movement (reshape, transpose, concat, slices, gathers, scatters, pad, tile, cast, …).
* Ops without a model here (``topk``, ``argsort``, ``non_zero`` …) and ops whose shapes have ``?`` dims give
  ``None`` ("not estimated"), never a guess.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from ..ir import Operation
from ..types import TensorType
from ..validate._rules import binding_type, known_value, tensor_of

__all__ = ["ZERO_FLOP_OPS", "op_flops"]

#: Ops that move or reinterpret data, or are resolved at load time: 0 FLOPs.
ZERO_FLOP_OPS = frozenset(
    {
        "const",
        "reshape",
        "transpose",
        "expand_dims",
        "squeeze",
        "concat",
        "stack",
        "split",
        "tile",
        "pad",
        "identity",
        "cast",
        "shape",
        "fill",
        "fill_like",
        "range_1d",
        "slice_by_index",
        "slice_by_size",
        "slice_update",
        "gather",
        "gather_along_axis",
        "gather_nd",
        "scatter",
        "scatter_along_axis",
        "scatter_nd",
        "flatten2d",
        "reverse",
        "depth_to_space",
        "space_to_depth",
        "pixel_shuffle",
        "pixel_unshuffle",
        "sliding_windows",
        "crop",
        "band_part",
        "one_hot",
        "read_state",
        "write_state",
        "resize_nearest_neighbor",
        "upsample_nearest_neighbor",
    }
)
_PER_OUTPUT: dict[str, int] = {
    "softmax": 5,
    "select": 1,
    "clip": 1,
    "batch_norm": 2,
    "l2_norm": 3,
    "local_response_norm": 3,
    "quantize": 2,
    "dequantize": 2,
    "resize_bilinear": 4,
    "upsample_bilinear": 4,
}
_CATEGORIES_PER_OUTPUT = ("elementwise", "activation", "unary")
_POOLS = ("avg_pool", "max_pool", "l2_pool")
_RECURRENT = {"lstm": (4, 10), "gru": (3, 8), "rnn": (1, 2)}


def _numel(t: TensorType | None) -> int | None:
    return None if t is None else t.numel


def _out(op: Operation, i: int = 0) -> TensorType | None:
    return tensor_of(op.outputs[i].type) if len(op.outputs) > i else None


def _inp(op: Operation, name: str) -> TensorType | None:
    return binding_type(op.inputs.get(name))


def _prod(dims: Sequence[int | None]) -> int | None:
    if any(d is None for d in dims):
        return None
    return math.prod(d for d in dims if d is not None)


def _int(op: Operation, name: str, default: int) -> int | None:
    v = known_value(op, name)
    if v is None:
        return default if name not in op.inputs else None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _bool(op: Operation, name: str) -> bool | None:
    v = known_value(op, name)
    if v is None:
        return False if name not in op.inputs else None
    return bool(v)


def _conv(op: Operation) -> int | None:
    out, w, x = _out(op), _inp(op, "weight"), _inp(op, "x")
    groups = _int(op, "groups", 1)
    if out is None or w is None or x is None or groups is None or groups <= 0:
        return None
    per_out_kernel = _prod(w.shape[1:])  # C_in/groups · prod(K) (conv) or C_out/groups · prod(K) (transpose)
    if per_out_kernel is None:
        return None
    if op.op_type == "conv":
        n_out = _numel(out)
        if n_out is None:
            return None
        flops = 2 * n_out * per_out_kernel
    else:
        n_in = _numel(x)
        if n_in is None:
            return None
        flops = 2 * n_in * per_out_kernel
    if "bias" in op.inputs:
        n_out = _numel(out)
        flops += n_out or 0
    return flops


def _matmul(op: Operation) -> int | None:
    out, x = _out(op), _inp(op, "x")
    if out is None or x is None or x.rank == 0:
        return None
    tx = _bool(op, "transpose_x")
    if tx is None:
        return None
    k = x.shape[0] if x.rank == 1 else (x.shape[-2] if tx else x.shape[-1])
    n = _numel(out)
    return None if k is None or n is None else 2 * n * k


def _linear(op: Operation) -> int | None:
    out, w = _out(op), _inp(op, "weight")
    if out is None or w is None or w.rank < 1:
        return None
    n, d_in = _numel(out), w.shape[-1]
    if n is None or d_in is None:
        return None
    return 2 * n * d_in + (n if "bias" in op.inputs else 0)


def _einsum(op: Operation) -> int | None:
    eq = known_value(op, "equation")
    vals = op.inputs.get("values")
    if not isinstance(eq, str) or not isinstance(vals, tuple):
        return None
    lhs, _, rhs = eq.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) != len(vals) or not all(re.fullmatch(r"[A-Za-z]*", t) for t in terms):
        return None
    sizes: dict[str, int] = {}
    for term, b in zip(terms, vals, strict=True):
        t = binding_type(b)
        if t is None or t.rank != len(term):
            return None
        for ch, d in zip(term, t.shape, strict=True):
            if d is None:
                return None
            sizes[ch] = max(sizes.get(ch, 1), d)
    total = math.prod(sizes.values())
    summed = set(sizes) - set(rhs)
    return 2 * total if summed else total


def _sdpa(op: Operation) -> int | None:
    q, k, v = _inp(op, "query"), _inp(op, "key"), _inp(op, "value")
    if q is None or k is None or v is None or min(q.rank, k.rank, v.rank) < 2:
        return None
    batch = _prod(q.shape[:-2])
    length, e, s, ev = q.shape[-2], q.shape[-1], k.shape[-2], v.shape[-1]
    if batch is None or None in (length, e, s, ev):
        return None
    bls = batch * length * s  # type: ignore[operator]
    return 2 * bls * e + 2 * bls * ev + 5 * bls  # type: ignore[operator]


def _norm(op: Operation) -> int | None:
    n = _numel(_out(op))
    if n is None:
        return None
    per = 5 + ("gamma" in op.inputs) + ("beta" in op.inputs)
    return per * n


def _pool(op: Operation) -> int | None:
    n, ks = _numel(_out(op)), known_value(op, "kernel_sizes")
    if n is None or ks is None:
        return None
    return n * math.prod(int(x) for x in np.asarray(ks).reshape(-1))


def _recurrent(op: Operation) -> int | None:
    x, whh = _inp(op, "x"), _inp(op, "weight_hh")
    if x is None or whh is None or x.rank != 3 or whh.rank != 2:
        return None
    gates, elementwise = _RECURRENT[op.op_type]
    steps, batch, i = x.shape
    h = whh.shape[1]
    if None in (steps, batch, i, h):
        return None
    direction = known_value(op, "direction")
    dirs = 2 if isinstance(direction, str) and direction == "bidirectional" else 1
    per_step = 2 * gates * h * (i + h) + elementwise * h  # type: ignore[operator]
    return dirs * steps * batch * per_step  # type: ignore[operator]


def op_flops(op: Operation, category: str = "") -> int | None:
    """Estimated FLOPs of ``op`` per the module conventions; None when not estimated.

    Args:
        op: the operation (its declared output types and bound input types are read; weights never are).
        category: the op spec's category (``"elementwise"`` …), which decides the 1-per-element rule.
    """
    t = op.op_type
    if t in ZERO_FLOP_OPS or t.startswith("constexpr_"):
        return 0
    if t in ("conv", "conv_transpose"):
        return _conv(op)
    if t == "matmul":
        return _matmul(op)
    if t == "linear":
        return _linear(op)
    if t == "einsum":
        return _einsum(op)
    if t == "scaled_dot_product_attention":
        return _sdpa(op)
    if t in ("layer_norm", "instance_norm"):
        return _norm(op)
    if t in _POOLS:
        return _pool(op)
    if t in _RECURRENT:
        return _recurrent(op)
    if t.startswith("reduce_") or t == "cumsum":
        return _numel(_inp(op, "x"))
    per = _PER_OUTPUT.get(t)
    if per is None and category in _CATEGORIES_PER_OUTPUT:
        per = 1
    if per is None:
        return None
    n = _numel(_out(op))
    return None if n is None else per * n
