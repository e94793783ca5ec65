"""The builder's op methods (``mb.relu(x=...)``): keyword-only, with the op's inputs in their signature.

MIL names every input of an op, and anekit's builder takes them by name like coremltools' ``mb``. The methods
are made per op type from its spec, so ``help(mb.conv)``, ``inspect.signature`` and tab completion show the
input names, and a positional call (``mb.relu(x)``) gets an error saying how to call the op instead of the
confusing complaint about an op *name* it would otherwise turn into.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from ...errors import MILError
from ..ops._spec import OpSpec

__all__ = ["make_op_method"]

Insert = Callable[[str, dict[str, Any], "str | None", "str | Sequence[str] | None"], Any]


@functools.cache  # one per op type: builders make their methods on first use, per builder
def _signature(spec: type[OpSpec]) -> inspect.Signature:
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter(s.name, kw, default=None if s.optional else inspect.Parameter.empty) for s in spec.inputs
    ]
    taken = {s.name for s in spec.inputs}
    params += [inspect.Parameter(n, kw, default=None) for n in ("name", "out_names") if n not in taken]
    return inspect.Signature(params)


@functools.cache
def _doc(op_type: str, spec: type[OpSpec]) -> str:
    lines = [f"Insert a MIL ``{op_type}`` op; inputs are keyword arguments named as in MIL.", ""]
    if spec.__doc__:
        lines += [inspect.cleandoc(spec.__doc__), ""]
    lines.append("Inputs:")
    for s in spec.inputs:
        notes = [
            "optional" if s.optional else "required",
            *(["compile-time constant"] if s.const else []),
            *([f"dtypes {', '.join(s.dtypes)}"] if s.dtypes else []),
            *(["tuple of values"] if s.is_tuple else []),
        ]
        lines.append(f"    {s.name}: {'; '.join(notes)}")
    lines += ["", "Also: ``name=`` (the op's name) and ``out_names=`` (the output variables' names)."]
    return "\n".join(lines)


def make_op_method(op_type: str, spec: type[OpSpec], insert: Insert) -> Callable[..., Any]:
    """The ``mb.<op_type>`` method: keyword inputs passed to ``insert(op_type, inputs, name, out_names)``."""
    input_names = [s.name for s in spec.inputs]

    def method(*args: Any, name: str | None = None, out_names: str | Sequence[str] | None = None, **inputs: Any) -> Any:
        if args:
            first = input_names[0] if input_names else "x"
            raise MILError(
                f"mb.{op_type}() takes its inputs as keyword arguments named as in MIL, e.g. "
                f"mb.{op_type}({first}=...); got {len(args)} positional argument(s). "
                f"{op_type} inputs: {', '.join(input_names) or 'none'}"
            )
        return insert(op_type, inputs, name, out_names)

    method.__name__ = method.__qualname__ = op_type
    method.__doc__ = _doc(op_type, spec)
    method.__signature__ = _signature(spec)  # type: ignore[attr-defined]
    return method
