"""Build MIL programs from Python: :class:`Builder` instances and the :func:`program` decorator.

No global state (architecture.md §5): a Builder owns one :class:`Function`, its variables and its name
counters, so names are stable (same code -> same text) and two builders never interfere. Op methods are
looked up in ``OP_REGISTRY`` by ``__getattr__`` (``mb.conv(x=…, weight=…)``) with MIL's argument names.

Constant promotion (``python_to_array`` in check.py): Python scalars, lists and numpy arrays passed as op
inputs become ``const`` ops. numpy arrays keep their dtype (float64 -> fp32, int64 -> int32); Python floats
are fp32 and ints int32 unless the op ties the input to a float peer (``same_dtype_as``), in which case they
take the peer's dtype, e.g. ``mb.mul(x=x_fp16, y=0.5)`` gives an fp16 const, as coremltools' promotion does.
Omitted optional inputs with a default are materialised as consts, so the text is explicit like
coremltools' output and the hand-written ANE programs. Constants with at least 10 elements of a blob dtype
go to the weight file, smaller ones inline (coremltools' ``should_use_weight_file``, mil-format.md §7.2).
numpy arrays are held by reference as read-only views, not copied (weights can be hundreds of MB): do not
modify an array after passing it to the builder.

Op inputs may also be ready-made :class:`~anekit.mil.values.Value` objects, which keep their own MIL type
and storage (sub-byte dtypes such as uint2 indices have no numpy equivalent).

A failed insertion (bad input, inference error) raises and leaves the function exactly as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import MILError
from .builder_program import DEFAULT_BUILD_INFO, UNSET, make_program
from .check import (
    BindPlan,
    binding_type,
    const_problems,
    literal_key,
    loaded_data,
    peer_dtype,
    python_to_array,
    should_use_blob,
)
from .ir import Binding, Function, Operation, Program, Var
from .ops._context import StaticContext
from .ops._spec import OP_REGISTRY, InputSpec, OpSpec, get_spec, opset_index
from .types import DType, StateType, TensorType, Type, dtype
from .values import Value

__all__ = ["Builder"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_@]*\Z")
_STRING = dtype("string")


class Builder:
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

    __slots__ = (
        "_array_cache",
        "_const_cache",
        "_counters",
        "_finished",
        "_fn",
        "_journal",
        "_methods",
        "_names",
        "_plans",
        "_type_cache",
        "_vars",
        "build_info",
        "opset",
    )

    def __init__(
        self,
        opset: str = "ios18",
        *,
        name: str = "main",
        build_info: Mapping[str, str] | None = UNSET,
    ) -> None:
        opset_index(opset)
        _check_ident(name, "function name")
        self.opset = opset
        self.build_info = dict(DEFAULT_BUILD_INFO if build_info is UNSET else build_info or {})
        self._fn = Function(name, opset)
        self._vars: dict[str, Var] = {}
        self._names: set[str] = set()
        self._counters: dict[str, int] = {}
        # Op and variable names claimed, in order, so a failed insertion can release exactly its own names.
        self._journal: list[tuple[Any, ...]] = []
        self._type_cache: dict[Any, TensorType] = {}  # (numpy dtype, shape) -> TensorType, per builder
        self._plans: dict[type[OpSpec], BindPlan] = {}  # per spec: binding tables for this opset
        # Converted immutable literals (Python/numpy scalars, strings, the specs' default objects) -> the
        # (type, read-only data, storage) of their Value, so repeated constants are typed once per builder.
        self._const_cache: dict[Any, tuple[TensorType, Any, str]] = {}
        # (numpy dtype, shape) -> (type, storage) of arrays that python_to_array keeps unchanged.
        self._array_cache: dict[Any, tuple[TensorType, str]] = {}
        self._methods: dict[str, Callable[..., Any]] = {}  # op methods made by __getattr__
        self._finished = False

    # ------------------------------------------------------------------ names
    def _fresh(self, prefix: str, taken: set[str] | dict[str, Any]) -> str:
        old = self._counters.get(prefix)
        n = old or 0
        while f"{prefix}_{n}" in taken:
            n += 1
        self._counters[prefix] = n + 1
        self._journal.append(("counter", prefix, old))
        return f"{prefix}_{n}"

    def _check_open(self) -> None:
        if self._finished:
            raise MILError(
                f"builder of function {self._fn.name!r} is finished (function()/build() was called); "
                "start a new Builder"
            )

    def _claim_op_name(self, name: str | None, prefix: str) -> str:
        self._check_open()
        if name is None:
            name = self._fresh(prefix, self._names)
        else:
            _check_ident(name, "op name")
            if name in self._names:
                raise MILError(f"op name {name!r} is already used in function {self._fn.name}")
        self._names.add(name)
        self._journal.append(("op", name))
        return name

    def _new_var(self, name: str, t: Type, *, strict: bool = False) -> Var:
        if name in self._vars:
            if strict:
                raise MILError(f"variable name {name!r} is already used in function {self._fn.name}")
            name = self._fresh(name, self._vars)
        v = Var(name, t)
        self._vars[name] = v
        self._journal.append(("var", name))
        return v

    def _auto_const(self, prefix: str, value: Value) -> Var:
        """Add a ``const`` named ``<prefix>_N`` holding ``value``; returns its output.

        The same as ``_claim_op_name(None, prefix)``, ``_new_var`` and ``Operation.const_op``, usually with a
        single journal entry: op inputs become hundreds of these per program. Only called while an op is being
        added, i.e. after the op's own name was claimed on an open builder.
        """
        counters, names, variables = self._counters, self._names, self._vars
        old = counters.get(prefix)
        n = old or 0
        name = f"{prefix}_{n}"
        while name in names:
            n += 1
            name = f"{prefix}_{n}"
        counters[prefix] = n + 1
        names.add(name)
        if name in variables:
            # Rare (the generated op name is some other variable's name): the general path, whose journal
            # entries keep their chronological order for the rollback.
            self._journal += (("counter", prefix, old), ("op", name))
            out = self._new_var(name, value.type)
        else:
            out = variables[name] = Var(name, value.type)
            self._journal.append(("const", name, prefix, old))
        self._fn.operations.append(Operation.const_op(name, value, out))
        return out

    # ------------------------------------------------------------------ inputs and consts
    def input(self, name: str, type: Type) -> Var:
        """Declare a function input (a :class:`TensorType`, or a :class:`StateType` for iOS18 state)."""
        self._check_open()
        _check_ident(name, "input name")
        if not isinstance(type, (TensorType, StateType)):
            raise MILError(f"input {name!r} must have a tensor or state type, got {type!r}")
        if isinstance(type, StateType) and opset_index(self.opset) < opset_index("ios18"):
            raise MILError(f"state input {name!r} needs opset ios18, builder has {self.opset}")
        if name in self._vars:
            raise MILError(f"input name {name!r} is already used")
        v = Var(name, type)
        self._vars[name] = v
        self._fn.inputs[name] = v
        return v

    def _value(
        self,
        val: Any,
        *,
        dt: str | DType | None,
        blob: bool | None,
        blob_path: str | None,
        spec: InputSpec | None = None,
        peer: DType | None = None,
    ) -> Value:
        plain = dt is None and blob is None and blob_path is None
        if plain and type(val) is np.ndarray and (value := self._array_value(val)) is not None:
            return value
        data, t = python_to_array(val, spec, peer, self._type_cache)
        if dt is not None:
            target = dtype(dt)
            if target != t.dtype:
                arr = np.asarray(data)
                if target.np_dtype is None:
                    raise MILError(f"cannot convert {t} data to {target.name}")
                if target.is_int and arr.dtype.kind == "f" and not np.all(np.mod(arr, 1) == 0):
                    raise MILError(f"values {arr!r} are not integers, cannot make a {target.name} const")
                if target.is_int:
                    lo = -(1 << (target.bits - 1)) if target.kind == "int" else 0
                    hi = (1 << (target.bits - 1)) - 1 if target.kind == "int" else (1 << target.bits) - 1
                    if arr.size and (arr.min() < lo or arr.max() > hi):
                        raise MILError(f"values in [{arr.min()}, {arr.max()}] do not fit {target.name}")
                data = arr.astype(target.np_dtype)
                t = TensorType(target, t.shape)
        use_blob = should_use_blob(t, self.opset) if blob is None else blob
        storage = "blob" if use_blob and (blob_path is not None or t.dtype.name != "string") else "inline"
        if plain and isinstance(data, np.ndarray):
            # Data straight from python_to_array matches ``t`` by construction: skip Value's re-validation.
            if data.dtype.kind in "biuf":
                # python_to_array returns any numpy array of this (MIL-native) dtype unchanged, typed ``t``.
                self._array_cache[(data.dtype, data.shape)] = (t, storage)
            if data.flags.writeable:
                data = data.view()
                data.flags.writeable = False
            return Value.trusted(t, data, storage)
        return Value(t, data, storage=storage, path_hint=blob_path if storage == "blob" else None)

    def _array_value(self, arr: np.ndarray) -> Value | None:
        """``arr`` as a Value when an array of its dtype and shape was typed before (else None)."""
        hit = self._array_cache.get((arr.dtype, arr.shape))
        if hit is None:
            return None
        if arr.flags.writeable:
            arr = arr.view()  # a read-only view, as in _value
            arr.flags.writeable = False
        return Value.trusted(hit[0], arr, hit[1])

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
            value = self._value(val, dt=dtype, blob=blob, blob_path=blob_path)
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

        def method(name: str | None = None, out_names: str | Sequence[str] | None = None, **inputs: Any) -> Any:
            return self.add_op(op_type, inputs, name=name, out_names=out_names)

        method.__name__ = op_type
        method.__doc__ = OP_REGISTRY[op_type].__doc__
        self._methods[op_type] = method
        return method

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(OP_REGISTRY))

    def _own(self, v: Var, where: str) -> Var:
        if self._vars.get(v.name) is not v:
            raise MILError(f"{where}: variable {v.name!r} does not belong to this builder's function")
        return v

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
        if type(val) is np.ndarray and (value := self._array_value(val)) is not None:  # weights: the common case
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
            peer = None if isinstance(val, (np.ndarray, np.generic)) else peer_dtype(plan, ispec, bound)
            if key is None:
                key = literal_key(val, ispec, peer)
            hit = None if key is None else self._const_cache.get(key)
            if hit is not None:
                value = Value.trusted(*hit)
            else:
                try:
                    value = self._value(val, dt=None, blob=None, blob_path=None, spec=ispec, peer=peer)
                except MILError as exc:
                    raise MILError(f"[{spec.op_type} '{op_name}'] input {ispec.name!r}: {exc}") from None
                if key is not None:
                    # Immutable inputs only (see literal_key): the same literal always converts the same way.
                    self._const_cache[key] = (value.type, value._data, value.storage)
        if plan.as_value:
            return value
        return self._auto_const(f"{op_name}_{ispec.name}", value)

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
        spec = OP_REGISTRY.get(op_type)
        if spec is None or spec not in self._plans:  # a planned spec was already found available in this opset
            spec = get_spec(op_type, self.opset)
        # Roll back consts and names of a failed insertion, so a caught error leaves the function unchanged.
        # The journal only serves this rollback: entries of earlier, finished insertions are dropped.
        self._journal.clear()
        n_ops, n_journal = len(self._fn.operations), 0
        try:
            return self._add_op(spec, inputs, name, out_names)
        except Exception:
            del self._fn.operations[n_ops:]
            for entry in reversed(self._journal[n_journal:]):
                kind = entry[0]
                if kind == "op":
                    self._names.discard(entry[1])
                elif kind == "var":
                    self._vars.pop(entry[1], None)
                else:
                    if kind == "const":  # ("const", name, prefix, old counter) from _auto_const
                        self._vars.pop(entry[1], None)
                        self._names.discard(entry[1])
                    prefix, old = entry[-2], entry[-1]  # "counter" entries: ("counter", prefix, old counter)
                    if old is None:
                        self._counters.pop(prefix, None)
                    else:
                        self._counters[prefix] = old
            del self._journal[n_journal:]
            raise

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
        attr_style, as_value = plan.attr_style, plan.as_value
        variables, array_cache = self._vars, self._array_cache
        bound: dict[str, Binding] = {}
        # The inference context is kept up to date as inputs are bound (cheaper than rebuilding it per default).
        ctx_types: dict[str, Any] = {}
        ctx_data: dict[str, Any] = {}  # known values: attributes for attribute-style ops, else input values
        ctx_values, ctx_attrs = ({}, ctx_data) if attr_style else (ctx_data, {})

        def bind(ispec: InputSpec, val: Any, key: Any = None) -> None:
            name = ispec.name
            if type(val) is np.ndarray and (hit := array_cache.get((val.dtype, val.shape))) is not None:
                # The common cases first, inlined: weights and other arrays (_array_value) ...
                if val.flags.writeable:
                    val = val.view()
                    val.flags.writeable = False
                value = Value.trusted(hit[0], val, hit[1])
                bound[name] = value if as_value else self._auto_const(f"{op_name}_{name}", value)
                ctx_types[name] = value.type
                ctx_data[name] = val
                return
            if type(val) is Var and variables.get(val.name) is val:
                b = bound[name] = val  # ... and this builder's variables
            else:
                b = bound[name] = self._bind(op_name, spec, ispec, val, bound, plan, key)
            if type(b) is Var:  # what binding_type / loaded_data give for a variable, inlined
                ctx_types[name] = b.type
                p = b.op
                if p is not None and p.op_type == "const":
                    v = p.attrs.get("val")
                    if v is not None and v._data is not None:  # Value.is_loaded / Value.data
                        ctx_data[name] = v._data
                return
            ctx_types[name] = binding_type(b)
            data = loaded_data(b)
            if data is not None and not (isinstance(data, tuple) and all(x is None for x in data)):
                ctx_data[name] = data

        # Variables first, so Python constants can take their peer's dtype.
        rest = []
        for k, v in inputs.items():
            if isinstance(v, Var):
                bind(known[k], v)
            elif v is not None:
                rest.append((k, v))
        for k, v in rest:
            bind(known[k], v)
        # One context for default callables and inference: it reads the dicts above, so it always shows the
        # inputs bound so far.
        ctx = StaticContext.wrapping(op_type, op_name, self.opset, ctx_types, ctx_values, ctx_attrs)
        # Omitted optional inputs with a default become explicit consts (like coremltools' output).
        for ispec, default, dynamic in plan.defaults:
            if ispec.name in bound:
                continue
            if dynamic:
                default = default(ctx)
                if default is not None:
                    bind(ispec, default)
            else:
                # A spec's own default object never changes: convert it once per builder.
                bind(ispec, default, ("default", id(default)) if isinstance(default, np.ndarray) else None)
        op = Operation.built(op_type, op_name)
        for k in known:
            if k not in bound:
                continue
            b = bound[k]
            if attr_style:
                if not isinstance(b, Value):
                    raise MILError(
                        f"[{op_type} '{op_name}'] operand {k!r} must be a constant (it is an "
                        "attribute in the pre-iOS18 text form, §7.4)"
                    )
                op.attrs[k] = b
            else:
                op.inputs[k] = b
        # Unknown inputs were rejected above, so only the const rule of check_bindings can still fail.
        problems = const_problems(op, plan.const_inputs) if plan.const_inputs else None
        if problems:
            raise MILError(f"[{op_type} '{op_name}'] " + "; ".join(problems))
        types = spec.infer(ctx)
        if type(types) is not list:  # as run_infer: a single returned type is wrapped
            types = list(types) if isinstance(types, (list, tuple)) else [types]
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
                _check_ident(o, "output variable name")
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
    def _outputs(self, outputs: Any) -> list[Var]:
        if isinstance(outputs, Var):
            return [self._own(outputs, "output")]
        if isinstance(outputs, Mapping):
            out = []
            for key, v in outputs.items():
                _check_ident(key, "output name")
                self._own(v, "output")
                if v.name != key:
                    if v.op is None:
                        raise MILError(f"cannot rename function input {v.name!r} to output name {key!r}")
                    if key in self._vars:
                        raise MILError(f"output name {key!r} is already used by another variable")
                    del self._vars[v.name]
                    v.name = key
                    self._vars[key] = v
                out.append(v)
            return out
        if isinstance(outputs, Sequence) and not isinstance(outputs, str):
            return [self._own(v, "output") if isinstance(v, Var) else _bad_output(v) for v in outputs]
        return [_bad_output(outputs)]

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


def _check_ident(name: Any, what: str) -> None:
    if not isinstance(name, str) or not _IDENT.match(name):
        raise MILError(f"{what} {name!r} is not a valid MIL identifier ([A-Za-z_][A-Za-z0-9_@]*)")


def _bad_output(v: Any) -> Var:
    raise MILError(f"function outputs must be Vars, got {type(v).__name__}")


def _member(ispec: InputSpec) -> InputSpec:
    return InputSpec(ispec.name, ispec.dtypes, ispec.const, same_dtype_as=ispec.same_dtype_as)
