"""What a VJP rule works with: the backward builder, the forward values it may read, and small MIL helpers.

:class:`BackwardContext` hands rules the forward value of any forward variable as a backward-program variable
(:meth:`BackwardContext.primal`). Where that value comes from is the save policy (see :mod:`anekit.autodiff`):

* a forward function input becomes a backward input of the same name and type;
* a value computed from constants only (masks, scales, tables) is recomputed in the backward under both policies,
  because it costs nothing at run time and saving it would waste an output surface;
* any other value is recomputed from the forward inputs (``save="recompute"``: the ops that produce it are copied
  into the backward, each at most once) or becomes a backward input ``saved_<n>`` that the forward returns as an
  extra output (``save="activations"``); under ``"activations"`` the outputs of data-movement ops
  (:data:`LAYOUT_OPS`) are recomputed from their operand instead, which is saved (or is an input);
  ``save="selective"`` saves only the outputs of :data:`SELECTIVE_SAVE_OPS` and recomputes the rest from them.
  Saved tensors travel in the ANE's ``[1, C, 1, S]`` layout (:func:`surface_shape`).

The helpers stay within the ops the ANE documentation shows running (docs/internals/mil-format.md §8, §10; the
``ane-unverified-op`` validator rule) where that costs no accuracy: negation and scaling are ``mul`` by a constant,
sums over broadcast axes are ``reduce_sum``, and broadcasting a value back to a larger shape is ``mul`` by a small
ones constant rather than ``tile``. Division is ``real_div`` (:meth:`BackwardContext.divide` says why).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import MILError, NotDifferentiableError
from ..mil import Builder, Function, Operation, Var
from ..mil.types import TensorType
from ..mil.values import Value
from ._copy import copy_op

__all__ = ["LAYOUT_OPS", "SELECTIVE_SAVE_OPS", "BackwardContext", "first_cotangent", "static_shape", "surface_shape"]

#: Ops that only move data: under ``save="activations"`` their outputs are recomputed from their (saved or input)
#: operand rather than saved, so a reshaped or transposed copy never costs a surface of its own.
LAYOUT_OPS = frozenset(
    {"reshape", "transpose", "expand_dims", "squeeze", "identity", "slice_by_size", "slice_by_index", "split", "concat"}
)

#: Ops whose outputs ``save="selective"`` saves: the contractions (most of a transformer's FLOPs) and the ops that
#: normalise over an axis. Everything else — elementwise ops, reductions, data movement — is recomputed from these
#: and the forward inputs, as selective activation checkpointing does in PyTorch training loops.
SELECTIVE_SAVE_OPS = frozenset(
    {"matmul", "linear", "conv", "conv_transpose", "softmax", "layer_norm", "gather", "scaled_dot_product_attention"}
)


def static_shape(v: Var, what: str = "") -> tuple[int, ...]:
    """The static shape of a tensor variable; NotDifferentiableError naming ``what`` for dynamic or other types."""
    t = v.type
    if not isinstance(t, TensorType) or not t.is_static:
        raise NotDifferentiableError(
            f"autodiff needs static tensor shapes; {what or v.name} has type {t}: give the program's inputs fixed "
            "shapes (one program per shape, as the ANE compiles them)"
        )
    return tuple(int(d) for d in t.shape)  # type: ignore[arg-type]


def first_cotangent(cots: Sequence[Var | None]) -> Var:
    """The cotangent of a single-output op (the transform calls a rule only when one reached an output)."""
    g = cots[0]
    if g is None:
        raise MILError("autodiff: a rule of a single-output op was called without a cotangent")
    return g


def surface_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """The ``[1, C, 1, S]`` shape a saved tensor travels in: ``S`` its last dimension larger than 1, ``C`` the rest.

    ANE inputs and outputs are ``[1, C, 1, S]`` surfaces (the ``ane-io-layout`` rule); a softmax ``[1, H, T, T]`` is
    saved as ``[1, H*T, 1, T]`` and a per-channel ``[1, C, 1, 1]`` as ``[1, 1, 1, C]`` (``S = 1`` surfaces are
    reported to give wrong results, ``ane-single-token``). The forward reshapes, the backward reshapes back.
    """
    n = int(np.prod(shape, dtype=np.int64))
    big = [d for d in shape if d != 1]
    s = big[-1] if big else 1
    return (1, n // s, 1, s)


class BackwardContext:
    """The state of one backward derivation, shared by every rule.

    Attributes:
        mb: the backward program's builder; rules emit their ops with it.
        fn: the forward function.
        save: ``"recompute"``, ``"activations"`` or ``"selective"``.
        saved: forward variables the backward takes as ``saved_<n>`` inputs, in order (not for recompute).
        used_inputs: names of the forward inputs the backward reads.
    """

    def __init__(
        self,
        mb: Builder,
        fn: Function,
        save: str,
        inputs: dict[str, Var],
        saved_name: Callable[[int], str],
        differentiable: set[str],
    ) -> None:
        self.mb = mb
        self.fn = fn
        self.save = save
        self._inputs = inputs  # forward input name -> backward input Var (declared up front, pruned at the end)
        self._saved_name = saved_name
        self._differentiable = differentiable
        self._memo: dict[str, Var] = {}  # forward var name -> backward var
        self._order = {id(op): i for i, op in enumerate(fn.operations)}
        self._static = _static_vars(fn)
        self.saved: list[Var] = []
        self.saved_inputs: list[Var] = []
        self.used_inputs: set[str] = set()

    # ------------------------------------------------------------------ what needs a gradient
    def needs(self, op: Operation, name: str) -> bool:
        """Whether input ``name`` of ``op`` is a variable (or a tuple holding one) a gradient must flow into."""
        b = op.inputs.get(name)
        if isinstance(b, tuple):
            return any(isinstance(m, Var) and m.name in self._differentiable for m in b)
        return isinstance(b, Var) and b.name in self._differentiable

    def is_differentiable(self, v: Var) -> bool:
        """Whether forward variable ``v`` depends on a ``wrt`` input through float values."""
        return v.name in self._differentiable

    # ------------------------------------------------------------------ forward values
    def primal(self, v: Var) -> Var:
        """The forward value of ``v`` as a backward variable (recomputed or saved, see the module docstring)."""
        got = self._memo.get(v.name)
        if got is not None:
            return got
        if v.op is None:
            got = self._inputs[v.name]
            self.used_inputs.add(v.name)
        elif not self._recomputed(v):
            shape = static_shape(v)
            surface = surface_shape(shape)
            saved_in = self.mb.input(self._saved_name(len(self.saved)), TensorType(v.type.dtype, surface))  # type: ignore[union-attr]
            self.saved.append(v)
            self.saved_inputs.append(saved_in)
            got = saved_in if surface == shape else self.mb.reshape(x=saved_in, shape=np.array(shape, np.int32))
        else:
            self._replay(v)
            got = self._memo[v.name]
        self._memo[v.name] = got
        return got

    def _recomputed(self, v: Var) -> bool:
        """Whether the backward recomputes forward variable ``v`` (produced by an op) rather than taking it saved."""
        if self.save == "recompute" or v.name in self._static:
            return True
        op_type = v.op.op_type  # type: ignore[union-attr]
        if self.save == "activations":
            return op_type in LAYOUT_OPS
        return op_type not in SELECTIVE_SAVE_OPS

    def input(self, op: Operation, name: str) -> Var:
        """The forward value of input ``name`` of ``op`` as a backward variable (inline literals become consts)."""
        b = op.inputs.get(name)
        if isinstance(b, Var):
            return self.primal(b)
        if isinstance(b, Value):
            return self.mb.const(b)
        raise MILError(f"[{op.op_type} '{op.name}'] has no single-valued input {name!r}")

    def const(self, op: Operation, name: str) -> Any:
        """The compile-time value of input ``name`` of ``op`` (numpy), or None when it is a run-time value."""
        return op.input_value(name)

    def const_ints(self, op: Operation, name: str, n: int, default: int) -> list[int]:
        """The compile-time input ``name`` of ``op`` as a flat list of ints; ``[default] * n`` when it is absent."""
        v = self.const(op, name)
        return [int(default)] * n if v is None else [int(i) for i in np.asarray(v).reshape(-1)]

    def _replay(self, v: Var) -> None:
        """Copy the forward ops producing ``v`` (and what they need) into the backward, in forward order."""
        todo: list[Operation] = []
        seen: set[int] = set()
        stack = [v.op]
        while stack:
            op = stack.pop()
            if op is None or id(op) in seen:
                continue
            seen.add(id(op))
            todo.append(op)
            for u in op.input_vars():
                # Walked here, not by recursion through primal(): chains of recomputed ops can be long.
                if u.op is not None and u.name not in self._memo and self._recomputed(u):
                    stack.append(u.op)
        todo.sort(key=lambda o: self._order[id(o)])
        for op in todo:
            outs = copy_op(self.mb, op, self.primal)
            for fwd, new in zip(op.outputs, outs, strict=True):
                self._memo[fwd.name] = new

    # ------------------------------------------------------------------ helpers for rules
    def scalar(self, value: float, like: Var) -> Any:
        """A scalar constant in ``like``'s float dtype (numpy scalar: the builder makes it a const)."""
        np_dtype = like.type.dtype.np_dtype  # type: ignore[union-attr]
        return np.asarray(value, dtype=np_dtype)[()]

    def zeros(self, like: Var) -> Var:
        """A constant zero tensor of ``like``'s type."""
        shape = static_shape(like)
        return self.mb.const(np.zeros(shape, like.type.dtype.np_dtype))  # type: ignore[union-attr]

    def scale(self, x: Var, value: float) -> Var:
        """``x * value`` (negation is ``value=-1``)."""
        return self.mb.mul(x=x, y=self.scalar(value, x))

    def divide(self, x: Var, y: Var) -> Var:
        """``x / y`` in one ``real_div``.

        Not ``x * pow(y, -1)``: in fp16 ``1 / y`` overflows to infinity once ``|y| < 1/65504`` (about 1.5e-5), and
        a zero cotangent times that infinity is NaN, while the quotient itself is finite whenever the gradient is
        (each op computes in fp32 and rounds its output once).
        """
        return self.mb.real_div(x=x, y=y)

    def sum_to(self, g: Var, shape: Sequence[int]) -> Var:
        """Reduce a broadcast cotangent ``g`` back to ``shape`` (numpy broadcasting rules)."""
        gshape = static_shape(g)
        shape = tuple(shape)
        if gshape == shape:
            return g
        lead = len(gshape) - len(shape)
        if lead < 0:
            raise MILError(f"autodiff: cotangent of shape {gshape} cannot be summed to the larger shape {shape}")
        axes = list(range(lead)) + [
            lead + i for i, d in enumerate(shape) if d == 1 and gshape[lead + i] != 1
        ]
        out = g
        if axes:
            out = self.mb.reduce_sum(x=g, axes=np.array(axes, np.int32), keep_dims=True)
        if static_shape(out) != shape:
            out = self.mb.reshape(x=out, shape=np.array(shape, np.int32))
        return out

    def broadcast_to(self, g: Var, shape: Sequence[int]) -> Var:
        """Broadcast ``g`` (same rank, size-1 dims where ``shape`` is larger) to ``shape``.

        ``mul`` by a ones constant that is large only along the broadcast axes, so the constant stays small (a
        ``[1, C, 1, 1]`` for a reduction over channels of ``[1, C, 1, S]``).
        """
        gshape = static_shape(g)
        shape = tuple(shape)
        if gshape == shape:
            return g
        ones_shape = tuple(d if gd == 1 and d != 1 else 1 for gd, d in zip(gshape, shape, strict=True))
        ones = np.ones(ones_shape, g.type.dtype.np_dtype)  # type: ignore[union-attr]
        return self.mb.mul(x=g, y=ones)

    def embed(self, g: Var, shape: Sequence[int], start: Sequence[int]) -> Var:
        """Place ``g`` at offset ``start`` inside zeros of ``shape`` (the cotangent of a contiguous slice).

        One ``concat`` with zero constants per axis along which ``g`` is smaller (``concat`` is among the ops the
        ANE documentation shows; ``pad`` and ``scatter`` are not).
        """
        cur = list(static_shape(g))
        out = g
        np_dtype = g.type.dtype.np_dtype  # type: ignore[union-attr]
        for axis, (full, begin) in enumerate(zip(shape, start, strict=True)):
            if cur[axis] == full:
                continue
            pieces = []
            after = full - begin - cur[axis]
            if begin:
                pieces.append(np.zeros((*cur[:axis], begin, *cur[axis + 1 :]), np_dtype))
            pieces.append(out)
            if after:
                pieces.append(np.zeros((*cur[:axis], after, *cur[axis + 1 :]), np_dtype))
            parts = tuple(self.mb.const(p) if isinstance(p, np.ndarray) else p for p in pieces)
            out = self.mb.concat(values=parts, axis=np.int32(axis), interleave=False)
            cur[axis] = full
        return out

    def add_all(self, terms: Iterable[Var]) -> Var:
        """The sum of one or more cotangents."""
        it = iter(terms)
        total = next(it)
        for t in it:
            total = self.mb.add(x=total, y=t)
        return total


def _static_vars(fn: Function) -> set[str]:
    """Names of the variables computed from constants only (no function input among their ancestors)."""
    static: set[str] = set()
    for op in fn.operations:
        if all(u.name in static for u in op.input_vars()):
            static.update(v.name for v in op.outputs)
    return static
