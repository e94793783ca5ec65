"""Linear layers in the ``[1, C, 1, S]`` layout.

* :func:`linear`: baked weights as a 1x1 ``conv`` (docs/internals/mil-format.md §11 recommended defaults: 1x1 conv for
  baked
  linear layers); the bias is a separate ``add`` because ``conv(bias=...)`` on the ANE is unverified
  (docs/internals/mil-format.md §11 rule 17).
* :func:`linear_chunks`: the same, split along the output channels into pieces of at most
  :data:`~anekit.nn.rules.MAX_CHANNELS` (e.g. a 49152-wide LM head).
* :func:`dynamic_linear`: weights as an *input* (docs/internals/ane-private-api.md §20.2): one compiled kernel serves
  every
  weight value, so weight updates cost no compile. :func:`pack_dynamic_input` stages activations and weights
  into the one input surface it reads.
* :func:`linear` given a weight *Var* (a function input ``[1, IN, 1, OUT]``) runs the same runtime-operand matmul
  as :func:`dynamic_linear` on a separate weight input: the form a training loop uses, where every weight is an
  input of its own and gradients are derived with respect to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..mil import Builder, Var
from ._shapes import channels_of, spatial_of
from .quant import QuantizedWeight
from .rules import MAX_CHANNELS, channel_chunks, check_positive
from .weights import as_array, fp16_weight

__all__ = ["dynamic_linear", "linear", "linear_chunks", "pack_dynamic_input", "weight_input_shape"]


def linear(mb: Builder, x: Var, weight: Any, bias: Any = None, *, name: str = "linear") -> Var:
    """``y = W x + b`` over channels: ``x[1, IN, 1, S] -> [1, OUT, 1, S]``.

    Args:
        mb: the builder.
        x: input Var ``[1, IN, 1, S]``.
        weight: ``[OUT, IN]`` (PyTorch ``nn.Linear.weight`` layout), numpy or torch, baked into the program; or a
            Var ``[1, IN, 1, OUT]`` (``W`` transposed, the layout of docs/internals/ane-private-api.md §20.2),
            typically a function input, read at run time (see :func:`weight_input_shape`).
        bias: optional ``[OUT]`` (baked weights only).
        name: label used in error messages.

    Raises:
        ValueError: a wrong layout or weight shape, or a channel count above ``MAX_CHANNELS`` (use
            :func:`linear_chunks` for wide outputs).
    """
    if isinstance(weight, Var):
        if bias is not None:
            raise ValueError(f"{name}: a bias is supported with baked weights only, not with a weight Var")
        return _runtime_weight_matmul(mb, x, weight, name)
    c_in = channels_of(x, name)
    w = weight if isinstance(weight, QuantizedWeight) else as_array(weight, f"{name}.weight")
    if len(w.shape) != 2 or w.shape[1] != c_in:
        raise ValueError(f"{name}: weight must be [OUT, {c_in}] for an input of {c_in} channels, got {w.shape}")
    c_out = int(w.shape[0])
    for label, c in (("input", c_in), ("output", c_out)):
        if c > MAX_CHANNELS:
            raise ValueError(
                f"{name}: {c} {label} channels exceed the ANE's {MAX_CHANNELS} (docs/internals/mil-format.md §11 rules "
                f"7-8); "
                "split the layer with linear_chunks"
            )
    if isinstance(w, QuantizedWeight):
        w16: Any = w.emit(mb, name=name)  # kept compressed: a constexpr op decompresses it
    else:
        w16 = fp16_weight(w, f"{name}.weight", (c_out, c_in)).reshape(c_out, c_in, 1, 1)
    y = mb.conv(x=x, weight=w16, pad_type="valid")
    if bias is not None:
        b16 = fp16_weight(bias, f"{name}.bias", (c_out,)).reshape(1, c_out, 1, 1)
        y = mb.add(x=y, y=b16)
    return y


def _rows(w: np.ndarray | QuantizedWeight, start: int, n: int) -> np.ndarray | QuantizedWeight:
    return w.take_rows(slice(start, start + n)) if isinstance(w, QuantizedWeight) else w[start : start + n]


def linear_chunks(
    mb: Builder, x: Var, weight: Any, bias: Any = None, *, limit: int = MAX_CHANNELS, name: str = "linear"
) -> list[Var]:
    """:func:`linear` split along the output channels into pieces of at most ``limit`` channels, in order."""
    w = weight if isinstance(weight, QuantizedWeight) else as_array(weight, f"{name}.weight")
    if len(w.shape) != 2:
        raise ValueError(f"{name}: weight must be [OUT, IN], got shape {w.shape}")
    b = None if bias is None else as_array(bias, f"{name}.bias")
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"{name}: bias must be [{w.shape[0]}], got {b.shape}")
    return [
        linear(mb, x, _rows(w, s, n), None if b is None else b[s : s + n], name=f"{name}[{s}:{s + n}]")
        for s, n in channel_chunks(int(w.shape[0]), limit)
    ]


def dynamic_linear(mb: Builder, packed: Var, seq: int, out_channels: int, *, name: str = "dynamic_linear") -> Var:
    """``y = W x`` with ``W`` read from the input: ``packed[1, IN, 1, seq + OUT] -> [1, OUT, 1, seq]``.

    Channel row ``d`` of ``packed`` holds ``x[d, 0:seq]`` then ``W[:, d]`` (docs/internals/ane-private-api.md
    §20.2); build it with :func:`pack_dynamic_input`. ``IN`` is the matmul's inner dimension and should be a
    multiple of 32 (docs/internals/mil-format.md §11 rule 14; the validator reports it).
    """
    check_positive(name, seq=seq, out_channels=out_channels)
    c_in = channels_of(packed, name)
    width = spatial_of(packed, name)
    if width != seq + out_channels:
        raise ValueError(f"{name}: packed input must have S = seq + out_channels = {seq + out_channels}, got {width}")
    x = mb.slice_by_size(x=packed, begin=np.array([0, 0, 0, 0], np.int32), size=np.array([1, c_in, 1, seq], np.int32))
    w = mb.slice_by_size(
        x=packed, begin=np.array([0, 0, 0, seq], np.int32), size=np.array([1, c_in, 1, out_channels], np.int32)
    )
    return _runtime_weight_matmul(mb, x, w, name)


def weight_input_shape(out_channels: int, in_channels: int) -> tuple[int, int, int, int]:
    """Shape ``[1, IN, 1, OUT]`` of the weight Var :func:`linear` takes for an ``[OUT, IN]`` layer."""
    check_positive("weight_input_shape", out_channels=out_channels, in_channels=in_channels)
    return (1, in_channels, 1, out_channels)


def _runtime_weight_matmul(mb: Builder, x: Var, w: Var, name: str) -> Var:
    """``x[1, IN, 1, S]`` times the runtime operand ``w[1, IN, 1, OUT]`` -> ``[1, OUT, 1, S]`` (the MIL sequence of
    docs/internals/ane-private-api.md §20.2)."""
    c_in, seq = channels_of(x, name), spatial_of(x, name)
    if channels_of(w, f"{name}.weight") != c_in:
        raise ValueError(f"{name}: weight Var must be [1, {c_in}, 1, OUT] for {c_in} input channels, got {w.type}")
    out_channels = spatial_of(w, f"{name}.weight")
    if out_channels > MAX_CHANNELS:
        raise ValueError(
            f"{name}: {out_channels} output channels exceed the ANE's {MAX_CHANNELS} (docs/internals/mil-format.md "
            "§11 rules 7-8); split the weight into several Vars"
        )
    xt = mb.reshape(x=x, shape=np.array([1, 1, c_in, seq], np.int32))
    xt = mb.transpose(x=xt, perm=np.array([0, 1, 3, 2], np.int32))
    w4 = mb.reshape(x=w, shape=np.array([1, 1, c_in, out_channels], np.int32))
    y = mb.matmul(x=xt, y=w4, transpose_x=False, transpose_y=False)  # [1, 1, seq, OUT]
    y = mb.transpose(x=y, perm=np.array([0, 1, 3, 2], np.int32))  # [1, 1, OUT, seq]
    return mb.reshape(x=y, shape=np.array([1, out_channels, 1, seq], np.int32))


def pack_dynamic_input(x: Any, weight: Any) -> np.ndarray:
    """The fp16 ``[1, IN, 1, S + OUT]`` input of :func:`dynamic_linear` from ``x[IN, S]`` (or ``[1, IN, 1, S]``)
    and ``weight[OUT, IN]`` (PyTorch layout; transposed here, as docs/internals/ane-private-api.md §20.2 stores ``W`` as
    ``[IN, OUT]``)."""
    xa = as_array(x, "x")
    if xa.ndim == 4 and xa.shape[0] == 1 and xa.shape[2] == 1:
        xa = xa[0, :, 0, :]
    if xa.ndim != 2:
        raise ValueError(f"pack_dynamic_input: x must be [IN, S] or [1, IN, 1, S], got shape {xa.shape}")
    c_in = xa.shape[0]
    w = as_array(weight, "weight")
    if w.ndim != 2 or w.shape[1] != c_in:
        raise ValueError(f"pack_dynamic_input: weight must be [OUT, {c_in}], got shape {w.shape}")
    wt = fp16_weight(w, "weight", w.shape).T
    packed = np.concatenate([xa.astype(np.float16), wt], axis=1)
    return packed.reshape(1, c_in, 1, packed.shape[1])
