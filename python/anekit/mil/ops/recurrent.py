"""Recurrent layers: ``lstm``, ``gru`` and ``rnn`` (one sequence, time-major ``[s, b, I]``).

Reference: docs/internals/mil-format.md §10.8; coremltools ``iOS15/recurrent.py`` (fp32 only),
``iOS17/recurrent.py`` (adds fp16) and ``iOS18/recurrent.py`` (gru: ``reset_after``, ``input_bias``). Real
iOS15/16 files cast to fp32 around their LSTM (the Silero VAD corpus), iOS17 files run it in fp16 (parakeet).
"""

from __future__ import annotations

from typing import ClassVar

from ..types import TensorType, Type
from ._base import Op, boolean
from ._infer import FLOATS, InferError, dims_equal, fmt_shape
from ._spec import InferContext, InputSpec, register_op

__all__ = ["Gru", "Lstm", "Rnn"]

_ACTIVATIONS = ("sigmoid", "tanh", "relu", "scaled_tanh", "sigmoid_hard", "linear")
#: Dtype domain of the float inputs: fp32 only in iOS15/16, fp16 too from iOS17 (coremltools iOS17/recurrent.py).
_T_HISTORY = (("ios15", ("fp32",)), ("ios17", FLOATS))


def _s(name: str, default: str | None = None) -> InputSpec:
    return InputSpec(name, ("string",), const=True, optional=True, default=default, rank=(0,))


def _flag(name: str, *, min_opset: str | None = None) -> InputSpec:
    """An optional const bool input defaulting to false (output_sequence, reset_after)."""
    return InputSpec(name, ("bool",), const=True, optional=True, default=boolean(False), rank=(0,), min_opset=min_opset)


def _w(name: str, rank: int, optional: bool = False, const: bool = True) -> InputSpec:
    return InputSpec(name, FLOATS, const=const, optional=optional, rank=(rank,), same_dtype_as="x")


