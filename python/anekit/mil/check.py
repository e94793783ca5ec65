"""Binding ops to their specs: inference contexts, Python-value typing, declared-type checks.

Shared by the builder (which raises) and the parser (which records :class:`Diagnostic`). The context handed to
``OpSpec.infer`` is a :class:`~anekit.mil.ops._context.StaticContext` filled as follows:

* ``types``: every bound input (a tuple of types for tuple inputs); for specs whose operands are attributes in
  the opset (``operands_as_attributes``) also every
  attribute except ``name``. Omitted inputs stay absent (specs fall back to their declared defaults; the
  builder materialises defaults as consts before inferring, so built ops always have them).
* ``values``: compile-time data of inputs bound to ``const`` outputs or inline literals, when it is in memory
  (blob-backed consts that were never read are not loaded for inference).
* ``attrs``: in-memory attribute data except ``name``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import MILError
from .infer_memo import InferMemo
from .ir import Binding, Operation, Var
from .ops._context import StaticContext
from .ops._spec import InputSpec, OpSpec, opset_index
from .types import DType, StateType, TensorType, Type, dtype
from .values import Value

__all__ = [
    "BLOB_DTYPES_IOS18",
    "BLOB_DTYPES_PRE18",
    "BindPlan",
    "binding_type",
    "build_context",
    "check_bindings",
    "const_problems",
    "follow_dtype",
    "infer_op",
    "literal_key",
    "loaded_data",
    "operands_as_attributes",
    "peer_dtype",
    "python_to_array",
    "requires_const",
    "run_infer",
    "should_use_blob",
    "types_compatible",
]

#: dtypes coremltools stores in weight.bin (``should_use_weight_file``, docs/internals/mil-format.md §7.2).
BLOB_DTYPES_PRE18 = frozenset({"fp16", "fp32", "uint8", "int8"})
BLOB_DTYPES_IOS18 = BLOB_DTYPES_PRE18 | {"int16", "uint16", "int32", "uint32"}
#: coremltools' element-count threshold for the weight file (§7.2).
BLOB_MIN_ELEMENTS = 10


def should_use_blob(t: TensorType, opset: str) -> bool:
    """coremltools' rule: at least 10 elements and a blob-able dtype (more dtypes from iOS18), §7.2."""
    allowed = BLOB_DTYPES_IOS18 if opset == "ios18" else BLOB_DTYPES_PRE18
    n = t.numel
    return n is not None and n >= BLOB_MIN_ELEMENTS and t.dtype.name in allowed


def binding_type(b: Binding) -> Type | tuple[Type, ...]:
    if isinstance(b, tuple):
        return tuple(x.type for x in b)
    return b.type


def loaded_data(b: Binding) -> Any:
    if isinstance(b, tuple):
        return tuple(loaded_data(x) for x in b)
    if isinstance(b, Var):
        if b.op is not None and b.op.op_type == "const":
            val = b.op.attrs.get("val")
            if val is not None and val.is_loaded:
                return val.data
        return None
    return b.data if b.is_loaded else None


