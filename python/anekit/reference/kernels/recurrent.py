"""Recurrent kernels: lstm, gru, rnn over ``x [seq, batch, input]`` (docs/internals/mil-format.md §10.8; semantics of
coremltools' iOS15/iOS18 ``recurrent.py`` definitions and their reference tests).

Facts encoded here:

* lstm gate order ``[input, forget, output, cell]`` ("ifoz") in ``weight_ih [4H, I]``, ``weight_hh [4H, H]``
  and ``bias [4H]`` (one bias = input-hidden + hidden-hidden); peepholes ``[3H]`` ordered ``[i, f, o]`` with
  i and f looking at ``c(t−1)`` and o at ``c(t)``; ``clip`` clips the cell state after each update.
* gru gate order ``[reset, output (new), update]`` ("roz": coremltools' NN backend splits it as r, o, z);
  reset-before form ``o = act(W_o·x + R_o·(r ⊙ h) + b_o)``; iOS18 ``reset_after`` gives the PyTorch form
  ``o = act(W_o·x + b_in_o + r ⊙ (R_o·h + b_o))`` with ``input_bias`` as ``b_in``; ``h = (1 − z)·o + z·h``.
* ``direction = "reverse"`` runs over the reversed sequence and returns outputs in processing order;
  ``"bidirectional"`` (lstm) concatenates forward and backward results on the hidden axis, the backward
  outputs aligned with input time (PyTorch's convention), and without ``output_sequence`` returns both final
  states.
* The recurrence runs in the compute dtype; only the op outputs are stored in the declared type.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import KernelContext, kernel
from ._util import as_bool, as_str, named_activation

__all__: list[str] = []


def _f(v: Any, like: np.ndarray) -> np.ndarray | None:
    return None if v is None else np.asarray(v, dtype=like.dtype)


def _check_seq(ctx: KernelContext, x: np.ndarray) -> None:
    if x.ndim != 3:
        raise ctx.error(f"x must be [seq, batch, input], got shape {x.shape}")


def _direction(ctx: KernelContext, direction: Any, allowed: tuple[str, ...]) -> str:
    """The ``direction`` input, checked against the directions the op supports."""
    d = as_str(direction)
    if d not in allowed:
        raise ctx.error(f"direction {d!r} is not {', '.join(allowed[:-1])} or {allowed[-1]}")
    return d


def _project(x: np.ndarray, w_ih: np.ndarray) -> np.ndarray:
    """The input contribution of every step at once: ``x [S, B, I] · w_ihᵀ`` as ``[S, B, rows of w_ih]``."""
    return (x.reshape(-1, x.shape[2]) @ w_ih.T).reshape(x.shape[0], x.shape[1], w_ih.shape[0])


def _lstm_pass(
    ctx: KernelContext,
    x: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    b: np.ndarray | None,
    peep: np.ndarray | None,
    acts: tuple[str, str, str],
    clip: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hsz = w_hh.shape[1]
    if w_ih.shape != (4 * hsz, x.shape[2]) or w_hh.shape != (4 * hsz, hsz):
        raise ctx.error(f"weights {w_ih.shape}/{w_hh.shape} do not match x {x.shape} and H = {hsz}")
    xw = _project(x, w_ih)
    if b is not None:
        xw += b
    rec, cell, act = acts
    outs = np.empty((x.shape[0], x.shape[1], hsz), dtype=x.dtype)
    for t in range(x.shape[0]):
        g = xw[t] + h @ w_hh.T
        gi, gf, go, gz = (g[:, k * hsz : (k + 1) * hsz] for k in range(4))
        if peep is not None:
            gi = gi + peep[:hsz] * c
            gf = gf + peep[hsz : 2 * hsz] * c
        i = named_activation(ctx, rec, gi)
        f = named_activation(ctx, rec, gf)
        z = named_activation(ctx, cell, gz)
        c = f * c + i * z
        if clip is not None:
            c = np.clip(c, -clip, clip)
        if peep is not None:
            go = go + peep[2 * hsz :] * c
        o = named_activation(ctx, rec, go)
        h = o * named_activation(ctx, act, c)
        outs[t] = h
    return outs, h, c


@kernel("lstm")
def lstm(
    ctx: KernelContext,
    x: np.ndarray,
    initial_h: np.ndarray,
    initial_c: np.ndarray,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias: Any = None,
    peephole: Any = None,
    weight_ih_back: Any = None,
    weight_hh_back: Any = None,
    bias_back: Any = None,
    peephole_back: Any = None,
    direction: Any = "forward",
    output_sequence: Any = False,
    recurrent_activation: Any = "sigmoid",
    cell_activation: Any = "tanh",
    activation: Any = "tanh",
    clip: Any = None,
) -> list[np.ndarray]:
    """Long short-term memory (see the module docstring). Outputs: sequence ``[s or 1, b, D·H]``, final h
    ``[b, D·H]``, final c ``[b, D·H]`` (D = 2 for bidirectional)."""
    xa = np.asarray(x)
    _check_seq(ctx, xa)
    acts = (as_str(recurrent_activation), as_str(cell_activation), as_str(activation))
    cl = None if clip is None else float(np.asarray(clip))
    d = _direction(ctx, direction, ("forward", "reverse", "bidirectional"))
    w_ih, w_hh = np.asarray(weight_ih, xa.dtype), np.asarray(weight_hh, xa.dtype)
    hsz = w_hh.shape[1]
    h0, c0 = np.asarray(initial_h, xa.dtype), np.asarray(initial_c, xa.dtype)
    width = 2 * hsz if d == "bidirectional" else hsz
    if h0.shape != (xa.shape[1], width) or c0.shape != (xa.shape[1], width):
        raise ctx.error(f"initial_h/initial_c must be [{xa.shape[1]}, {width}], got {h0.shape}/{c0.shape}")
    fwd_args = (w_ih, w_hh, _f(bias, xa), _f(peephole, xa), acts, cl)
    if d == "forward":
        outs, h, c = _lstm_pass(ctx, xa, h0, c0, *fwd_args)
    elif d == "reverse":
        outs, h, c = _lstm_pass(ctx, xa[::-1], h0, c0, *fwd_args)
    else:
        if weight_ih_back is None or weight_hh_back is None:
            raise ctx.error("bidirectional lstm needs weight_ih_back and weight_hh_back")
        back_args = (
            np.asarray(weight_ih_back, xa.dtype),
            np.asarray(weight_hh_back, xa.dtype),
            _f(bias_back, xa),
            _f(peephole_back, xa),
            acts,
            cl,
        )
        of, hf, cf = _lstm_pass(ctx, xa, h0[:, :hsz], c0[:, :hsz], *fwd_args)
        ob, hb, cb = _lstm_pass(ctx, xa[::-1], h0[:, hsz:], c0[:, hsz:], *back_args)
        h, c = np.concatenate([hf, hb], axis=1), np.concatenate([cf, cb], axis=1)
        if not as_bool(output_sequence):
            return [h[None], h, c]
        outs = np.concatenate([of, ob[::-1]], axis=2)
    seq = outs if as_bool(output_sequence) else outs[-1:]
    return [seq, h, c]


@kernel("gru")
def gru(
    ctx: KernelContext,
    x: np.ndarray,
    initial_h: np.ndarray,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias: Any = None,
    direction: Any = "forward",
    output_sequence: Any = False,
    recurrent_activation: Any = "sigmoid",
    activation: Any = "tanh",
    reset_after: Any = False,
    input_bias: Any = None,
) -> list[np.ndarray]:
    """Gated recurrent unit (see the module docstring). Outputs: sequence ``[s or 1, b, H]``, final h."""
    xa = np.asarray(x)
    _check_seq(ctx, xa)
    d = _direction(ctx, direction, ("forward", "reverse"))
    w_ih, w_hh = np.asarray(weight_ih, xa.dtype), np.asarray(weight_hh, xa.dtype)
    hsz = w_hh.shape[1]
    if w_ih.shape != (3 * hsz, xa.shape[2]) or w_hh.shape != (3 * hsz, hsz):
        raise ctx.error(f"weights {w_ih.shape}/{w_hh.shape} do not match x {xa.shape} and H = {hsz}")
    b = np.zeros(3 * hsz, xa.dtype) if bias is None else np.asarray(bias, xa.dtype)
    bi = np.zeros(3 * hsz, xa.dtype) if input_bias is None else np.asarray(input_bias, xa.dtype)
    rec, act, after = as_str(recurrent_activation), as_str(activation), as_bool(reset_after)
    seq = xa[::-1] if d == "reverse" else xa
    xw = _project(seq, w_ih) + bi
    h = np.asarray(initial_h, xa.dtype)
    wr, wo, wz = w_hh[:hsz], w_hh[hsz : 2 * hsz], w_hh[2 * hsz :]
    br, bo, bz = b[:hsz], b[hsz : 2 * hsz], b[2 * hsz :]
    outs = np.empty((seq.shape[0], seq.shape[1], hsz), dtype=xa.dtype)
    for t in range(seq.shape[0]):
        xr, xo, xz = xw[t, :, :hsz], xw[t, :, hsz : 2 * hsz], xw[t, :, 2 * hsz :]
        r = named_activation(ctx, rec, xr + h @ wr.T + br)
        z = named_activation(ctx, rec, xz + h @ wz.T + bz)
        if after:
            o = named_activation(ctx, act, xo + r * (h @ wo.T + bo))
        else:
            o = named_activation(ctx, act, xo + (r * h) @ wo.T + bo)
        h = (1 - z) * o + z * h
        outs[t] = h
    return [outs if as_bool(output_sequence) else outs[-1:], h]


@kernel("rnn")
def rnn(
    ctx: KernelContext,
    x: np.ndarray,
    initial_h: np.ndarray,
    weight_ih: np.ndarray,
    weight_hh: np.ndarray,
    bias: Any = None,
    direction: Any = "forward",
    output_sequence: Any = False,
    activation: Any = "tanh",
) -> list[np.ndarray]:
    """Elman RNN ``h = act(W_ih·x + W_hh·h + bias)``. Outputs: sequence ``[s or 1, b, H]``, final h."""
    xa = np.asarray(x)
    _check_seq(ctx, xa)
    d = _direction(ctx, direction, ("forward", "reverse"))
    w_ih, w_hh = np.asarray(weight_ih, xa.dtype), np.asarray(weight_hh, xa.dtype)
    hsz = w_hh.shape[0]
    if w_ih.shape != (hsz, xa.shape[2]) or w_hh.shape != (hsz, hsz):
        raise ctx.error(f"weights {w_ih.shape}/{w_hh.shape} do not match x {xa.shape}")
    seq = xa[::-1] if d == "reverse" else xa
    xw = _project(seq, w_ih)
    if bias is not None:
        xw += np.asarray(bias, xa.dtype)
    h = np.asarray(initial_h, xa.dtype)
    act = as_str(activation)
    outs = np.empty((seq.shape[0], seq.shape[1], hsz), dtype=xa.dtype)
    for t in range(seq.shape[0]):
        h = named_activation(ctx, act, xw[t] + h @ w_hh.T)
        outs[t] = h
    return [outs if as_bool(output_sequence) else outs[-1:], h]
