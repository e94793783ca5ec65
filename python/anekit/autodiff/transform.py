"""The reverse-mode transform: :func:`vjp` walks a forward function backwards and emits the backward program."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import MILError, NotDifferentiableError
from ..mil import Builder, Function, Operation, Program, Var
from ..mil.builder.program import make_program
from ..mil.types import TensorType
from ._copy import copy_op
from .context import BackwardContext
from .registry import RULES

__all__ = ["SAVE_POLICIES", "Gradient", "vjp"]

#: The two save policies (see the :mod:`anekit.autodiff` docstring).
SAVE_POLICIES = ("recompute", "activations", "selective")


@dataclass(frozen=True)
class Gradient:
    """The result of :func:`vjp`.

    Attributes:
        forward: the forward program; with ``save="activations"`` or ``"selective"`` it returns the saved tensors as
            extra outputs ``saved_<n>`` after its own outputs, with ``save="recompute"`` it is the input program itself.
        backward: the backward program. Inputs, in order: the forward inputs it reads (same names and types), the
            saved tensors (not for ``save="recompute"``), and ``grad_<out>`` for each differentiated forward output
            (typed like that output). Outputs: ``grad_<name>`` for each ``wrt`` name, in ``wrt`` order, typed like
            that input.
        saved: names of the saved tensors (empty for ``save="recompute"``).
        wrt: the differentiated inputs.
        outputs: the differentiated forward outputs.
        save: the save policy used.
    """

    forward: Program
    backward: Program
    saved: tuple[str, ...]
    wrt: tuple[str, ...]
    outputs: tuple[str, ...]
    save: str

    @property
    def backward_inputs(self) -> tuple[str, ...]:
        """The backward's input names, in order."""
        return tuple(self.backward.main.inputs)

    def __repr__(self) -> str:
        fwd = sum(op.op_type != "const" for op in self.forward.main.operations)
        bwd = sum(op.op_type != "const" for op in self.backward.main.operations)
        return (
            f"Gradient(wrt={list(self.wrt)}, outputs={list(self.outputs)}, save={self.save!r}, "
            f"saved={len(self.saved)}, forward {fwd} ops, backward {bwd} ops)"
        )


def vjp(
    program: Program,
    wrt: Sequence[str],
    *,
    function: str = "main",
    save: str = "recompute",
    outputs: Sequence[str] | None = None,
) -> Gradient:
    """Derive the backward program (vector-Jacobian product) of one function of ``program``.

    Args:
        program: the forward program.
        wrt: names of the function inputs to differentiate against (float tensors).
        function: the function to differentiate.
        save: ``"recompute"`` (the backward recomputes the forward values it needs from the forward inputs),
            ``"activations"`` (the forward returns them as extra outputs ``saved_<n>``, the backward takes them as
            inputs) or ``"selective"`` (only the outputs of matmuls, convs, softmax and the like are saved, the rest
            is recomputed from them). Values computed from constants only are always recomputed.
        outputs: the forward outputs to differentiate (default: all of them); the backward takes one cotangent
            ``grad_<out>`` for each.

    Returns:
        A :class:`Gradient`.

    Raises:
        MILError: bad arguments (unknown function, input or output names; non-float ``wrt`` inputs; names the
            backward would need twice).
        NotDifferentiableError: an op between ``wrt`` and ``outputs`` has no VJP rule, or a form of an op its rule
            does not cover; the message names the op, its output and what to do.
    """
    if not isinstance(program, Program):
        raise MILError(f"vjp: program must be an anekit.mil.Program, got {type(program).__name__}")
    if save not in SAVE_POLICIES:
        raise MILError(f"vjp: save must be one of {', '.join(map(repr, SAVE_POLICIES))}, got {save!r}")
    if not isinstance(function, str) or function not in program.functions:
        raise MILError(f"vjp: program has no function {function!r} (functions: {', '.join(program.functions)})")
    fn = program.functions[function]
    wrt_names = _names(wrt, "wrt")
    for name in wrt_names:
        v = fn.inputs.get(name)
        if v is None:
            raise MILError(f"vjp: wrt name {name!r} is not an input of {function} (inputs: {', '.join(fn.inputs)})")
        if not _is_float(v):
            raise MILError(f"vjp: wrt input {name!r} has type {v.type}; only float tensors have gradients")
    out_vars = _chosen_outputs(fn, outputs)
    differentiable = _differentiable(fn, set(wrt_names))
    names = _BackwardNames(fn, wrt_names, out_vars)
    mb = Builder(fn.opset, name=fn.name)
    fwd_inputs = {name: mb.input(name, v.type) for name, v in fn.inputs.items()}
    grad_inputs = {v.name: mb.input(names.cotangent(v), v.type) for v in out_vars}
    ctx = BackwardContext(mb, fn, save, fwd_inputs, names.saved, differentiable)

    cot: dict[str, list[Var]] = {}
    for v in out_vars:
        if v.name in differentiable:
            cot.setdefault(v.name, []).append(grad_inputs[v.name])
    for op in reversed(fn.operations):
        if not any(o.name in cot for o in op.outputs):
            continue
        outs = [ctx.add_all(cot.pop(o.name)) if o.name in cot else None for o in op.outputs]
        rule = RULES.get(op.op_type)
        if rule is None:
            raise NotDifferentiableError(_no_rule_message(op, wrt_names))
        try:
            grads = rule(ctx, op, outs)
        except MILError as exc:
            if str(exc).startswith("["):  # already names an op
                raise
            raise type(exc)(f"[{op.op_type} '{op.name}'] VJP rule: {exc}") from exc
        for key, b in op.inputs.items():
            if not ctx.needs(op, key):
                continue
            given = grads.get(key)
            if isinstance(b, tuple):
                members = given if isinstance(given, tuple) else (None,) * len(b)
                for m, g in zip(b, members, strict=True):
                    if isinstance(m, Var) and ctx.is_differentiable(m):
                        _deliver(cot, op, key, m, g, wrt_names)
            else:
                _deliver(cot, op, key, b, given, wrt_names)  # type: ignore[arg-type]

    results: dict[str, Var] = {}
    taken: set[int] = set()
    for name in wrt_names:
        v = fn.inputs[name]
        g = ctx.add_all(cot[name]) if name in cot else ctx.zeros(v)
        if g.op is None or id(g) in taken:  # an input passed straight through, or one var for two outputs
            g = mb.identity(x=g)
        taken.add(id(g))
        results[names.gradient(name)] = g
    backward_fn = mb.function(results)
    _order_inputs(backward_fn, fn, ctx, grad_inputs)
    backward = make_program([backward_fn], mb.build_info)
    forward = program if not ctx.saved else _forward_with_saved(fn, ctx, program)
    return Gradient(
        forward=forward,
        backward=backward,
        saved=tuple(v.name for v in ctx.saved_inputs),
        wrt=tuple(wrt_names),
        outputs=tuple(v.name for v in out_vars),
        save=save,
    )