def python_to_array(
    value: Any,
    spec: InputSpec | None,
    peer: DType | None,
    type_cache: dict[Any, TensorType] | None = None,
    follow: DType | None = None,
) -> tuple[Any, TensorType]:
    """Type a Python/numpy value bound to an op input (the builder's const-promotion rule).

    * numpy arrays and numpy scalars keep their dtype, except float64 -> fp32 and int64 -> int32 (MIL ops do
      not take 64-bit tensors; coremltools does the same);
    * Python ``bool`` -> bool, ``int`` -> int32, ``float`` -> fp32, ``str`` -> string; lists/tuples go
      through numpy first;
    * a Python number (or list of numbers) takes the float dtype of the peer input when the spec ties the two
      (``same_dtype_as``), e.g. ``mul(x=<fp16>, y=0.5)`` makes ``y`` an fp16 const (coremltools promotes the
      same way); a Python float for an input whose allowed dtypes exclude fp32 but allow fp16 becomes fp16;
    * float values without a dtype of their own (Python floats, lists of them, float64 arrays) take ``follow``
      when given and no peer decided: the dtype the op computes in (:func:`follow_dtype`), so the epsilon,
      alpha or weights of an fp16 op become fp16 constants instead of fp32 ones (unless fp16 cannot hold them:
      an overflow to inf, or nonzero data that would become all zeros). Explicit float32 arrays keep their
      dtype (the validator's ``ane-param-dtype`` rule warns about them).

    ``type_cache`` (optional, owned by the caller) memoises ``TensorType`` objects by numpy dtype and shape.

    Returns:
        ``(data, type)``: data is a numpy array (or str for a string scalar).
    """
    if isinstance(value, str):
        return value, TensorType(dtype("string"), ())
    if type_cache is not None and isinstance(value, np.ndarray):
        # Fast path: a numpy array of a dtype MIL keeps as is (the common case for weights and defaults).
        found = type_cache.get((value.dtype, value.shape))
        if found is not None:
            return value, found
    is_numpy = isinstance(value, (np.ndarray, np.generic))
    arr = np.asarray(value)
    if arr.dtype.kind in "US":
        if arr.ndim == 0:
            return str(arr), TensorType(dtype("string"), ())
        return arr.astype(object), TensorType(dtype("string"), arr.shape)
    if arr.dtype == object:
        raise MILError(f"cannot make a constant from {type(value).__name__} {value!r}")
    untyped_float = arr.dtype == np.float64 or (not is_numpy and arr.dtype.kind == "f")
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    elif arr.dtype == np.int64:
        if arr.size and (arr.min() < -(2**31) or arr.max() >= 2**31):
            raise MILError(f"integer constant {value!r} does not fit int32")
        arr = arr.astype(np.int32)
    if not is_numpy and arr.dtype.kind in "fi":
        allowed = spec.dtypes if spec is not None else ()
        if peer is not None and peer.is_float and (arr.dtype.kind == "f" or spec is not None):
            arr = arr.astype(peer.np_dtype)
        elif arr.dtype.kind == "f" and allowed and "fp32" not in allowed and "fp16" in allowed:
            arr = arr.astype(np.float16)
        elif untyped_float and follow is not None:
            arr = _follow(arr, follow)
    elif untyped_float and follow is not None and peer is None:
        arr = _follow(arr, follow)
    if type_cache is None:
        return arr, TensorType(dtype(arr.dtype), arr.shape)
    key = (arr.dtype, arr.shape)
    t = type_cache.get(key)
    if t is None:
        t = type_cache[key] = TensorType(dtype(arr.dtype), arr.shape)
    return arr, t


def _follow(arr: np.ndarray, follow: DType) -> np.ndarray:
    """``arr`` in the ``follow`` dtype, unless that would lose it: a finite value overflowing to inf, or nonzero
    data flushing to all zeros (an epsilon of 1e-8 is 0 in fp16). Such data keeps its fp32 type, and the
    validator's ``ane-param-dtype`` rule reports it, rather than silently changing the program's meaning."""
    with np.errstate(over="ignore", under="ignore"):
        out = arr.astype(follow.np_dtype)
    finite = np.isfinite(arr)
    if np.any(np.isinf(out) & finite) or (np.any(arr[finite] != 0) and not np.any(out[finite] != 0)):
        return arr
    return out


def build_context(
    op: Operation, spec: type[OpSpec] | None, opset: str, attr_operands: bool | None = None
) -> StaticContext:
    """The inference context for ``op`` (see module docstring). Omitted inputs are left absent.

    ``attr_operands``: :func:`operands_as_attributes` of ``spec`` in ``opset`` when the caller already knows
    it (``BindPlan.attr_style``).
    """
    types: dict[str, Any] = {}
    values: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    for k, b in op.inputs.items():
        if type(b) is Var:  # the usual binding: binding_type and loaded_data, inlined
            types[k] = b.type
            p = b.op
            if p is not None and p.op_type == "const":
                val = p.attrs.get("val")
                if val is not None and val._data is not None:
                    values[k] = val._data
            continue
        types[k] = binding_type(b)
        data = loaded_data(b)
        if data is not None and not (isinstance(data, tuple) and all(x is None for x in data)):
            values[k] = data
    if attr_operands is None:
        attr_operands = spec is not None and operands_as_attributes(spec, opset)
    for k, v in op.attrs.items():
        if attr_operands:
            types[k] = v.type
        if v.is_loaded:
            attrs[k] = v.data
    return StaticContext.wrapping(op.op_type, op.name, opset, types, values, attrs)


def operands_as_attributes(spec: type[OpSpec], opset: str) -> bool:
    """Whether ``spec``'s operands are attributes in ``opset``'s text form (pre-iOS18 constexpr ops, §7.4).

    Uses the spec's own ``operands_as_attributes(opset)`` hook when it has one (some constexpr ops changed
    spelling in iOS18), else the class attribute ``attrs_as_inputs``.
    """
    hook = getattr(spec, "operands_as_attributes", None)
    return bool(hook(opset)) if callable(hook) else bool(spec.attrs_as_inputs)


