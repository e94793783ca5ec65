"""The declarative op-spec contract shared by the builder, parser, validator and reference executor.

One :class:`OpSpec` subclass per MIL op, registered under its exact MIL name with :func:`register_op`.
A spec says which inputs the op takes (MIL's own names), their type domains, which must be const, which are
optional and their defaults, the opsets it exists in, and infers its output types from its input types (and
const values where the output shape depends on them, e.g. ``reshape``'s ``shape``).

Inference is pure: it reads an :class:`InferContext` and returns output types; it never mutates anything,
never folds constants into the program, and reports problems with ``ctx.error`` (a :class:`MILError` that
names the op and its inputs' types).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from ...errors import MILError
from ..types import Type

__all__ = [
    "OPSETS",
    "OP_REGISTRY",
    "InferContext",
    "InputSpec",
    "OpSpec",
    "get_spec",
    "opset_index",
    "register_op",
]

#: Known opsets, oldest first. ``opset_index`` orders them for availability checks.
OPSETS: tuple[str, ...] = ("ios15", "ios16", "ios17", "ios18")


def opset_index(opset: str) -> int:
    """Position of ``opset`` in :data:`OPSETS` (raises MILError for an unknown opset)."""
    try:
        return OPSETS.index(opset)
    except ValueError:
        raise MILError(f"unknown opset {opset!r}; expected one of {', '.join(OPSETS)}") from None


@dataclass(frozen=True)
class InputSpec:
    """One named input of an op.

    Attributes:
        name: the input name exactly as MIL spells it (``x``, ``weight``, ``pad_type`` ...).
        dtypes: allowed element dtype names (empty tuple = any).
        const: the value must be known at compile time (a ``const`` op, an inline literal or a constexpr).
        optional: the input may be omitted.
        default: value used when an optional input is omitted; a callable receives the InferContext and
            returns the value (for defaults that depend on other inputs, e.g. ``pad`` of conv). ``None`` means
            "no default" (the op's semantics define what omission means). A *required* input may have one
            too: the Builder fills it in when the caller omits the input, but parsed text must give it.
        is_tuple: the input is a tuple of variables (``concat(values = (a, b))``).
        rank: allowed ranks (empty tuple = any).
        same_dtype_as: name of another input whose dtype this one must equal (coremltools' type domain "T").
        min_opset: first opset in which this input exists (``None``: same as the op).
    """

    name: str
    dtypes: tuple[str, ...] = ()
    const: bool = False
    optional: bool = False
    default: Any = None
    is_tuple: bool = False
    rank: tuple[int, ...] = ()
    same_dtype_as: str | None = None
    min_opset: str | None = None


class InferContext(Protocol):
    """What an op's ``infer`` may look at. Implemented by the builder and by the parser/validator."""

    op_type: str
    op_name: str
    opset: str

    def has(self, name: str) -> bool:
        """Whether input ``name`` was given (after defaults were applied)."""

    def type(self, name: str) -> Type | tuple[Type, ...] | None:
        """The type of input ``name`` (a tuple of types for tuple inputs), or None when absent."""

    def value(self, name: str) -> np.ndarray | tuple | None:
        """The compile-time value of input ``name`` when it is known (const / literal), else None.

        Scalars come back as 0-d numpy arrays; string values as 0-d object/str arrays or Python str.
        """

    def attr(self, name: str) -> Any:
        """An attribute of the op other than ``name`` (e.g. a pre-iOS18 constexpr operand), or None."""

    def error(self, message: str) -> MILError:
        """A MILError prefixed with ``[<op_type> '<op_name>']`` and the input types; the caller raises it."""


class OpSpec:
    """Base class of every op spec. Subclasses set the class attributes and override :meth:`infer`.

    Attributes:
        op_type: the MIL op name (set by :func:`register_op`).
        inputs: the op's inputs in MIL's documented order.
        min_opset / max_opset: the opsets in which the op exists (inclusive; ``None`` = unbounded).
        attrs_as_inputs: pre-iOS18 constexpr ops carry their operands as attributes; their ``infer`` reads them
            through ``ctx.attr`` / ``ctx.value`` (which also looks at attributes for these ops).
        category: the category file the spec lives in (``elementwise``, ``conv`` ...), for listings.
    """

    op_type: ClassVar[str] = ""
    inputs: ClassVar[tuple[InputSpec, ...]] = ()
    min_opset: ClassVar[str] = "ios15"
    max_opset: ClassVar[str | None] = None
    attrs_as_inputs: ClassVar[bool] = False
    category: ClassVar[str] = ""

    @classmethod
    def input_spec(cls, name: str) -> InputSpec | None:
        for spec in cls.inputs:
            if spec.name == name:
                return spec
        return None

    @classmethod
    def available_in(cls, opset: str) -> bool:
        i = opset_index(opset)
        if i < opset_index(cls.min_opset):
            return False
        return cls.max_opset is None or i <= opset_index(cls.max_opset)

    @classmethod
    def infer(cls, ctx: InferContext) -> list[Type]:
        """Return the output types (one per output, in MIL order). Raise ``ctx.error(...)`` on bad input."""
        raise NotImplementedError(f"op spec {cls.op_type!r} does not define infer()")


#: Every registered op spec, keyed by MIL op name. Filled once, at import of ``anekit.mil.ops``.
OP_REGISTRY: dict[str, type[OpSpec]] = {}


def register_op(name: str, *, category: str = "") -> Callable[[type[OpSpec]], type[OpSpec]]:
    """Class decorator registering an op spec under its MIL name (a duplicate name is a bug and raises)."""

    def wrap(cls: type[OpSpec]) -> type[OpSpec]:
        if name in OP_REGISTRY:
            raise RuntimeError(f"op {name!r} registered twice ({OP_REGISTRY[name].__name__}, {cls.__name__})")
        cls.op_type = name
        if category:
            cls.category = category
        OP_REGISTRY[name] = cls
        return cls

    return wrap


def get_spec(op_type: str, opset: str | None = None) -> type[OpSpec]:
    """Look up an op spec, checking opset availability when ``opset`` is given.

    Raises:
        MILError: unknown op, or op not available in ``opset``.
    """
    spec = OP_REGISTRY.get(op_type)
    if spec is None:
        raise MILError(f"unknown MIL op {op_type!r} ({len(OP_REGISTRY)} ops are registered; see anekit.mil.ops())")
    if opset is not None and not spec.available_in(opset):
        bound = spec.min_opset if opset_index(opset) < opset_index(spec.min_opset) else spec.max_opset
        raise MILError(
            f"op {op_type!r} is not available in opset {opset} (available from {spec.min_opset}"
            + (f" to {spec.max_opset}" if spec.max_opset else "")
            + f"; limit hit: {bound})"
        )
    return spec