class _Recurrent(Op):
    category = "recurrent"
    gates: ClassVar[int] = 1
    directions: ClassVar[tuple[str, ...]] = ("forward", "reverse")

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Every float input of a recurrent op is fp32-only before iOS17 (:data:`_T_HISTORY`)."""
        super().__init_subclass__(**kwargs)
        cls.dtype_history = {s.name: _T_HISTORY for s in cls.inputs if s.dtypes == FLOATS}

    @classmethod
    def _check_weights(cls, ctx: InferContext, ih: str, hh: str, bias: str, input_size: int | None) -> int | None:
        w_ih, w_hh = cls.tensor(ctx, ih), cls.tensor(ctx, hh)
        hidden = w_hh.shape[1]
        g = cls.gates
        for name, t, cols in ((ih, w_ih, input_size), (hh, w_hh, hidden)):
            if hidden is not None and not dims_equal(t.shape[0], g * hidden):
                raise InferError(f"'{name}' dim 0 {t.shape[0]} != {g}*H = {g * hidden} (H = {hh} dim 1)")
            if not dims_equal(t.shape[1], cols):
                raise InferError(f"'{name}' dim 1 {t.shape[1]} != {cols}")
        b = cls.opt_tensor(ctx, bias)
        if b is not None and hidden is not None and not dims_equal(b.shape[0], g * hidden):
            raise InferError(f"'{bias}' length {b.shape[0]} != {g}*H = {g * hidden}")
        return hidden

    @classmethod
    def _sequence(cls, ctx: InferContext) -> tuple[TensorType, int | None, str]:
        x = cls.tensor(ctx, "x")
        if x.rank != 3:
            raise InferError(f"x must be [seq, batch, input] (rank 3), got {fmt_shape(x.shape)}")
        direction = cls.choice(ctx, "direction", cls.directions) or "forward"
        for name in ("recurrent_activation", "cell_activation", "activation"):
            if cls.input_spec(name) is not None:
                cls.choice(ctx, name, _ACTIVATIONS)
        return x, x.shape[1], direction

    @classmethod
    def _state(cls, ctx: InferContext, name: str, batch: int | None, width: int | None) -> None:
        t = cls.tensor(ctx, name)
        if t.rank != 2 or not dims_equal(t.shape[0], batch) or not dims_equal(t.shape[1], width):
            raise InferError(f"'{name}' must be [batch, {width}] = [{batch}, {width}], got {fmt_shape(t.shape)}")

    @classmethod
    def _outputs(cls, ctx: InferContext, x: TensorType, width: int | None, n_states: int) -> list[Type]:
        seq = x.shape[0] if cls.bool_value(ctx, "output_sequence") else 1
        out = [TensorType(x.dtype, (seq, x.shape[1], width))]
        out += [TensorType(x.dtype, (x.shape[1], width))] * n_states
        return out


@register_op("lstm", category="recurrent")
class Lstm(_Recurrent):
    """Long short-term memory over one sequence, gate order ``[input, forget, output, cell]``.

    Args:
        x: ``tensor<[s, b, I], T>``; initial_h, initial_c: ``tensor<[b, D·H], T>`` (D = 2 if bidirectional).
        weight_ih: const ``[4H, I]``; weight_hh: const ``[4H, H]``; bias: const ``[4H]`` optional
            (input-hidden + hidden-hidden); peephole: const ``[3H]`` optional; ``*_back`` variants for the
            backward direction of a bidirectional LSTM.
        direction: ``forward`` (default) | ``reverse`` | ``bidirectional``. output_sequence: default false.
        recurrent_activation: default ``sigmoid``; cell_activation, activation: default ``tanh``.
        clip: const T scalar, optional: cell clip.

    Returns:
        output ``[s or 1, b, D·H]``, final h ``[b, D·H]``, final c ``[b, D·H]`` (one text line).

    Type domain: T = fp32 in iOS15/16; fp16 or fp32 from iOS17.
    """

    inputs = (
        InputSpec("x", FLOATS, rank=(3,)),
        _w("initial_h", 2, const=False),
        _w("initial_c", 2, const=False),
        _w("weight_ih", 2),
        _w("weight_hh", 2),
        _w("bias", 1, optional=True),
        _w("peephole", 1, optional=True),
        _w("weight_ih_back", 2, optional=True),
        _w("weight_hh_back", 2, optional=True),
        _w("bias_back", 1, optional=True),
        _w("peephole_back", 1, optional=True),
        _s("direction", "forward"),
        _flag("output_sequence"),
        _s("recurrent_activation", "sigmoid"),
        _s("cell_activation", "tanh"),
        _s("activation", "tanh"),
        InputSpec("clip", FLOATS, const=True, optional=True, rank=(0,), same_dtype_as="x"),
    )
    gates = 4
    directions = ("forward", "reverse", "bidirectional")

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, batch, direction = cls._sequence(ctx)
        hidden = cls._check_weights(ctx, "weight_ih", "weight_hh", "bias", x.shape[2])
        n_dir = 2 if direction == "bidirectional" else 1
        if n_dir == 2:
            for name in ("weight_ih_back", "weight_hh_back"):
                if not ctx.has(name):
                    raise InferError(f"bidirectional lstm needs '{name}'")
            back = cls._check_weights(ctx, "weight_ih_back", "weight_hh_back", "bias_back", x.shape[2])
            if not dims_equal(back, hidden):
                raise InferError(f"backward hidden size {back} != forward hidden size {hidden}")
        for name in ("peephole", "peephole_back"):
            p = cls.opt_tensor(ctx, name)
            if p is not None and hidden is not None and not dims_equal(p.shape[0], 3 * hidden):
                raise InferError(f"'{name}' length {p.shape[0]} != 3*H = {3 * hidden}")
        width = None if hidden is None else n_dir * hidden
        cls._state(ctx, "initial_h", batch, width)
        cls._state(ctx, "initial_c", batch, width)
        return cls._outputs(ctx, x, width, 2)


@register_op("gru", category="recurrent")
class Gru(_Recurrent):
    """Gated recurrent unit, gate order ``[reset, new, update]`` as the reference kernel and coremltools use it.

    Args:
        x: ``tensor<[s, b, I], T>``; initial_h: ``[b, H]``.
        weight_ih: const ``[3H, I]``; weight_hh: const ``[3H, H]``; bias: const ``[3H]`` optional.
        direction: ``forward`` | ``reverse``; output_sequence: default false;
        recurrent_activation: default ``sigmoid``; activation: default ``tanh``.
        reset_after: const bool, default false; input_bias: const ``[3H]`` optional (both iOS18+).

    Returns:
        output ``[s or 1, b, H]`` and final h ``[b, H]``.
    """

    inputs = (
        InputSpec("x", FLOATS, rank=(3,)),
        _w("initial_h", 2, const=False),
        _w("weight_ih", 2),
        _w("weight_hh", 2),
        _w("bias", 1, optional=True),
        _s("direction", "forward"),
        _flag("output_sequence"),
        _s("recurrent_activation", "sigmoid"),
        _s("activation", "tanh"),
        _flag("reset_after", min_opset="ios18"),
        InputSpec(
            "input_bias",
            FLOATS,
            const=True,
            optional=True,
            rank=(1,),
            same_dtype_as="x",
            min_opset="ios18",
        ),
    )
    gates = 3

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, batch, _ = cls._sequence(ctx)
        hidden = cls._check_weights(ctx, "weight_ih", "weight_hh", "bias", x.shape[2])
        ib = cls.opt_tensor(ctx, "input_bias")
        if ib is not None and hidden is not None and not dims_equal(ib.shape[0], 3 * hidden):
            raise InferError(f"'input_bias' length {ib.shape[0]} != 3*H = {3 * hidden}")
        cls._state(ctx, "initial_h", batch, hidden)
        return cls._outputs(ctx, x, hidden, 1)


@register_op("rnn", category="recurrent")
class Rnn(_Recurrent):
    """Simple recurrent layer ``h_t = activation(W_ih x_t + W_hh h_(t−1) + b)``.

    Args:
        x: ``[s, b, I]``; initial_h: ``[b, H]``; weight_ih: const ``[H, I]``; weight_hh: const ``[H, H]``;
        bias: const ``[H]`` optional; direction ``forward`` | ``reverse``; output_sequence default false;
        activation default ``tanh``.

    Returns:
        output ``[s or 1, b, H]`` and final h ``[b, H]``.
    """

    inputs = (
        InputSpec("x", FLOATS, rank=(3,)),
        _w("initial_h", 2, const=False),
        _w("weight_ih", 2),
        _w("weight_hh", 2),
        _w("bias", 1, optional=True),
        _s("direction", "forward"),
        _flag("output_sequence"),
        _s("activation", "tanh"),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, batch, _ = cls._sequence(ctx)
        hidden = cls._check_weights(ctx, "weight_ih", "weight_hh", "bias", x.shape[2])
        cls._state(ctx, "initial_h", batch, hidden)
        return cls._outputs(ctx, x, hidden, 1)
