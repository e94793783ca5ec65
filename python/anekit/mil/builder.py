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
    binding_type,
    check_bindings,
    loaded_data,
    operands_as_attributes,
    python_to_array,
    run_infer,
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
        "_counters",
        "_finished",
        "_fn",
        "_journal",
        "_names",
        "_spec_inputs",
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
        self._spec_inputs: dict[type[OpSpec], dict[str, InputSpec]] = {}
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
        if dt is None and blob is None and blob_path is None and isinstance(data, np.ndarray):
            # Data straight from python_to_array matches ``t`` by construction: skip Value's re-validation.
            if data.flags.writeable:
                data = data.view()
                data.flags.writeable = False
            return Value.trusted(t, data, storage)
        return Value(t, data, storage=storage, path_hint=blob_path if storage == "blob" else None)

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

        def method(name: str | None = None, out_names: str | Sequence[str] | None = None, **inputs: Any) -> Any:
            return self.add_op(op_type, inputs, name=name, out_names=out_names)

        method.__name__ = op_type
        method.__doc__ = OP_REGISTRY[op_type].__doc__
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
        inline: bool,
    ) -> Binding | Value:
        if isinstance(val, Var):
            if self._vars.get(val.name) is val:
                return val
            return self._own(val, f"[{spec.op_type} '{op_name}'] input {ispec.name!r}")
        if ispec.is_tuple and isinstance(val, (list, tuple)) and any(isinstance(x, Var) for x in val):
            return tuple(self._bind(op_name, spec, _member(ispec), x, bound, inline) for x in val)
        peer = None if isinstance(val, (np.ndarray, np.generic, Value)) else _peer_dtype(spec, ispec, bound)
        try:
            # A ready-made Value carries its own MIL type (e.g. sub-byte data, which numpy cannot express).
            value = (
                val
                if isinstance(val, Value)
                else self._value(val, dt=None, blob=None, blob_path=None, spec=ispec, peer=peer)
            )
        except MILError as exc:
            raise MILError(f"[{spec.op_type} '{op_name}'] input {ispec.name!r}: {exc}") from None
        if inline:
            return value
        const_name = self._claim_op_name(None, f"{op_name}_{ispec.name}")
        out = self._new_var(const_name, value.type)
        self._fn.operations.append(Operation.const_op(const_name, value, out))
        return out

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
        spec = get_spec(op_type, self.opset)
        # Roll back consts and names of a failed insertion, so a caught error leaves the function unchanged.
        n_ops, n_journal = len(self._fn.operations), len(self._journal)
        try:
            return self._add_op(spec, inputs, name, out_names)
        except Exception:
            del self._fn.operations[n_ops:]
            for entry in reversed(self._journal[n_journal:]):
                if entry[0] == "op":
                    self._names.discard(entry[1])
                elif entry[0] == "var":
                    self._vars.pop(entry[1], None)
                elif entry[2] is None:
                    self._counters.pop(entry[1], None)
                else:
                    self._counters[entry[1]] = entry[2]
            del self._journal[n_journal:]
            raise

    def _add_op(
        self, spec: type[OpSpec], inputs: Mapping[str, Any], name: str | None, out_names: str | Sequence[str] | None
    ) -> Any:
        op_type = spec.op_type
        known = self._spec_inputs.get(spec)
        if known is None:
            known = self._spec_inputs[spec] = {s.name: s for s in spec.inputs}
        for k in inputs:
            if k not in known:
                raise MILError(f"[{op_type}] unknown input {k!r}; {op_type} takes {', '.join(known) or 'nothing'}")
        op_name = self._claim_op_name(name, op_type)
        attr_style = operands_as_attributes(spec, self.opset)
        as_value = attr_style or op_type.startswith("constexpr_")  # operands are literals (§7.4)
        bound: dict[str, Binding] = {}
        # The inference context is kept up to date as inputs are bound (cheaper than rebuilding it per default).
        ctx_types: dict[str, Any] = {}
        ctx_data: dict[str, Any] = {}  # known values: attributes for attribute-style ops, else input values
        ctx_values, ctx_attrs = ({}, ctx_data) if attr_style else (ctx_data, {})

        def bind(ispec: InputSpec, val: Any) -> None:
            b = bound[ispec.name] = self._bind(op_name, spec, ispec, val, bound, as_value)
            ctx_types[ispec.name] = binding_type(b)
            data = loaded_data(b)
            if data is not None and not (isinstance(data, tuple) and all(x is None for x in data)):
                ctx_data[ispec.name] = data

        # Variables first, so Python constants can take their peer's dtype.
        for k, v in inputs.items():
            if isinstance(v, Var):
                bind(known[k], v)
        for k, v in inputs.items():
            if v is not None and not isinstance(v, Var):
                bind(known[k], v)
        # Omitted optional inputs with a default become explicit consts (like coremltools' output).
        for ispec in spec.inputs:
            if ispec.name in bound or not ispec.optional or ispec.default is None:
                continue
            if ispec.min_opset is not None and opset_index(self.opset) < opset_index(ispec.min_opset):
                continue
            default = ispec.default
            if callable(default):
                default = default(StaticContext(op_type, op_name, self.opset, ctx_types, ctx_values, ctx_attrs))
            if default is not None:
                bind(ispec, default)
        op = Operation(op_type, op_name, {}, {})
        for k in [s.name for s in spec.inputs if s.name in bound]:
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
        problems = check_bindings(op, spec, self.opset)
        if problems:
            raise MILError(f"[{op_type} '{op_name}'] " + "; ".join(problems))
        types = run_infer(spec, StaticContext(op_type, op_name, self.opset, ctx_types, ctx_values, ctx_attrs))
        n = len(types)
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


def _peer_dtype(spec: type[OpSpec], ispec: InputSpec, bound: Mapping[str, Binding]) -> DType | None:
    names = [ispec.same_dtype_as] if ispec.same_dtype_as else []
    names += [s.name for s in spec.inputs if s.same_dtype_as == ispec.name]
    for n in names:
        b = bound.get(n)
        if isinstance(b, tuple) and b:
            b = b[0]
        if isinstance(b, (Var, Value)):
            t = b.type
            if isinstance(t, StateType):
                t = t.wrapped
            if isinstance(t, TensorType):
                return t.dtype
    return None
