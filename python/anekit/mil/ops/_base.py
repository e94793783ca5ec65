"""The common base of every anekit op spec: input checking, per-opset dtype domains and value accessors.

:class:`Op` implements :meth:`OpSpec.infer` as "check the inputs against the declared :class:`InputSpec`
tuple, then call :meth:`Op.compute`", so each leaf only writes its shape rule. Helpers read compile-time values
in the forms the contract allows (numpy arrays, 0-d arrays, Python scalars, strings) and fall back to the
input's declared default when the input is absent (the parser does not materialise defaults).

Conventions:

* ``InputSpec.dtypes`` and ``InputSpec.const`` describe the **newest** opset; :attr:`Op.dtype_history` and
  :attr:`Op.const_before` give older opsets' rules, and :meth:`Op.allowed_dtypes` /
  :meth:`Op.requires_const` answer for a given opset.
* Defaults are typed numpy values (``np.int32``, ``np.float32``, ``np.bool_`` arrays) or ``str``, so the
  builder can derive the const's MIL type; callables take the context and may return ``None`` ("no default
  in this situation", e.g. an input that does not exist in the context's opset).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ...errors import MILError
from ..types import StateType, TensorType, Type
from ._infer import InferError
from ._spec import InferContext, OpSpec, opset_index

__all__ = [
    "Op",
    "boolean",
    "f32",
    "i32",
    "int32_ones",
    "int32_zeros",
]


def i32(v: int) -> np.ndarray:
    """A rank-0 int32 default value (read-only: spec defaults are shared by every op)."""
    return _read_only(np.asarray(v, dtype=np.int32))


def f32(v: float) -> np.ndarray:
    """A rank-0 fp32 default value (read-only)."""
    return _read_only(np.asarray(v, dtype=np.float32))


def boolean(v: bool) -> np.ndarray:
    """A rank-0 bool default value (read-only)."""
    return _read_only(np.asarray(v, dtype=np.bool_))


def _read_only(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


# Read-only, hence safely shared: the conv/pool defaults need these vectors for every op (lengths up to 2x the
# largest spatial rank, 3); one shared object also lets the builder's inference memo match them by identity.
_INT32_ONES = tuple(_read_only(np.ones(n, dtype=np.int32)) for n in range(7))
_INT32_ZEROS = tuple(_read_only(np.zeros(n, dtype=np.int32)) for n in range(7))


def int32_ones(n: int) -> np.ndarray:
    """A read-only int32 vector of ``n`` ones (a shared object for small ``n``)."""
    return _INT32_ONES[n] if 0 <= n < len(_INT32_ONES) else _read_only(np.ones(n, dtype=np.int32))


def int32_zeros(n: int) -> np.ndarray:
    """A read-only int32 vector of ``n`` zeros (a shared object for small ``n``)."""
    return _INT32_ZEROS[n] if 0 <= n < len(_INT32_ZEROS) else _read_only(np.zeros(n, dtype=np.int32))


def _as_array(v: Any) -> np.ndarray:
    if isinstance(v, np.ndarray):
        return v
    return np.asarray(v)


def _from_history(history: tuple[tuple[str, tuple[str, ...]], ...], opset: str) -> tuple[str, ...]:
    """The dtype domain a ``dtype_history`` entry gives in ``opset`` (the latest change at or before it)."""
    idx = opset_index(opset)
    chosen = history[0][1]
    for start, dts in history:
        if opset_index(start) <= idx:
            chosen = dts
    return chosen


class Op(OpSpec):
    """Base class of anekit's op specs (see the module docstring).

    Attributes:
        dtype_history: per input, ``((opset, dtypes), ...)`` oldest first: the domain from that opset on.
            Inputs not listed use ``InputSpec.dtypes`` in every opset.
        state_inputs: names of inputs that are ``state<...>`` values rather than tensors (iOS18 state ops).
        const_before: inputs whose const-ness requirement was dropped in a later opset (see
            :meth:`requires_const`).
    """

    dtype_history: ClassVar[dict[str, tuple[tuple[str, tuple[str, ...]], ...]]] = {}
    state_inputs: ClassVar[frozenset[str]] = frozenset()
    #: Inputs that had to be const before a given opset (``{"bias": "ios17"}``: const in ios15/16 only);
    #: ``InputSpec.const`` describes the newest opset, like ``InputSpec.dtypes``.
    const_before: ClassVar[dict[str, str]] = {}

    # ----------------------------------------------------------------- public hooks
    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        """Check the inputs against the spec, then compute the output types (see :meth:`compute`)."""
        try:
            cls.check_inputs(ctx)
            return list(cls.compute(ctx))
        except InferError as exc:
            raise ctx.error(str(exc)) from None
        except MILError as exc:
            # e.g. TensorType rejecting a negative dim built from a bad const value: name the op too.
            if str(exc).startswith("["):
                raise
            raise ctx.error(str(exc)) from None

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        """The op's shape/dtype rule; inputs have already passed :meth:`check_inputs`."""
        raise NotImplementedError(f"op spec {cls.op_type!r} does not define compute()")

    @classmethod
    def allowed_dtypes(cls, name: str, opset: str) -> tuple[str, ...]:
        """Dtype domain of input ``name`` in ``opset`` (empty tuple = any)."""
        history = cls.dtype_history.get(name)
        if history:
            return _from_history(history, opset)
        spec = cls.input_spec(name)
        return spec.dtypes if spec is not None else ()

    @classmethod
    def requires_const(cls, name: str, opset: str) -> bool:
        """Whether input ``name`` must be a compile-time constant in ``opset`` (for the validator)."""
        until = cls.const_before.get(name)
        if until is not None and opset_index(opset) < opset_index(until):
            return True
        spec = cls.input_spec(name)
        return bool(spec is not None and spec.const)

    @classmethod
    def operands_as_attributes(cls, opset: str) -> bool:
        """Whether the text form carries the operands as attributes in ``opset`` (pre-iOS18 constexpr)."""
        return cls.attrs_as_inputs

    # ----------------------------------------------------------------- checking
    @classmethod
    def check_inputs(cls, ctx: InferContext) -> None:
        """Presence, opset availability, kind, dtype domain, rank and ``same_dtype_as`` of every input."""
        # Runs for every op the builder adds and every statement the parser reads: locals, not helper calls.
        opset = ctx.opset
        has, type_of = ctx.has, ctx.type
        history = cls.dtype_history
        state_inputs = cls.state_inputs
        # A subclass may override allowed_dtypes (recurrent ops); Op's own rule is inlined below.
        own_rule = cls.allowed_dtypes.__func__ is _OP_ALLOWED_DTYPES
        for spec in cls.inputs:
            name = spec.name
            t = type_of(name)  # an input with a type is present (has() is only needed without one)
            if t is None and not has(name):
                if not spec.optional:
                    raise InferError(f"missing required input '{name}'")
                continue
            if spec.min_opset is not None and opset_index(opset) < opset_index(spec.min_opset):
                raise InferError(f"input '{name}' exists from {spec.min_opset} on, not in {opset}")
            if t is None:
                continue  # value-only input (e.g. a pre-iOS18 constexpr attribute); checked by compute()
            if spec.is_tuple:
                if not isinstance(t, tuple) or not t:
                    raise InferError(f"input '{name}' must be a non-empty tuple of tensors")
                members = t
            else:
                if isinstance(t, tuple):
                    raise InferError(f"input '{name}' must be a single value, not a tuple")
                members = (t,)
            allowed = None
            for m in members:
                if name in state_inputs:
                    if not isinstance(m, StateType):
                        raise InferError(f"input '{name}' must be a state<tensor<...>>, got {m}")
                    m = m.wrapped
                elif not isinstance(m, TensorType):
                    raise InferError(f"input '{name}' must be a tensor, got {m}")
                if allowed is None:
                    if not own_rule:
                        allowed = cls.allowed_dtypes(name, opset)
                    else:
                        h = history.get(name)
                        allowed = _from_history(h, opset) if h else spec.dtypes
                if allowed and m.dtype.name not in allowed:
                    raise InferError(
                        f"input '{name}' dtype {m.dtype} not allowed in {opset}; expected one of {', '.join(allowed)}"
                    )
                if spec.rank and len(m.shape) not in spec.rank:
                    want = " or ".join(str(r) for r in spec.rank)
                    raise InferError(f"input '{name}' must have rank {want}, got rank {len(m.shape)}")
            if spec.same_dtype_as is not None and has(spec.same_dtype_as):
                other = type_of(spec.same_dtype_as)
                mine = members[0]
                if (
                    isinstance(other, TensorType)
                    and isinstance(mine, TensorType)
                    and other.dtype is not mine.dtype  # dtypes are interned: identity first, cheap
                    and other.dtype != mine.dtype
                ):
                    raise InferError(
                        f"'{name}' dtype {mine.dtype} must equal '{spec.same_dtype_as}' dtype {other.dtype}"
                    )

    # ----------------------------------------------------------------- accessors
    @classmethod
    def tensor(cls, ctx: InferContext, name: str) -> TensorType:
        """The tensor type of a required (or present) input."""
        t = ctx.type(name)
        if isinstance(t, StateType):
            return t.wrapped
        if not isinstance(t, TensorType):
            raise InferError(f"input '{name}' must be a tensor, got {t}")
        return t

    @classmethod
    def opt_tensor(cls, ctx: InferContext, name: str) -> TensorType | None:
        """The tensor type of an optional input, or None when absent (or value-only)."""
        if not ctx.has(name) or ctx.type(name) is None:
            return None
        return cls.tensor(ctx, name)

    @classmethod
    def tuple_types(cls, ctx: InferContext, name: str) -> tuple[TensorType, ...]:
        """The member types of a tuple input."""
        t = ctx.type(name)
        if not isinstance(t, tuple) or not t:
            raise InferError(f"input '{name}' must be a non-empty tuple of tensors")
        return tuple(cls.tensor_of(m, name) for m in t)

    @staticmethod
    def tensor_of(t: Any, name: str) -> TensorType:
        if not isinstance(t, TensorType):
            raise InferError(f"'{name}' members must be tensors, got {t}")
        return t

    @classmethod
    def raw_value(cls, ctx: InferContext, name: str) -> Any:
        """The known value of ``name``; its default when absent; None when unknown."""
        if ctx.has(name) or ctx.attr(name) is not None:
            return ctx.value(name)
        spec = cls.input_spec(name)
        if spec is None or spec.default is None:
            return None
        d = spec.default
        if callable(d):
            d = d(ctx)
        return d

    @classmethod
    def value_array(cls, ctx: InferContext, name: str) -> np.ndarray | None:
        v = cls.raw_value(ctx, name)
        return None if v is None else _as_array(v)

    @classmethod
    def int_value(cls, ctx: InferContext, name: str) -> int | None:
        """A scalar integer value (rank 0 or a single element), or None when unknown."""
        v = cls.value_array(ctx, name)
        if v is None:
            return None
        if v.size != 1:
            raise InferError(f"'{name}' must be a scalar, got shape {list(v.shape)}")
        if v.dtype.kind in "iu":
            return int(v.item())  # integers need no further check (same result as the general path)
        item = v.reshape(-1)[0]
        if isinstance(item, (bool, np.bool_)) or not float(item).is_integer():
            raise InferError(f"'{name}' must be an integer, got {item!r}")
        return int(item)

    @classmethod
    def ints_value(cls, ctx: InferContext, name: str) -> list[int] | None:
        """A 1-D integer vector value, or None when unknown."""
        v = cls.value_array(ctx, name)
        if v is None:
            return None
        if v.ndim > 1:
            raise InferError(f"'{name}' must be a 1-D vector, got shape {list(v.shape)}")
        if v.dtype.kind not in "iu":
            if v.dtype.kind == "f" and all(float(x).is_integer() for x in v.reshape(-1)):
                return [int(x) for x in v.reshape(-1)]
            raise InferError(f"'{name}' must hold integers, got dtype {v.dtype}")
        return (v if v.ndim == 1 else v.reshape(-1)).tolist()  # Python ints, like int(x) per element

    @classmethod
    def bool_value(cls, ctx: InferContext, name: str) -> bool | None:
        v = cls.value_array(ctx, name)
        if v is None:
            return None
        if v.size != 1:
            raise InferError(f"'{name}' must be a scalar bool, got shape {list(v.shape)}")
        return bool(v.item())

    @classmethod
    def bools_value(cls, ctx: InferContext, name: str) -> list[bool] | None:
        v = cls.value_array(ctx, name)
        if v is None:
            return None
        return [bool(x) for x in v.reshape(-1)]

    @classmethod
    def float_value(cls, ctx: InferContext, name: str) -> float | None:
        v = cls.value_array(ctx, name)
        if v is None:
            return None
        if v.size != 1:
            raise InferError(f"'{name}' must be a scalar, got shape {list(v.shape)}")
        return float(v.reshape(-1)[0])

    @classmethod
    def str_value(cls, ctx: InferContext, name: str) -> str | None:
        """A string value (Python str, numpy str, or 0-d str/object array), or None when unknown."""
        v = cls.raw_value(ctx, name)
        if v is None:
            return None
        if isinstance(v, bytes):
            return v.decode()
        if isinstance(v, str):
            return str(v)
        arr = _as_array(v)
        if arr.size == 1 and arr.dtype.kind in "USO":
            item = arr.reshape(-1)[0]
            return item.decode() if isinstance(item, bytes) else str(item)
        raise InferError(f"'{name}' must be a string, got {v!r}")

    @classmethod
    def choice(cls, ctx: InferContext, name: str, options: tuple[str, ...]) -> str | None:
        """A string value restricted to ``options`` (None when unknown)."""
        s = cls.str_value(ctx, name)
        if s is not None and s not in options:
            raise InferError(f"'{name}' must be one of {', '.join(repr(o) for o in options)}; got {s!r}")
        return s


_OP_ALLOWED_DTYPES = Op.allowed_dtypes.__func__