def requires_const(spec: type[OpSpec], name: str, opset: str) -> bool:
    """Whether input ``name`` must be a compile-time constant in ``opset`` (spec hook, else ``InputSpec.const``)."""
    hook = getattr(spec, "requires_const", None)
    if callable(hook):
        return bool(hook(name, opset))
    s = spec.input_spec(name)
    return s is not None and s.const


def check_bindings(op: Operation, spec: type[OpSpec], opset: str, plan: BindPlan | None = None) -> list[str]:
    """Binding problems the spec's ``infer`` cannot see: unknown input names and non-const variables bound
    to const inputs. (Presence, dtype domains, ranks and tuple-ness are checked by the spec itself.)

    ``plan`` (optional): ``BindPlan(spec, opset)``, when the caller keeps one per spec, so the tables are not
    derived again for every op.
    """
    problems: list[str] = []
    if plan is None:
        plan = BindPlan(spec, opset)
    known, const_inputs = plan.known, plan.const_inputs
    for k, b in op.inputs.items():
        if k not in known:
            problems.append(f"unknown input {k!r}; {op.op_type} takes {', '.join(known) or 'no inputs'}")
            continue
        if k not in const_inputs:
            continue
        # const and constexpr_* outputs are compile-time constants (docs/internals/mil-format.md §7.2, §7.4); only other
        # variables need the (opset-dependent) const rule.
        runtime = [
            x
            for x in (b if isinstance(b, tuple) else (b,))
            if isinstance(x, Var) and (x.op is None or not x.op.op_type.startswith("const"))
        ]
        problems.extend(f"input {k!r} must be a compile-time constant, got variable {x.name!r}" for x in runtime)
    return problems


class BindPlan:
    """What the builder needs to know about one op spec in one opset, computed once per builder and spec.

    Every field is derived from the (immutable) spec and the opset only, so a builder can reuse one plan for
    all ops of that type instead of re-deriving the same tables per call.

    Attributes:
        known: input name -> :class:`InputSpec` (spec order).
        attr_style: the operands are attributes in this opset (:func:`operands_as_attributes`).
        as_value: operands bind as inline literals (attribute style, or any ``constexpr_*`` op, §7.4).
        defaults: ``(input spec, default, is_callable)`` of the inputs with a default that exist in this
            opset, in spec order (the builder materialises them when omitted; a required input's default is a
            builder convenience, see ``InputSpec.default``).
        const_inputs: inputs that must be compile-time constants in this opset (:func:`requires_const`).
        peers: input name -> names of the inputs whose dtype it shares (``same_dtype_as`` either way), used
            to type Python constants.
        fp16_inputs: inputs whose dtype domain in this opset includes fp16 (:func:`follow_dtype`).
    """

    __slots__ = ("as_value", "attr_style", "const_inputs", "defaults", "fp16_inputs", "known", "peers")

    def __init__(self, spec: type[OpSpec], opset: str) -> None:
        self.known: dict[str, InputSpec] = {s.name: s for s in spec.inputs}
        self.attr_style = operands_as_attributes(spec, opset)
        self.as_value = self.attr_style or spec.op_type.startswith("constexpr_")
        idx = opset_index(opset)
        self.defaults: tuple[tuple[InputSpec, Any, bool], ...] = tuple(
            (s, s.default, callable(s.default))
            for s in spec.inputs
            if s.default is not None and (s.min_opset is None or idx >= opset_index(s.min_opset))
        )
        self.const_inputs = frozenset(s.name for s in spec.inputs if requires_const(spec, s.name, opset))
        domain = getattr(spec, "allowed_dtypes", None)
        self.fp16_inputs = frozenset(
            s.name for s in spec.inputs if "fp16" in (domain(s.name, opset) if callable(domain) else s.dtypes)
        )
        self.peers: dict[str, tuple[str, ...]] = {
            s.name: ((s.same_dtype_as,) if s.same_dtype_as else ())
            + tuple(o.name for o in spec.inputs if o.same_dtype_as == s.name)
            for s in spec.inputs
        }


def const_problems(op: Operation, const_inputs: frozenset[str]) -> list[str]:
    """The const-rule part of :func:`check_bindings` for inputs already known to the spec.

    ``const_inputs`` are the inputs that must be compile-time constants (``BindPlan.const_inputs``); the
    messages are exactly those of :func:`check_bindings`, in input order.
    """
    problems: list[str] = []
    for k, b in op.inputs.items():
        if k not in const_inputs:
            continue
        for x in b if isinstance(b, tuple) else (b,):
            # const and constexpr_* outputs are compile-time constants (docs/internals/mil-format.md §7.2, §7.4).
            if isinstance(x, Var) and (x.op is None or not x.op.op_type.startswith("const")):
                problems.append(f"input {k!r} must be a compile-time constant, got variable {x.name!r}")
    return problems


