"""The MIL program IR: :class:`Program`, :class:`Function`, :class:`Operation`, :class:`Var`.

Plain classes with ``__slots__`` and no module-level state (docs/internals/architecture.md §4-6). Literal values live in
:class:`~anekit.mil.values.Value` (inline data or a lazily read ``BLOBFILE`` reference).

Binding of op inputs (``Operation.inputs``): each MIL input name maps to a :class:`Var` (a variable
reference, the normal case: real files never inline non-const operands, docs/internals/mil-format.md §7.1), a
:class:`Value` (an inline argument, only for iOS18 constexpr ops, §7.4), or a tuple of those (tuple inputs such
as ``concat(values = (a, b))``). Attributes (``Operation.attrs``) map names to :class:`Value`; the ``name``
attribute is held separately in ``Operation.name``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ..errors import MILError
from .diagnostics import Diagnostic
from .types import Type
from .values import MODEL_PATH_PREFIX, Value, WeightSource

if TYPE_CHECKING:
    from .analysis.summary import ProgramSummary

__all__ = ["DUPLICATE_OUTPUT_HINT", "Binding", "Function", "Operation", "Program", "Var", "duplicate_output_message"]


class Var:
    """An SSA variable: a function input or one output of an operation.

    Attributes:
        name: the SSA name as printed in MIL text.
        type: its MIL type.
        op: the producing operation, or None for a function input.
    """

    __slots__ = ("name", "op", "type")

    def __init__(self, name: str, type: Type, op: Operation | None = None) -> None:
        self.name = name
        self.type = type
        self.op = op

    @property
    def is_input(self) -> bool:
        return self.op is None

    @property
    def const_value(self) -> Any:
        """The value of a ``const``-produced variable (blob read lazily), else None. Never folds other ops."""
        if self.op is not None and self.op.op_type == "const":
            val = self.op.attrs.get("val")
            return None if val is None else val.data
        return None

    def __repr__(self) -> str:
        return f"Var({self.name}: {self.type})"


#: What an op input is bound to: a variable, an inline literal, or a tuple of those.
Binding = Union[Var, Value, tuple[Union[Var, Value], ...]]  # noqa: UP007 (runtime alias, Python 3.10)


class Operation:
    """One MIL statement.

    Attributes:
        op_type: MIL op name (``conv``, ``const`` …).
        name: the op's ``name`` attribute (unique within a function).
        inputs: MIL input name -> :data:`Binding`, in insertion order (text output sorts them).
        attrs: attribute name -> :class:`Value`, excluding ``name``.
        outputs: output variables (possibly empty, e.g. ``write_state``).
        line: 1-based source line when parsed from text, else None.
    """

    __slots__ = ("attrs", "inputs", "line", "name", "op_type", "outputs")

    def __init__(
        self,
        op_type: str,
        name: str,
        inputs: Mapping[str, Binding] | None = None,
        attrs: Mapping[str, Value] | None = None,
        outputs: Sequence[Var] = (),
        line: int | None = None,
    ) -> None:
        self.op_type = op_type
        self.name = name
        self.inputs: dict[str, Binding] = dict(inputs or {})
        self.attrs: dict[str, Value] = dict(attrs or {})
        self.outputs: list[Var] = list(outputs)
        self.line = line
        for v in self.outputs:
            v.op = self

    @classmethod
    def const_op(cls, name: str, value: Value, out: Var) -> Operation:
        """Internal fast constructor of a ``const`` op (the builder creates hundreds of these)."""
        op = cls.__new__(cls)
        op.op_type = "const"
        op.name = name
        op.inputs = {}
        op.attrs = {"val": value}
        op.outputs = [out]
        op.line = None
        out.op = op
        return op

    @classmethod
    def built(cls, op_type: str, name: str) -> Operation:
        """Internal fast constructor of an operation with empty inputs, attributes and outputs (the builder)."""
        op = cls.__new__(cls)
        op.op_type = op_type
        op.name = name
        op.inputs = {}
        op.attrs = {}
        op.outputs = []
        op.line = None
        return op

    def input_value(self, name: str) -> Any:
        """Compile-time data of input ``name`` (const var, inline value or attribute), else None."""
        b = self.inputs.get(name)
        if isinstance(b, Var):
            return b.const_value
        if isinstance(b, Value):
            return b.data
        if b is None and name in self.attrs:
            return self.attrs[name].data
        return None

    def input_vars(self) -> Iterator[Var]:
        """Every variable this op reads, in input order (tuple inputs flattened)."""
        for b in self.inputs.values():
            if isinstance(b, Var):
                yield b
            elif isinstance(b, tuple):
                yield from (x for x in b if isinstance(x, Var))

    @property
    def output(self) -> Var:
        """The single output (raises MILError when the op has zero or several)."""
        if len(self.outputs) != 1:
            raise MILError(f"[{self.op_type} '{self.name}'] has {len(self.outputs)} outputs, not 1")
        return self.outputs[0]

    def __repr__(self) -> str:
        outs = ", ".join(v.name for v in self.outputs)
        return f"Operation({self.op_type} '{self.name}' -> ({outs}))"


class Function:
    """A MIL function.

    Attributes:
        name: function name (``main``).
        opset: ``ios15`` … ``ios18``.
        inputs: parameter name -> input :class:`Var` (ordered; types may be :class:`StateType`).
        operations: the statements in order.
        outputs: the returned variables in order.
        attributes: function attributes (e.g. ``FlexibleShapeInformation``) as :class:`Value`.
    """

    __slots__ = ("attributes", "inputs", "name", "operations", "opset", "outputs")

    def __init__(
        self,
        name: str,
        opset: str,
        inputs: Mapping[str, Var] | None = None,
        operations: Sequence[Operation] = (),
        outputs: Sequence[Var] = (),
        attributes: Mapping[str, Value] | None = None,
    ) -> None:
        self.name = name
        self.opset = opset
        self.inputs: dict[str, Var] = dict(inputs or {})
        self.operations: list[Operation] = list(operations)
        self.outputs: list[Var] = list(outputs)
        self.attributes: dict[str, Value] = dict(attributes or {})

    def vars(self) -> dict[str, Var]:
        """Every variable by name: inputs, then op outputs in order."""
        out = dict(self.inputs)
        for op in self.operations:
            for v in op.outputs:
                out[v.name] = v
        return out

    def op(self, name: str) -> Operation:
        """The operation whose ``name`` attribute is ``name`` (MILError if absent)."""
        for op in self.operations:
            if op.name == name:
                return op
        raise MILError(f"function {self.name} has no op named {name!r}")

    @property
    def flexible_shapes(self) -> dict[str, Any] | None:
        """``FlexibleShapeInformation`` as plain Python (§7.6), or None.

        Returns a dict such as ``{"DefaultShapes": {"x": [1, 1, 1]}, "RangeDims": {"x": [[1, 1], [1, 2048]]}}``
        or ``{"EnumeratedShapes": {"000187c4": {"input_ids": [64, 64]}}}``: nested lists of ints.
        """
        val = self.attributes.get("FlexibleShapeInformation")
        if val is None:
            return None
        data = val.data
        if not isinstance(data, tuple):
            raise MILError("FlexibleShapeInformation must be a tuple of (kind, dict) pairs")
        out: dict[str, Any] = {}
        for item in data:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
                raise MILError("FlexibleShapeInformation entries must be (string, dict) pairs")
            out[item[0]] = _to_python(item[1])
        return out

    def __repr__(self) -> str:
        return f"Function({self.name}<{self.opset}>, {len(self.operations)} ops)"


def _to_python(data: Any) -> Any:
    if isinstance(data, np.ndarray):
        return data.tolist()
    if isinstance(data, dict):
        return {k: _to_python(v) for k, v in data.items()}
    if isinstance(data, (tuple, list)):
        return [_to_python(v) for v in data]
    return data


class Program:
    """A MIL program: functions, program attributes (``buildInfo``) and the header version.

    Attributes:
        functions: function name -> :class:`Function`, in text order.
        attributes: program attributes as :class:`Value` (``buildInfo``).
        version: the parsed ``program(…)`` version (``"1.0"``/``"1.3"``), or None for built programs (the
            dialect then follows the opset, docs/internals/mil-format.md §3).
        diagnostics: findings recorded while parsing/building (type mismatches, unknown ops).
        weight_source: where parsed ``BLOBFILE`` references are read from.
    """

    __slots__ = ("attributes", "diagnostics", "functions", "version", "weight_source")

    def __init__(
        self,
        functions: Sequence[Function] | Mapping[str, Function] = (),
        attributes: Mapping[str, Value] | None = None,
        version: str | None = None,
        weight_source: WeightSource | None = None,
    ) -> None:
        funcs = list(functions.values()) if isinstance(functions, Mapping) else list(functions)
        self.functions: dict[str, Function] = {}
        for f in funcs:
            if not isinstance(f, Function):
                raise MILError(f"Program functions must be Function objects, got {type(f).__name__}")
            if f.name in self.functions:
                raise MILError(f"duplicate function name {f.name!r} in program")
            self.functions[f.name] = f
        self.attributes: dict[str, Value] = dict(attributes or {})
        self.version = version
        self.diagnostics: list[Diagnostic] = []
        self.weight_source = weight_source or WeightSource()

    @property
    def main(self) -> Function:
        """The ``main`` function, or the only function."""
        if "main" in self.functions:
            return self.functions["main"]
        if len(self.functions) == 1:
            return next(iter(self.functions.values()))
        raise MILError(f"program has no 'main' function (functions: {', '.join(self.functions)})")

    @property
    def build_info(self) -> dict[str, str] | None:
        """``buildInfo`` as a plain dict, or None."""
        v = self.attributes.get("buildInfo")
        return None if v is None else dict(v.data)

    def to_mil(self, dialect: str | None = None) -> str:
        """MIL text (see :func:`anekit.mil.text.emitter.emit`); ``dialect`` is ``"A"``, ``"B"`` or None (by opset)."""
        from .text.emitter import emit

        return emit(self, dialect)

    def weights(self) -> dict[str, bytes]:
        """Weight files keyed by ``@model_path/…`` path (see :func:`anekit.mil.text.emitter.layout_weights`)."""
        from .text.emitter import layout_weights

        return layout_weights(self).files

    def save(self, directory: str | os.PathLike[str], dialect: str | None = None) -> Path:
        """Write ``model.mil`` and its weight files into ``directory`` (created if needed); returns it."""
        from .text.emitter import emit, layout_weights

        out = Path(directory)
        layout = layout_weights(self)
        text = emit(self, dialect, layout=layout)
        out.mkdir(parents=True, exist_ok=True)
        for path, data in layout.files.items():
            rel = Path(path[len(MODEL_PATH_PREFIX) :])
            if rel.is_absolute() or ".." in rel.parts:
                raise MILError(f"weight path {path!r} escapes the model directory")
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(data)
        (out / "model.mil").write_text(text, encoding="utf-8")
        return out

    def validate(self, target: str = "ane") -> list[Diagnostic]:
        """All findings about this program (see :func:`anekit.mil.validate.validate`)."""
        from .validate.runner import validate

        return validate(self, target)

    def structural_diff(self, other: Program) -> str | None:
        """The first structural difference from ``other`` as a message, or None if they are equal."""
        from .analysis.compare import program_diff

        return program_diff(self, other)

    def structurally_equal(self, other: Program) -> bool:
        """Same functions, ops, names, types, bindings and literal data (blobs compared by content)."""
        return self.structural_diff(other) is None

    def check(self, target: str = "ane") -> list[Diagnostic]:
        """Validate (see :func:`anekit.mil.validate.validate`); returns the warnings and infos.

        Raises:
            MILError: listing every error finding (warnings never raise).
        """
        from .validate.runner import check

        return check(self, target)

    def summary(self) -> ProgramSummary:
        """Ops by type, parameters, weight bytes and estimated FLOPs (see :mod:`anekit.mil.analysis.summary`)."""
        from .analysis.summary import summarize

        return summarize(self)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __repr__(self) -> str:
        """``Program(1 function main<ios18>, 862 ops, 22.7M params, 43.3 MiB weights)``."""
        from .analysis.summary import program_repr

        try:
            return program_repr(self)
        except (MILError, ValueError, TypeError):  # a repr must not raise, even on a malformed program
            return f"Program({', '.join(repr(f) for f in self.functions.values())})"


def duplicate_output_message(name: str) -> str:
    """Why a function may not return ``name`` twice (shared by the Builder and the validator)."""
    return (
        f"output {name!r} is returned more than once; outputs are bound and returned by name (one surface and "
        "one result per name), so a repeated output cannot be told apart"
    )


#: What to do instead of returning a variable twice.
DUPLICATE_OUTPUT_HINT = "return the variable once, or add mb.identity(x=...) for a second, separately named copy"
