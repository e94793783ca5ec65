"""Memoised type inference: reuse an ``OpSpec.infer`` result when an op's inputs repeat.

Inference is pure (:mod:`anekit.mil.ops._spec`): the output types depend only on the spec, the op type, the
opset, which inputs are bound and their types, and the compile-time values ``infer`` reads through the context
(``ctx.value`` / ``ctx.attr``). Networks repeat the same ops on the same shapes (every layer of a transformer),
so a builder or a parse meets the same inference problem many times.

:class:`InferMemo` keys an entry by the spec, op type, opset and the bound input names with their types *by
identity* (hashing a ``TensorType`` costs more than the lookup saves; the builder and the parser reuse type
objects, and :meth:`InferMemo.canonical` makes equal inferred types one object). On a miss it runs ``infer``
with a context that records which values it reads, and stores those values with the result. A later op with
the same key reuses the result only when every recorded value is the same object or equal data (same numpy
dtype and shape and the same bytes; equal strings); anything else is a miss and runs ``infer`` again. A
failing ``infer`` stores nothing, so errors are always raised by the spec itself, with their usual message.

One memo belongs to one builder or one parse: there is no shared state. Entries hold the type objects and the
data they were keyed by, so an ``id`` in a key can never be reused by another object while the entry exists.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from .ops._context import StaticContext
from .ops._spec import OpSpec
from .types import Type

__all__ = ["InferMemo", "same_data"]

#: Marks "no entry" in the recorded data (a stored value may itself be None).
_MISSING: Any = object()
#: Results kept per key (different recorded values, e.g. reshapes to different shapes); the oldest goes first.
MAX_RESULTS_PER_KEY = 16


def same_data(a: Any, b: Any) -> bool:
    """Whether two compile-time values are interchangeable for inference (conservative: False when unsure).

    The same object; numpy arrays of a numeric/bool dtype with equal dtype, shape and bytes (so ``-0.0`` and
    ``0.0`` differ, and a NaN equals the same NaN); equal ``str``; tuples of such values. Other data (object
    arrays, lists, dicts) only matches itself.
    """
    if a is b:
        return True
    t = type(a)
    if t is not type(b):
        return False
    if t is np.ndarray:
        return a.dtype == b.dtype and a.shape == b.shape and a.dtype.kind in "biufc" and a.tobytes() == b.tobytes()
    if t is str:
        return bool(a == b)
    if t is tuple:
        return len(a) == len(b) and all(same_data(x, y) for x, y in zip(a, b, strict=True))
    return False


class _RecordingContext(StaticContext):
    """A :class:`StaticContext` that notes the names whose values ``infer`` reads (values and attributes).

    ``has`` is recorded too: for a name without a type (those are in the key) it answers from the values.
    """

    __slots__ = ("reads",)

    def has(self, name: str) -> bool:
        if name in self._types:  # bound with a type: part of the key already
            return True
        self.reads.append(name)
        return name in self._values

    def value(self, name: str) -> Any:
        self.reads.append(name)
        return super().value(name)

    def attr(self, name: str) -> Any:
        self.reads.append(name)
        return super().attr(name)


class InferMemo:
    """Inference results of one builder or parse, reused for repeated ops (see the module docstring)."""

    __slots__ = ("_canon", "_entries")

    def __init__(self) -> None:
        # key -> [(recorded reads, output types, the type objects of the key, kept alive)], newest last
        self._entries: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], tuple[Type, ...], tuple[Any, ...]]]] = {}
        self._canon: dict[Hashable, Type] = {}  # equal types -> one object, so that identity keys match

    def canonical(self, t: Type) -> Type:
        """The memo's single object for types equal to ``t`` (``t`` itself the first time)."""
        try:
            return self._canon.setdefault(t, t)
        except TypeError:  # an unhashable type object: keep it as it is
            return t

    def infer(self, spec: type[OpSpec], ctx: StaticContext) -> list[Type]:
        """``spec.infer(ctx)`` as a list of output types, from the memo when the same problem was solved before.

        ``ctx`` must not change during the call. The returned list is new; its types are canonical objects.

        Raises:
            MILError: from the spec (never from the memo; failures are not stored).
        """
        types, values, attrs = ctx._types, ctx._values, ctx._attrs
        # Names, then the types' ids: the two halves have the same length, so the flat key is unambiguous.
        key = (spec, ctx.op_type, ctx.opset, *types, *map(id, types.values()))
        found = self._entries.get(key)
        if found is not None:
            for reads, out, _ in found:
                for name, value, attr in reads:
                    v = values.get(name, _MISSING)
                    if v is not value and not same_data(v, value):
                        break
                    a = attrs.get(name, _MISSING)
                    if a is not attr and not same_data(a, attr):
                        break
                else:
                    return list(out)
        rec = _RecordingContext.__new__(_RecordingContext)
        rec.op_type, rec.op_name, rec.opset = ctx.op_type, ctx.op_name, ctx.opset
        rec._types, rec._values, rec._attrs = types, values, attrs
        rec.reads = []
        result = spec.infer(rec)
        if type(result) is not list:  # as check.run_infer: a single returned type is wrapped
            result = list(result) if isinstance(result, (list, tuple)) else [result]
        result = [self.canonical(t) for t in result]
        names = dict.fromkeys(rec.reads)  # each name once, in reading order
        reads = tuple((n, values.get(n, _MISSING), attrs.get(n, _MISSING)) for n in names)
        kept = tuple(types.values())
        if any(type(t) is tuple for t in kept):
            # A tuple input's types arrive in a new tuple per op, so its id never matches again: not stored.
            return result
        entries = self._entries.setdefault(key, [])
        entries.append((reads, tuple(result), kept))
        if len(entries) > MAX_RESULTS_PER_KEY:
            del entries[0]
        return result
