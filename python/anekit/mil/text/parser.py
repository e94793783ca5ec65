"""MIL text -> :class:`~anekit.mil.ir.Program` (docs/internals/mil-format.md §2-7), both dialects.

Whitespace-insensitive; accepts ``//`` comments, decimal and hex floats, ``inf``/``nan``, tuple, list and dict
literals, multi-output and output-less statements, attribute-style and inline-argument constexpr ops and
function attributes (``FlexibleShapeInformation``). Syntax errors raise :class:`MILParseError` with line,
column and a caret excerpt; semantic findings (unknown op, declared type != inferred type) are recorded in
``Program.diagnostics`` instead of failing, so real files with unspecified ops still load.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ...errors import MILError, MILParseError
from ..diagnostics import Diagnostic
from ..ir import Binding, Function, Operation, Program, Var
from ..values import Value, WeightSource
from .lexer import tokenize
from .parse_check import check_program
from .parse_values import ValueParser

__all__ = ["load", "parse"]


class _Parser(ValueParser):
    """Statements, functions and the program, on top of :class:`ValueParser`."""

    __slots__ = ()

    def binding(self, env: dict[str, Var]) -> Binding:
        if self.k[self.i] == "(":
            self.i += 1
            items: list[Var | Value] = []
            while self.k[self.i] != ")":
                if items:
                    self.expect(",", "',' or ')'")
                items.append(self.single(env))
            self.i += 1
            return tuple(items)
        return self.single(env)

    def single(self, env: dict[str, Var]) -> Var | Value:
        if self.k[self.i] == "tt" or (self.k[self.i] == "id" and self.k[self.i + 1] in "(<" and self.is_type_start()):
            return self.value()
        j = self.i
        name = self.ident("a variable name or a value")
        var = env.get(name)
        if var is None:
            raise self.err(f"undefined variable {name!r}", j)
        return var

    def statement(self, env: dict[str, Var], f: Function, diags: list[Diagnostic]) -> None:
        # The hottest code of the parser: the common token sequences are matched on local copies of the cursor
        # and token lists; anything unexpected goes through the general methods, which raise the usual errors.
        k, t = self.k, self.t
        start = i = self.i
        outs: list[Var] = []
        if not (k[i] == "id" and k[i + 1] == "("):
            while True:
                if k[i] == "tt" and (found := self.tc.get(t[i])) is not None:
                    typ = found
                    i += 1
                else:
                    self.i = i
                    typ = self.type()
                    i = self.i
                if k[i] != "id":
                    self.i = i
                    self.ident("an output variable name")
                outs.append(Var(t[i], typ))
                i += 1
                if k[i] != ",":
                    break
                i += 1
            if k[i] != "=":
                self.i = i
                self.expect("=")
            i += 1
        if k[i] != "id":
            self.i = i
            self.ident("an op type")
        op_type = t[i]
        if k[i + 1] != "(":
            self.i = i + 1
            self.expect("(")
        i += 2
        inputs: dict[str, Binding] = {}
        while k[i] != ")":
            if inputs:
                if k[i] != ",":
                    self.i = i
                    self.expect(",", "',' or ')'")
                i += 1
            if k[i] != "id":
                self.i = i
                self.ident("an argument name")
            key = t[i]
            if key in inputs:
                raise self.err(f"duplicate argument {key!r}", i)
            if k[i + 1] != "=":
                self.i = i + 1
                self.expect("=")
            i += 2
            if k[i] == "id" and k[i + 1] in (",", ")"):  # a variable: the usual argument
                var = env.get(t[i])
                if var is None:
                    raise self.err(f"undefined variable {t[i]!r}", i)
                inputs[key] = var
                i += 1
            else:
                self.i = i
                inputs[key] = self.binding(env)
                i = self.i
        i += 1
        attrs: dict[str, Value] = {}
        if k[i] == "[":
            self.i = i + 1
            attrs = self.attr_items("]")
            i = self.i
        if k[i] != ";":
            self.i = i
            self.expect(";")
        self.i = i + 1
        line = self.toks.line_col(self.toks.start(start))[0]
        name_v = attrs.pop("name", None)
        if name_v is None:
            name = outs[0].name if outs else f"{op_type}_{len(f.operations)}"
            diags.append(
                Diagnostic(
                    "missing-name",
                    "warning",
                    f"{op_type} statement has no name attribute; using {name!r}",
                    name,
                    f.name,
                    line,
                    "every op needs a unique name (§11)",
                )
            )
        elif not isinstance(name_v.data, str):
            raise self.err("the name attribute must be a string", start)
        else:
            name = name_v.data
        for v in outs:
            if v.name in env:
                diags.append(
                    Diagnostic(
                        "duplicate-var",
                        "error",
                        f"variable {v.name!r} is defined twice",
                        name,
                        f.name,
                        line,
                    )
                )
            env[v.name] = v
        op = Operation.built(op_type, name)  # the dicts and list are new: no copies needed
        op.inputs, op.attrs, op.outputs, op.line = inputs, attrs, outs, line
        for v in outs:
            v.op = op
        f.operations.append(op)

    def function(self, diags: list[Diagnostic]) -> Function:
        self.keyword("func")
        name = self.ident("a function name")
        self.expect("<")
        opset = self.ident("an opset such as ios18")
        self.expect(">")
        self.expect("(")
        f = Function(name, opset)
        while self.k[self.i] != ")":
            if f.inputs:
                self.expect(",", "',' or ')'")
            t = self.type()
            j = self.i
            pname = self.ident("a parameter name")
            if pname in f.inputs:
                raise self.err(f"duplicate parameter {pname!r}", j)
            f.inputs[pname] = Var(pname, t)
        self.i += 1
        if self.k[self.i] == "[":
            self.i += 1
            f.attributes = self.attr_items("]")
        self.expect("{")
        env = dict(f.inputs)
        while self.k[self.i] != "}":
            if self.k[self.i] == "eof":
                raise self.err(f"unterminated function {name!r}: expected '}}'")
            self.statement(env, f, diags)
        self.i += 1
        self.expect("->")
        self.expect("(")
        while self.k[self.i] != ")":
            if f.outputs:
                self.expect(",", "',' or ')'")
            j = self.i
            out = self.ident("an output variable name")
            if out not in env:
                raise self.err(f"function output {out!r} is not defined", j)
            f.outputs.append(env[out])
        self.i += 1
        self.expect(";")
        return f

    def program(self) -> Program:
        self.keyword("program")
        self.expect("(")
        if self.k[self.i] != "num":
            raise self.err(f"expected a program version such as 1.0 or 1.3, found {self.found()}")
        version = self.t[self.i]
        self.i += 1
        self.expect(")")
        attrs: dict[str, Value] = {}
        if self.k[self.i] == "[":
            self.i += 1
            attrs = self.attr_items("]")
        self.expect("{")
        diags: list[Diagnostic] = []
        funcs: list[Function] = []
        while self.k[self.i] != "}":
            j = self.i
            f = self.function(diags)
            if any(g.name == f.name for g in funcs):
                raise self.err(f"duplicate function {f.name!r}", j)
            funcs.append(f)
        self.i += 1
        if self.k[self.i] != "eof":
            raise self.err(f"unexpected {self.found()} after the program's closing '}}'")
        prog = Program(funcs, attrs, version, self.ws)
        prog.diagnostics.extend(diags)
        return prog


def parse(text: str, weights: Mapping[str, bytes] | str | os.PathLike[str] | None = None) -> Program:
    """Parse MIL text into a :class:`Program`.

    Args:
        text: the MIL source (either dialect).
        weights: where ``BLOBFILE`` paths resolve (read lazily): a dict of ``@model_path/…`` path -> bytes,
            or the model directory (see :class:`~anekit.mil.values.WeightSource`).

    Returns:
        The program; ``program.diagnostics`` lists unknown ops and declared-vs-inferred type mismatches.

    Raises:
        MILParseError: the text does not parse (line, column and a caret excerpt are attached).
    """
    source = WeightSource(weights)
    toks = tokenize(text)
    parser = _Parser(toks, source)
    try:
        prog = parser.program()
    except MILParseError:
        raise
    except (
        MILError,
        ValueError,
        TypeError,
        OverflowError,
        IndexError,
        KeyError,
        RecursionError,
    ) as exc:
        # Safety net: any internal failure on malformed input is still reported as a positioned parse error.
        raise parser.err(f"invalid MIL: {exc}") from exc
    check_program(prog)
    return prog


def load(path: str | os.PathLike[str]) -> Program:
    """Load a ``.mlmodelc``-style folder: ``model.mil`` plus ``weights/`` (read lazily).

    Raises:
        MILError: the folder or its ``model.mil`` is missing; MILParseError for bad text.
    """
    folder = Path(path)
    mil_file = folder / "model.mil" if folder.is_dir() else folder
    if not mil_file.is_file():
        raise MILError(f"no model.mil in {folder}")
    return parse(read_mil_text(mil_file), weights=mil_file.parent)


def read_mil_text(path: str | os.PathLike[str]) -> str:
    """The text of a MIL file, which must be UTF-8.

    Raises:
        MILParseError: the file is not UTF-8; the message names the file, with the line and (byte) column of
            the first invalid byte.
        OSError: the file cannot be read.
    """
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        raise MILParseError(
            f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); MIL text must be UTF-8",
            line=data.count(b"\n", 0, exc.start) + 1,
            col=exc.start - line_start + 1,
        ) from None