def _deliver(
    cot: dict[str, list[Var]], op: Operation, key: str, target: Var, g: Var | None, wrt: Sequence[str]
) -> None:
    """Add ``g``, a rule's cotangent for ``target`` (input ``key`` of ``op``), to ``target``'s cotangents."""
    if g is None:
        raise NotDifferentiableError(
            f"[{op.op_type} '{op.name}'] the VJP rule gives no gradient for input {key!r} ({target.name}: "
            f"{target.type}), which depends on {', '.join(wrt)}; feed that value as an input to stop the gradient "
            "there"
        )
    if _shape(g) != _shape(target):  # a rule bug must not produce a wrong program
        raise MILError(
            f"[{op.op_type} '{op.name}'] VJP rule gave input {key!r} a cotangent of type {g.type}, expected "
            f"{target.type}"
        )
    cot.setdefault(target.name, []).append(g)


def _names(seq: Sequence[str], what: str) -> list[str]:
    if isinstance(seq, str) or not isinstance(seq, Sequence):
        raise MILError(f"vjp: {what} must be a list of names, got {seq!r}")
    out = list(seq)
    for s in out:
        if not isinstance(s, str):
            raise MILError(f"vjp: {what} must hold names (str), got {s!r}")
    if len(set(out)) != len(out):
        raise MILError(f"vjp: {what} names a variable twice: {out}")
    if what == "wrt" and not out:
        raise MILError("vjp: wrt is empty; name the inputs to differentiate against")
    return out


def _is_float(v: Var) -> bool:
    return isinstance(v.type, TensorType) and v.type.dtype.is_float


def _chosen_outputs(fn: Function, outputs: Sequence[str] | None) -> list[Var]:
    """The outputs to differentiate: the named ones, or by default every float output (an integer or bool output
    has no cotangent: the backward would take an input nothing can fill meaningfully)."""
    if outputs is None:
        chosen = [v for v in fn.outputs if _is_float(v)]
        if not chosen:
            raise MILError(f"vjp: {fn.name} has no float output to differentiate")
        return chosen
    by_name = {v.name: v for v in fn.outputs}
    chosen = []
    for name in _names(outputs, "outputs"):
        if name not in by_name:
            raise MILError(f"vjp: {name!r} is not an output of {fn.name} (outputs: {', '.join(by_name)})")
        if not _is_float(by_name[name]):
            raise MILError(f"vjp: output {name!r} has type {by_name[name].type}; only float outputs have cotangents")
        chosen.append(by_name[name])
    if not chosen:
        raise MILError("vjp: outputs is empty; name the outputs to differentiate")
    return chosen


