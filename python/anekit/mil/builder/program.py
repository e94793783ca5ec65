"""Programs from built functions: :func:`make_program` and the :func:`program` decorator.

Kept apart from :mod:`anekit.mil.builder.builder` (the Builder class) so each module stays small.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ... import _core
from ...errors import MILError
from ..ir import Function, Program
from ..types import DictType, TensorType, Type, dtype
from ..values import Value

__all__ = ["DEFAULT_BUILD_INFO", "UNSET", "make_program", "program"]

#: buildInfo of the programs anekit builds: ``anekit-version`` says who wrote the program, and
#: ``coremlc-version`` is the one key every program known to compile on the ANE carries — the minimal hand-written
#: dialect-B program (docs/internals/mil-format.md §8.2) has only it, and every compiled corpus file has it. Whether the
#: ANE compiler reads it is open (``program(1.3)`` compiled with no buildInfo at all, §3); the value is the one those
#: hand-written programs used. The ``coremltools-*`` keys are left out: coremltools did not build these programs.
#: ``build_info=None`` writes no buildInfo line.
DEFAULT_BUILD_INFO: dict[str, str] = {
    "anekit-version": _core.__version__,
    "coremlc-version": "3505.4.1",
}
#: Sentinel for "argument not given" (``build_info=None`` means "no buildInfo").
UNSET: Any = object()
_STRING = dtype("string")


def make_program(functions: Sequence[Function], build_info: Mapping[str, str] | None = None) -> Program:
    """A program from built functions, with an optional ``buildInfo`` (keys sorted, like coremlc)."""
    attrs = {}
    if build_info:
        t = DictType(TensorType(_STRING, ()), TensorType(_STRING, ()))
        attrs["buildInfo"] = Value(t, {k: str(build_info[k]) for k in sorted(build_info)})
    return Program(functions, attrs)


def program(
    inputs: Mapping[str, Type],
    opset: str = "ios18",
    *,
    name: str = "main",
    build_info: Mapping[str, str] | None = UNSET,
) -> Callable[[Callable[..., Any]], Program]:
    """Decorator: ``@program(inputs={"x": tensor((1, 768, 1, 256), "fp16")}, opset="ios18")``.

    The decorated function receives the builder and one Var per input, and returns the output Var(s) (a
    Var, tuple/list of Vars, or a dict name -> Var). The decorator returns the built :class:`Program`.
    """
    if not isinstance(inputs, Mapping):
        raise MILError(_bad_inputs_message(inputs))

    def wrap(fn: Callable[..., Any]) -> Program:
        from .builder import Builder  # builder.py imports this module for make_program()

        _check_takes_builder_first(fn, list(inputs))
        mb = Builder(opset, name=name, build_info=build_info)
        args = [mb.input(k, t) for k, t in inputs.items()]
        return mb.build(fn(mb, *args))

    return wrap


_BUILDER_FIRST = (
    "anekit's @mil.program passes the builder first, then one Var per input, e.g.\n"
    "    @mil.program(inputs={{'x': mil.tensor((1, 64, 1, 32), 'fp16')}})\n"
    "    def prog(mb, {args}):\n"
    "        return mb.relu(x={first})\n"
    "(coremltools' @mb.program(input_specs=[...]) style, with a module-level `mb`, does not apply here)"
)


def _bad_inputs_message(inputs: object) -> str:
    message = f"program(inputs=...) must be a dict of input name -> type, got {type(inputs).__name__}"
    if callable(inputs):
        return f"{message}: write @mil.program(inputs={{...}}), not a bare @mil.program"
    if isinstance(inputs, (list, tuple)):
        return f"{message}: anekit names each input, e.g. inputs={{'x': mil.tensor((1, 64, 1, 32), 'fp16')}}"
    return message


def _check_takes_builder_first(fn: Callable[..., Any], input_names: list[str]) -> None:
    """Raise a hint when ``fn`` cannot take ``(mb, *inputs)``, or its first parameter is named like an input."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins and some C callables have no signature: let the call decide
        return
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    try:
        sig.bind(None, *input_names)
        fits = True
    except TypeError:
        fits = False
    # def prog(x): ... with inputs {"x": ...} is the coremltools habit: x would receive the builder.
    named_like_input = bool(positional) and positional[0].name in input_names
    if not fits or named_like_input:
        args = ", ".join(input_names) or "..."
        first = input_names[0] if input_names else "..."
        theirs = f"{getattr(fn, '__name__', 'function')}({', '.join(sig.parameters)})"
        hint = _BUILDER_FIRST.format(args=args, first=first)
        raise MILError(f"@mil.program cannot call {theirs} with (builder, {args}). {hint}")
