"""Build MIL programs from Python: the :class:`Builder` (``@program`` is in :mod:`~anekit.mil.builder.program`).

No global state (docs/internals/architecture.md §5): a Builder owns one :class:`Function`, its variables and its name
counters, so names are stable (same code -> same text) and two builders never interfere. Op methods are
looked up in ``OP_REGISTRY`` by ``__getattr__`` (``mb.conv(x=…, weight=…)``) with MIL's argument names.

Constant promotion (``python_to_array`` in check.py): Python scalars, lists and numpy arrays passed as op
inputs become ``const`` ops. numpy arrays keep their dtype (float64 -> fp32, int64 -> int32); Python floats
are fp32 and ints int32 unless the op ties the input to a float peer (``same_dtype_as``), in which case they
take the peer's dtype, e.g. ``mb.mul(x=x_fp16, y=0.5)`` gives an fp16 const, as coremltools' promotion does.
Omitted optional inputs with a default are materialised as consts, so the text is explicit like
coremltools' output and the hand-written ANE programs. Constants with at least 10 elements of a blob dtype
go to the weight file, smaller ones inline (coremltools' ``should_use_weight_file``, docs/internals/mil-format.md §7.2).
numpy arrays are held by reference as read-only views, not copied (weights can be hundreds of MB): do not
modify an array after passing it to the builder.

Op inputs may also be ready-made :class:`~anekit.mil.values.Value` objects, which keep their own MIL type
and storage (sub-byte dtypes such as uint2 indices have no numpy equivalent).

A failed insertion (bad input, inference error) raises and leaves the function exactly as it was.

Layout: names, variables and the rollback journal live in :mod:`~anekit.mil.builder.names` (the base class),
const promotion in :mod:`~anekit.mil.builder.consts`, memoised inference in :mod:`~anekit.mil.infer_memo`,
``make_program`` and the ``@program`` decorator in :mod:`~anekit.mil.builder.program`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import MILError
from ..check import BindPlan, binding_type, const_problems, follow_dtype, loaded_data, peer_dtype
from ..infer_memo import InferMemo
from ..ir import Binding, Function, Operation, Program, Var
from ..ops._context import StaticContext
from ..ops._spec import OP_REGISTRY, InputSpec, OpSpec, get_spec, opset_index
from ..types import DType, StateType, TensorType, Type
from ..values import Value
from .consts import PEERLESS, ConstMaker, peerless_key
from .methods import make_op_method
from .names import NameScope, check_ident
from .program import DEFAULT_BUILD_INFO, UNSET, make_program

__all__ = ["Builder"]


class Builder(NameScope):
    """Builds one MIL function.

    Args:
        opset: ``ios15`` … ``ios18`` (ios18 prints as dialect A, older opsets as dialect B).
        name: the function name.
        build_info: the program's ``buildInfo`` dict (None: no buildInfo line).

    Example:
        >>> mb = Builder(opset="ios18")
        >>> x = mb.input("x", tensor((1, 64, 1, 32), "fp16"))
        >>> prog = mb.build(mb.relu(x=x))
    """

    __slots__ = ("_consts", "_memo", "_methods", "_plans", "build_info", "opset")

    def __init__(
        self,
        opset: str = "ios18",
        *,
        name: str = "main",
        build_info: Mapping[str, str] | None = UNSET,
    ) -> None:
        opset_index(opset)
        check_ident(name, "function name")
        super().__init__(Function(name, opset))
        self.opset = opset
        self.build_info = dict(DEFAULT_BUILD_INFO if build_info is UNSET else build_info or {})
        self._plans: dict[type[OpSpec], BindPlan] = {}  # per spec: binding tables for this opset
        self._consts = ConstMaker(opset)  # const promotion, with its per-builder caches
        self._memo = InferMemo()  # inference results of repeated ops (layers repeat the same shapes)
        self._methods: dict[str, Callable[..., Any]] = {}  # op methods made by __getattr__

    # ------------------------------------------------------------------ inputs and consts
    def input(self, name: str, type: Type) -> Var:
        """Declare a function input (a :class:`TensorType`, or a :class:`StateType` for iOS18 state)."""
        self._check_open()
        check_ident(name, "input name")
        if not isinstance(type, (TensorType, StateType)):
            raise MILError(f"input {name!r} must have a tensor or state type, got {type!r}")
        if isinstance(type, StateType) and opset_index(self.opset) < opset_index("ios18"):
            raise MILError(f"state input {name!r} needs opset ios18, builder has {self.opset}")
        if name in self._vars:
            raise MILError(f"input name {name!r} is already used")
        v = Var(name, self._memo.canonical(type))  # canonical: repeated ops then share memo entries
        self._vars[name] = v
        self._fn.inputs[name] = v
        return v

    def const(
        self,
        val: Any,
        *,
        name: str | None = None,
        dtype: str | DType | None = None,
        blob: bool | None = None,
        blob_path: str | None = None,
    ) -> Var:
        """Add a ``const`` op.

        Args:
            val: Python scalar/str/list, numpy array, or a ready-made :class:`Value` (for types numpy cannot
                express, e.g. ``Value(tensor(shape, "uint4"), uint8_array, storage="blob")``).
            name: op and variable name (generated ``const_N`` when None).
            dtype: force the MIL dtype (e.g. ``"fp16"`` for a Python float, ``"uint4"`` for packed indices).
            blob: force weight-file (True) or inline (False) storage; None applies the §7.2 threshold.
            blob_path: ``@model_path/…`` file for a blob const (default ``weights/weight.bin``).
        """
        if isinstance(val, Value):
            if dtype is not None or blob is not None or blob_path is not None:
                raise MILError("const(val=Value(...)) takes its type and storage from the Value itself")
            value = val
        else:
            value = self._consts.value(val, dt=dtype, blob=blob, blob_path=blob_path)
        if name is not None and name in self._vars:
            raise MILError(f"variable name {name!r} is already used in function {self._fn.name}")
        op_name = self._claim_op_name(name, "const")
        out = self._new_var(op_name, value.type, strict=name is not None)
        self._fn.operations.append(Operation("const", op_name, {}, {"val": value}, [out]))
        return out

    # ------------------------------------------------------------------ ops
    def __getattr__(self, op_type: str) -> Callable[..., Any]:
        if op_type.startswith("_") or op_type not in OP_REGISTRY:
            raise AttributeError(f"Builder has no op {op_type!r} ({len(OP_REGISTRY)} ops are registered)")
        found = self._methods.get(op_type)
        if found is not None:
            return found
        method = make_op_method(op_type, OP_REGISTRY[op_type], self._insert)
        self._methods[op_type] = method
        return method

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(OP_REGISTRY))

    def add_op(
        self,
        op_type: str,
        inputs: Mapping[str, Any],
        *,
        name: str | None = None,
        out_names: str | Sequence[str] | None = None,
    ) -> Any:
        """Insert an op; returns its output Var, a tuple of Vars (several outputs) or None (no outputs).

        Args:
            op_type: MIL op name.
            inputs: MIL input name -> Var, Python/numpy constant, or sequence (tuple inputs). ``None`` values
                are treated as omitted.
            name: the op's ``name`` (generated ``<op_type>_N`` when None).
            out_names: SSA names of the outputs (default: the op name, or ``<name>_i`` for several outputs).

        Raises:
            MILError: unknown op/input, op not in this opset, or inference failed (the message names the op,
                its inputs' types and what was expected).
        """
        if not isinstance(inputs, Mapping):
            raise MILError(f"add_op({op_type!r}) inputs must be a dict of input name -> value, got {inputs!r}")
        return self._insert(op_type, inputs, name, out_names)

    def _insert(
        self, op_type: str, inputs: Mapping[str, Any], name: str | None, out_names: str | Sequence[str] | None
    ) -> Any:
        spec = OP_REGISTRY.get(op_type)
        if spec is None or spec not in self._plans:  # a planned spec was already found available in this opset
            spec = get_spec(op_type, self.opset)
        # Roll back consts and names of a failed insertion, so a caught error leaves the function unchanged.
        n_ops = self._begin()
        try:
            return self._add_op(spec, inputs, name, out_names)
        except Exception:
            self._rollback(n_ops)
            raise

    def _bind(
        self,
        op_name: str,
        spec: type[OpSpec],
        ispec: InputSpec,
        val: Any,
        bound: dict[str, Binding],
        plan: BindPlan,
        key: Any = None,
    ) -> Binding | Value:
        """Bind ``val`` to input ``ispec`` (the general case; ``_add_op`` inlines arrays and own variables)."""
        if type(val) is np.ndarray and (value := self._consts.array_value(val)) is not None:
            return value if plan.as_value else self._auto_const(f"{op_name}_{ispec.name}", value)
        if isinstance(val, Var):
            if self._vars.get(val.name) is val:
                return val
            return self._own(val, f"[{spec.op_type} '{op_name}'] input {ispec.name!r}")
        if ispec.is_tuple and isinstance(val, (list, tuple)) and any(isinstance(x, Var) for x in val):
            return tuple(self._bind(op_name, spec, _member(ispec), x, bound, plan) for x in val)
        if isinstance(val, Value):
            value = val  # a ready-made Value carries its own MIL type (e.g. sub-byte data numpy cannot express)
        else:
            peer = peer_dtype(plan, ispec, bound)
            # Untyped floats (Python floats, float64 data) follow the op's fp16 compute dtype unless a peer
            # input already decides (check.follow_dtype).
            follow = follow_dtype(plan, ispec, bound) if peer is None else None
            if isinstance(val, (np.ndarray, np.generic)):
                peer = None  # numpy values keep their own dtype (python_to_array)
            try:
                value = self._consts.literal(val, ispec, peer, key, follow)
            except MILError as exc:
                raise MILError(f"[{spec.op_type} '{op_name}'] input {ispec.name!r}: {exc}") from None
        if plan.as_value:
            return value
        return self._auto_const(f"{op_name}_{ispec.name}", value)

    @staticmethod
    def _pending(
        inputs: Mapping[str, Any], plan: BindPlan, bound: dict[str, Binding], ctx: StaticContext
    ) -> Iterator[tuple[InputSpec, Any, Any]]:
        """``(input spec, value, literal cache key)`` to bind, in order: the given variables first (so Python
        constants can take their peer's dtype), the other given values, then the omitted optional inputs'
        defaults, which become explicit consts like coremltools' output. A default callable sees every input
        bound before it (``ctx`` reads the dicts ``_add_op`` fills)."""
        known = plan.known
        rest = []
        for k, v in inputs.items():
            if isinstance(v, Var):
                yield known[k], v, None
            elif v is not None:
                rest.append((k, v))
        for k, v in rest:
            yield known[k], v, None
        for ispec, default, dynamic in plan.defaults:
            if ispec.name in bound:
                continue
            if dynamic:
                default = default(ctx)
                if default is not None:
                    yield ispec, default, None
            else:
                # A spec's own default object never changes: convert it once per builder (Python numbers excepted:
                # they take their peer's dtype).
                yield ispec, default, ("default", id(default)) if isinstance(default, PEERLESS) else None

    def _add_op(
        self, spec: type[OpSpec], inputs: Mapping[str, Any], name: str | None, out_names: str | Sequence[str] | None
    ) -> Any:
        op_type = spec.op_type
        plan = self._plans.get(spec)
        if plan is None:
            plan = self._plans[spec] = BindPlan(spec, self.opset)
        known = plan.known
        for k in inputs:
            if k not in known:
                raise MILError(f"[{op_type}] unknown input {k!r}; {op_type} takes {', '.join(known) or 'nothing'}")
        op_name = self._claim_op_name(name, op_type)
        attr_style, as_value, const_inputs = plan.attr_style, plan.as_value, plan.const_inputs
        variables, auto_const = self._vars, self._auto_const
        array_types, frozen, literals = self._consts.array_types, self._consts.frozen, self._consts.literals
        bound: dict[str, Binding] = {}
        # The inference context is kept up to date as inputs are bound (cheaper than rebuilding it per default).
        ctx_types: dict[str, Any] = {}
        ctx_data: dict[str, Any] = {}  # known values: attributes for attribute-style ops, else input values
        ctx_values, ctx_attrs = ({}, ctx_data) if attr_style else (ctx_data, {})
        # One context for default callables and inference: it reads the dicts above, so it always shows the
        # inputs bound so far.
        ctx = StaticContext.wrapping(op_type, op_name, self.opset, ctx_types, ctx_values, ctx_attrs)
        check_const = False  # a const input got something other than a const op's output
        for ispec, val, key in self._pending(inputs, plan, bound, ctx):
            iname = ispec.name
            if type(val) is np.ndarray and (hit := array_types.get((val.dtype, val.shape))) is not None:
                # The common cases first, inlined: weights and other arrays (ConstMaker.array_value) ...
                if val.flags.writeable:
                    val = frozen(val)
                value = Value.trusted(hit[0], val, hit[1])
                bound[iname] = value if as_value else auto_const(f"{op_name}_{iname}", value)
                ctx_types[iname] = hit[0]
                ctx_data[iname] = val
                continue
            if type(val) is Var and variables.get(val.name) is val:
                b = bound[iname] = val  # ... and this builder's variables
            elif (key or peerless_key(val)) in literals:
                # ... and literals typed before whose typing does not depend on a peer input (strings, numpy
                # scalars, spec defaults): ConstMaker.literal's cache hit, inlined.
                hit = literals[key or peerless_key(val)]
                value = Value.trusted(*hit)
                bound[iname] = value if as_value else auto_const(f"{op_name}_{iname}", value)
                ctx_types[iname] = hit[0]
                ctx_data[iname] = hit[1]
                continue
            else:
                b = bound[iname] = self._bind(op_name, spec, ispec, val, bound, plan, key)
            if type(b) is Var:  # what binding_type / loaded_data give for a variable, inlined
                ctx_types[iname] = b.type
                p = b.op
                if p is not None and p.op_type == "const":
                    v = p.attrs.get("val")
                    if v is not None and v._data is not None:  # Value.is_loaded / Value.data
                        ctx_data[iname] = v._data
                elif iname in const_inputs:
                    check_const = True
                continue
            check_const = check_const or iname in const_inputs
            ctx_types[iname] = binding_type(b)
            data = loaded_data(b)
            if data is not None and not (isinstance(data, tuple) and all(x is None for x in data)):
                ctx_data[iname] = data
        op = Operation.built(op_type, op_name)
        if attr_style:
            for k in known:
                if k in bound:
                    b = bound[k]
                    if not isinstance(b, Value):
                        raise MILError(
                            f"[{op_type} '{op_name}'] operand {k!r} must be a constant (it is an "
                            "attribute in the pre-iOS18 text form, §7.4)"
                        )
                    op.attrs[k] = b
        else:
            op.inputs = {k: bound[k] for k in known if k in bound}  # spec order
            # Unknown inputs were rejected above, so only the const rule of check_bindings can still fail.
            problems = const_problems(op, const_inputs) if check_const else None
            if problems:
                raise MILError(f"[{op_type} '{op_name}'] " + "; ".join(problems))
        types = self._memo.infer(spec, ctx)  # spec.infer(ctx), reused when an earlier op had the same inputs
        n = len(types)
        if n == 1 and out_names is None and op_name not in variables:
            # The usual case: one output named like the op (what the general path below does, inlined).
            out = variables[op_name] = Var(op_name, types[0], op)
            self._journal.append(("var", op_name))
            op.outputs = [out]
            self._fn.operations.append(op)
            return out
        if out_names is None:
            names = [op_name] if n == 1 else [f"{op_name}_{i}" for i in range(n)]
            if name is not None and n == 1 and op_name in self._vars:
                raise MILError(f"[{op_type} '{op_name}'] variable name {op_name!r} is already used")
        else:
            names = [out_names] if isinstance(out_names, str) else list(out_names)
            if len(names) != n:
                raise MILError(f"[{op_type} '{op_name}'] has {n} outputs, got {len(names)} out_names")
            for o in names:
                check_ident(o, "output variable name")
                if o in self._vars:
                    raise MILError(f"[{op_type} '{op_name}'] variable name {o!r} is already used")
        op.outputs = [self._new_var(o, t) for o, t in zip(names, types, strict=True)]
        for v in op.outputs:
            v.op = op
        self._fn.operations.append(op)
        if n == 0:
            return None
        return op.outputs[0] if n == 1 else tuple(op.outputs)

    # ------------------------------------------------------------------ results
    def function(self, outputs: Any) -> Function:
        """Finish the function with ``outputs`` (a Var, a sequence of Vars, or a dict name -> Var).

        After this the builder accepts no more ops or inputs (the function now belongs to the caller).
        """
        self._check_open()
        self._fn.outputs = self._outputs(outputs)
        self._finished = True
        return self._fn

    def build(self, outputs: Any) -> Program:
        """Finish the function and wrap it in a one-function :class:`Program`."""
        return make_program([self.function(outputs)], self.build_info)


def _member(ispec: InputSpec) -> InputSpec:
    return InputSpec(ispec.name, ispec.dtypes, ispec.const, same_dtype_as=ispec.same_dtype_as)