def _differentiable(fn: Function, wrt: set[str]) -> set[str]:
    """Forward variables that depend on a ``wrt`` input through float values."""
    out = set(wrt)
    for op in fn.operations:
        if any(u.name in out for u in op.input_vars()):
            out.update(v.name for v in op.outputs if _is_float(v))
    return out


def _shape(v: object) -> object:
    t = getattr(v, "type", None)
    return getattr(t, "shape", None)


def _no_rule_message(op: Operation, wrt: Sequence[str]) -> str:
    outs = ", ".join(f"{v.name}: {v.type}" for v in op.outputs)
    return (
        f"[{op.op_type} '{op.name}'] has no VJP rule, and its output ({outs}) depends on {', '.join(wrt)} and "
        f"reaches a differentiated output. Rewrite it with ops that have one (anekit.autodiff.supported_ops()), "
        "feed the value as an input to stop the gradient there, or add a rule with "
        "anekit.autodiff.register_rule"
    )


class _BackwardNames:
    """The names the transform gives: ``grad_<out>`` inputs, ``grad_<wrt>`` outputs, ``saved_<n>`` tensors."""

    def __init__(self, fn: Function, wrt: Sequence[str], outs: Sequence[Var]) -> None:
        self._taken = set(fn.vars()) | {op.name for op in fn.operations}
        cot = {self.cotangent(v) for v in outs}
        grads = {self.gradient(n) for n in wrt}
        clash = (cot & set(fn.inputs)) | (grads & set(fn.inputs)) | (cot & grads)
        if clash:
            raise MILError(
                f"vjp: the backward would use the name(s) {', '.join(sorted(clash))} twice (the cotangent inputs are "
                "grad_<output>, the gradient outputs grad_<input>, next to the forward inputs); rename the "
                "forward's inputs or outputs"
            )
        self._reserved = set(fn.inputs) | cot | grads
        self._saved: list[str] = []

    @staticmethod
    def cotangent(v: Var) -> str:
        return f"grad_{v.name}"

    @staticmethod
    def gradient(name: str) -> str:
        return f"grad_{name}"

    def saved(self, index: int) -> str:
        """The name of saved tensor ``index``: ``saved_<n>``, skipping names the forward or backward already use."""
        while len(self._saved) <= index:
            n = len(self._saved)
            while f"saved_{n}" in self._taken or f"saved_{n}" in self._reserved or f"saved_{n}" in self._saved:
                n += 1
            self._saved.append(f"saved_{n}")
        return self._saved[index]


def _order_inputs(bfn: Function, fn: Function, ctx: BackwardContext, grads: dict[str, Var]) -> None:
    """Keep the forward inputs the backward reads (forward order), then the saved tensors, then the cotangents."""
    inputs = {name: v for name, v in bfn.inputs.items() if name in ctx.used_inputs}
    inputs.update({v.name: v for v in ctx.saved_inputs})
    inputs.update({v.name: v for v in grads.values()})
    bfn.inputs = inputs


def _forward_with_saved(fn: Function, ctx: BackwardContext, program: Program) -> Program:
    """A copy of the forward that also returns the saved tensors, as ``saved_<n>`` in their surface shapes."""
    returned = {v.name for v in fn.outputs}
    saved = dict(zip((v.name for v in ctx.saved), ctx.saved_inputs, strict=True))
    # A saved value already in its surface shape, and not returned, is renamed in place (no extra op).
    types = {name: v.type for name, v in fn.vars().items()}
    renamed = {name: s.name for name, s in saved.items() if name not in returned and s.type == types[name]}
    mb = Builder(fn.opset, name=fn.name, build_info=program.build_info)
    env: dict[str, Var] = {name: mb.input(name, v.type) for name, v in fn.inputs.items()}

    def lookup(v: Var) -> Var:
        return env[v.name]

    for op in fn.operations:
        out_names = [renamed.get(v.name, v.name) for v in op.outputs]
        if op.op_type == "const":
            outs = copy_op(mb, op, lookup, name=out_names[0])
        else:
            outs = copy_op(mb, op, lookup, name=op.name, out_names=out_names)
        for v, new in zip(op.outputs, outs, strict=True):
            env[v.name] = new
    results: dict[str, Var] = {v.name: env[v.name] for v in fn.outputs}
    for name, s in saved.items():
        new = env[name]
        if name in renamed:
            results[s.name] = new
        elif s.type == new.type:  # also a forward output, which keeps its name: the copy goes out through identity
            results[s.name] = mb.identity(x=new, name=s.name)
        else:
            shape = np.array(s.type.shape, np.int32)  # type: ignore[union-attr]
            results[s.name] = mb.reshape(x=new, shape=shape, name=s.name)
    return make_program([mb.function(results)], program.build_info)