def infer_op(
    op: Operation,
    spec: type[OpSpec] | None,
    opset: str,
    memo: InferMemo | None = None,
    plan: BindPlan | None = None,
) -> list[Type]:
    """Output types of ``op`` (``const`` is handled here; other ops through ``spec.infer``).

    Args:
        memo: reuse the results of earlier ops with the same input types and values (one memo per function
            or program being checked; see :mod:`anekit.mil.infer_memo`).
        plan: ``BindPlan(spec, opset)`` when the caller keeps one per spec.

    Raises:
        MILError: from the spec, or when ``infer`` returns something that is not a list of types.
    """
    if op.op_type == "const" and (spec is None or "val" in op.attrs):
        val = op.attrs.get("val")
        if val is None:
            raise MILError(f"[const '{op.name}'] has no 'val' attribute")
        return [val.type]
    if spec is None:
        raise MILError(f"unknown MIL op {op.op_type!r}")
    ctx = build_context(op, spec, opset, None if plan is None else plan.attr_style)
    return run_infer(spec, ctx) if memo is None else memo.infer(spec, ctx)


def run_infer(spec: type[OpSpec], ctx: StaticContext) -> list[Type]:
    """``spec.infer(ctx)`` as a list of output types (a single returned type is wrapped)."""
    out = spec.infer(ctx)
    if not isinstance(out, (list, tuple)):
        out = [out]
    return list(out)


def types_compatible(declared: Type, inferred: Type) -> bool:
    """Declared vs inferred: same kind and dtype and rank; an unknown dim on either side matches any dim."""
    if declared == inferred:  # the usual case
        return True
    if isinstance(declared, TensorType) and isinstance(inferred, TensorType):
        if declared.dtype != inferred.dtype or declared.rank != inferred.rank:
            return False
        return all(a is None or b is None or a == b for a, b in zip(declared.shape, inferred.shape, strict=True))
    return declared == inferred


def peer_dtype(plan: BindPlan, ispec: InputSpec, bound: Mapping[str, Binding]) -> DType | None:
    """The dtype of the first bound input that ``ispec`` shares its dtype with (for Python constants), or None."""
    for n in plan.peers[ispec.name]:
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


def follow_dtype(plan: BindPlan, ispec: InputSpec, bound: Mapping[str, Binding]) -> DType | None:
    """fp16 when untyped float constants bound to ``ispec`` should be fp16 (see :func:`python_to_array`).

    That is when the op computes in fp16 (the first input bound so far to a run-time variable, i.e. not a
    ``const`` output, is an fp16 tensor) and ``ispec`` accepts fp16 in the plan's opset. An fp16 program
    then gets fp16 epsilons, alphas and weights, as coremltools writes them (docs/internals/mil-format.md §7.2: the
    MiniLM corpus program stores ``epsilon`` as fp16) and as the ANE wants them (§11 rule 3).
    """
    if ispec.name not in plan.fp16_inputs:
        return None
    for b in bound.values():
        if type(b) is not Var or (b.op is not None and b.op.op_type == "const"):
            continue
        t = b.type.wrapped if isinstance(b.type, StateType) else b.type
        if isinstance(t, TensorType) and t.dtype.is_float:
            return t.dtype if t.dtype.name == "fp16" else None
    return None


def literal_key(val: Any, ispec: InputSpec, peer: DType | None, follow: DType | None = None) -> Any:
    """A cache key for an immutable literal, or None (lists and arrays are never cached: they may change).

    The key holds everything :func:`~anekit.mil.check.python_to_array` looks at: the exact Python type
    (``True``, ``1`` and ``1.0`` are equal as dict keys), the value, the sign of zero, and for Python numbers
    the input's dtype domain and the peer dtype; for floats without a dtype of their own (Python floats,
    numpy float64 scalars) also ``follow``. Other numpy scalars convert independently of the input.
    """
    f = None if follow is None else follow.name
    t = type(val)
    if t is str:
        return (t, val)
    if t is bool or t is int:
        return (t, val, ispec.dtypes, None if peer is None else peer.name)
    if t is float:
        if val != val:  # NaN never equals itself: no cache entry could ever be found again
            return None
        return (t, val, math.copysign(1.0, val), ispec.dtypes, None if peer is None else peer.name, f)
    if isinstance(val, np.generic) and val.dtype == np.float64:
        return (t, val.tobytes(), f)
    if isinstance(val, np.generic) and val.dtype.kind in "biuf":
        return (t, val.tobytes())
    return None
