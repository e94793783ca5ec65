"""Recursive-descent parsing of MIL types, literals and typed values (docs/internals/mil-format.md §4-6).

:class:`ValueParser` holds the token cursor and the helpers; :mod:`anekit.mil.text.parser` extends it with
statements, functions and programs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import MILParseError
from ..types import DTYPES, MAX_DIM, DictType, ListType, StateType, TensorType, TupleType, Type
from ..values import BlobRef, Value, WeightSource
from .lexer import Tokens
from .literals import LiteralError, Pairs, convert, convert_scalar

__all__ = ["MAX_DEPTH", "ValueParser"]

#: Deepest bracket/type nesting accepted (real files nest 5 deep); bounds recursion on hostile input.
MAX_DEPTH = 64
_COMPOSITE = ("tensor", "state", "list", "tuple", "dict")
_STRING_SCALAR = TensorType(DTYPES["string"], ())
_STRING_SCALAR_TYPES = frozenset({"string", "tensor<string, []>"})


class ValueParser:
    """Token-level parser of types, literals and typed values (shared by the statement parser)."""

    __slots__ = ("depth", "i", "k", "source", "t", "tc", "toks", "ws")

    def __init__(self, toks: Tokens, source: WeightSource) -> None:
        self.toks = toks
        self.k = toks.kinds
        self.t = toks.texts
        self.i = 0
        self.ws = source
        self.tc: dict[str, TensorType] = {}
        self.depth = 0

    # ------------------------------------------------------------------ helpers
    def err(self, msg: str, i: int | None = None) -> MILParseError:
        j = self.i if i is None else i
        return self.toks.error(msg, self.toks.start(min(j, len(self.k) - 1)))

    def found(self, i: int | None = None) -> str:
        j = self.i if i is None else i
        return "end of input" if self.k[j] == "eof" else repr(self.t[j])

    def expect(self, kind: str, what: str | None = None) -> str:
        if self.k[self.i] != kind:
            raise self.err(f"expected {what or repr(kind)}, found {self.found()}")
        text = self.t[self.i]
        self.i += 1
        return text

    def keyword(self, word: str) -> None:
        if self.k[self.i] != "id" or self.t[self.i] != word:
            raise self.err(f"expected {word!r}, found {self.found()}")
        self.i += 1

    def ident(self, what: str) -> str:
        return self.expect("id", what)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.err(f"nesting deeper than {MAX_DEPTH} levels")

    # ------------------------------------------------------------------ types
    def tensor_token(self) -> TensorType:
        text = self.t[self.i]
        found = self.tc.get(text)
        if found is None:
            inner = text[text.index("<") + 1 : text.rindex(">")]
            dt, _, dims = inner.partition(",")
            dims = dims.strip()[1:-1].strip()
            shape: list[int | None] = []
            if dims:
                for d in dims.split(","):
                    d = d.strip()
                    if d == "?":
                        shape.append(None)
                    elif d.isdigit():
                        shape.append(self.checked_dim(int(d)))
                    else:
                        raise self.err(f"bad tensor dimension {d!r} in {text!r}")
            found = TensorType(self.dtype(dt.strip()), tuple(shape))
            self.tc[text] = found
        self.i += 1
        return found

    def dtype(self, name: str, i: int | None = None) -> Any:
        d = DTYPES.get(name)
        if d is None:
            raise self.err(f"unknown dtype {name!r}", i)
        return d

    def is_type_start(self) -> bool:
        k = self.k[self.i]
        if k == "tt":
            return True
        if k != "id":
            return False
        text = self.t[self.i]
        return (text in _COMPOSITE and self.k[self.i + 1] == "<") or text in DTYPES

    def type(self) -> Type:
        k = self.k[self.i]
        if k == "tt":
            return self.tensor_token()
        if k != "id":
            raise self.err(f"expected a type, found {self.found()}")
        name = self.t[self.i]
        if name in DTYPES and self.k[self.i + 1] != "<":
            self.i += 1
            found = self.tc.get(name)
            if found is None:
                found = self.tc[name] = TensorType(DTYPES[name], ())  # dialect A rank-0 shorthand (§3)
            return found
        if name not in _COMPOSITE:
            raise self.err(f"expected a type, found {self.found()}")
        self.i += 1
        self.expect("<")
        self.enter()
        result: Type
        if name == "tensor":
            j = self.i
            dt = self.dtype(self.ident("a dtype"), j)
            self.expect(",")
            self.expect("[")
            shape: list[int | None] = []
            while self.k[self.i] != "]":
                if shape:
                    self.expect(",")
                if self.k[self.i] == "?":
                    self.i += 1
                    shape.append(None)
                else:
                    shape.append(self.checked_dim(self.uint("a dimension")))
            self.i += 1
            result = TensorType(dt, tuple(shape))
        elif name == "state":
            inner = self.type()
            if not isinstance(inner, TensorType):
                raise self.err("state<> must wrap a tensor type")
            result = StateType(inner)
        elif name == "list":
            elem = self.type()
            self.expect(",")
            if self.k[self.i] == "?":
                self.i += 1
                length = None
            else:
                length = self.uint("a list length")
            result = ListType(elem, length)
        elif name == "tuple":
            elems = [self.type()]
            while self.k[self.i] == ",":
                self.i += 1
                elems.append(self.type())
            result = TupleType(tuple(elems))
        else:
            key = self.type()
            self.expect(",")
            result = DictType(key, self.type())
        self.expect(">")
        self.depth -= 1
        return result

    def checked_dim(self, d: int) -> int:
        """``d`` if it can be a tensor dimension, else a parse error naming the line (never an overflow later)."""
        if d > MAX_DIM:
            raise self.err(f"tensor dimension {d} is larger than the largest MIL dimension, 2**63 - 1")
        return d

    def uint(self, what: str) -> int:
        if self.k[self.i] != "num" or not self.t[self.i].isdigit():
            raise self.err(f"expected {what} (a non-negative integer), found {self.found()}")
        self.i += 1
        return int(self.t[self.i - 1])

    # ------------------------------------------------------------------ literals
    def literal(self) -> Any:
        k = self.k[self.i]
        text = self.t[self.i]
        if k == "num":
            self.i += 1
            if "." in text or "e" in text or "E" in text:
                return float(text)
            return int(text)
        if k == "hex":
            self.i += 1
            try:
                return float.fromhex(text)
            except (ValueError, OverflowError):
                raise self.err(f"bad hex float {text!r}", self.i - 1) from None
        if k == "str":
            self.i += 1
            return text[1:-1]
        if k == "id":
            self.i += 1
            if text == "true":
                return True
            if text == "false":
                return False
            if text in ("inf", "nan"):
                return float(text)
            self.i -= 1
            raise self.err(f"expected a literal, found {self.found()}")
        if k == "-" and self.k[self.i + 1] == "id" and self.t[self.i + 1] in ("inf", "nan"):
            self.i += 2
            return -float(self.t[self.i - 1])
        if k in "[({":
            self.enter()
            self.i += 1
            if k == "{":
                out: Any = Pairs()
                while self.k[self.i] != "}":
                    if out:
                        self.expect(",")
                    self.expect("{", "'{' opening a dict entry")
                    key = self.literal()
                    self.expect(",")
                    out.append((key, self.literal()))
                    self.expect("}")
            else:
                close = "]" if k == "[" else ")"
                items: list[Any] = []
                while self.k[self.i] != close:
                    if items:
                        self.expect(",", f"',' or {close!r}")
                    items.append(self.literal())
                out = items if k == "[" else tuple(items)
            self.i += 1
            self.depth -= 1
            return out
        raise self.err(f"expected a literal, found {self.found()}")

    def value(self) -> Value:
        start = self.i
        t = self.type()
        self.expect("(", "'(' after the value's type")
        if self.k[self.i] == "id" and self.t[self.i] == "BLOBFILE":
            self.i += 1
            self.expect("(")
            fields = self.attr_items(")")
            if set(fields) != {"path", "offset"}:
                raise self.err(f"BLOBFILE needs exactly path and offset, got {sorted(fields)}", start)
            path, off = fields["path"].data, fields["offset"].data
            if (
                not isinstance(path, str)
                or getattr(off, "dtype", None) is None
                or off.ndim != 0
                or off.dtype.kind not in "iu"
            ):
                raise self.err("BLOBFILE path must be a string and offset an integer scalar", start)
            if not (isinstance(t, TensorType) and t.is_static):
                raise self.err(f"BLOBFILE needs a static tensor type, got {t}", start)
            self.expect(")")
            return Value(t, blob=BlobRef(path, int(off)), source=self.ws)
        lit_at = self.i
        lit = self.literal()
        self.expect(")")
        try:
            data = convert(lit, t)
        except LiteralError as exc:
            raise self.err(f"{exc} (declared type {t})", lit_at) from None
        if type(data) is np.ndarray and isinstance(t, TensorType) and data.dtype == t.dtype.np_dtype:
            # convert() made a new array of the declared shape and dtype: Value's checks would only repeat it.
            data.flags.writeable = False
            return Value.trusted(t, data, "inline")
        return Value(t, data)

    def attr_items(self, close: str) -> dict[str, Value]:
        out: dict[str, Value] = {}
        k, t = self.k, self.t
        n = len(k)
        i = self.i
        while k[i] != close:
            if out:
                if k[i] != ",":
                    self.i = i
                    self.expect(",", f"',' or {close!r}")
                i += 1
            if k[i] != "id":
                self.i = i
                self.ident("an attribute name")
            key = t[i]
            if key in out:
                raise self.err(f"duplicate attribute {key!r}", i)
            if k[i + 1] != "=":
                self.i = i + 1
                self.expect("=")
            i += 2
            # Fast path for the string scalar every statement carries (``name = string("…")``, §3).
            if (
                i + 3 < n
                and k[i + 2] == "str"
                and k[i + 1] == "("
                and k[i + 3] == ")"
                and t[i] in _STRING_SCALAR_TYPES
                and k[i] in ("id", "tt")
            ):
                out[key] = Value.trusted(_STRING_SCALAR, t[i + 2][1:-1], "inline")
                i += 4
            elif (fast := self._common_value(i)) is not None:
                out[key], i = fast
            else:
                self.i = i
                out[key] = self.value()
                i = self.i
        self.i = i + 1
        return out

    def _common_value(self, i: int) -> tuple[Value, int] | None:
        """The two most frequent values at token ``i`` without the general machinery, or None.

        A numeric/bool scalar (``int32(3)``, ``bool(true)``, ``fp16(0x1p-1)``, ``tensor<int32, []>(3)``) and a
        weight reference (``tensor<…>(BLOBFILE(path = string("…"), offset = uint64(N)))``), when the type was
        seen before. Anything unusual, including every error, is left to :meth:`value` (returns None).
        """
        k, t = self.k, self.t
        if i + 3 >= len(k) or k[i + 1] != "(":
            return None
        typ = self.tc.get(t[i])
        if typ is None or k[i] not in ("id", "tt"):
            return None
        kind = k[i + 2]
        if t[i + 2] == "BLOBFILE":
            # BLOBFILE ( path = string ( "…" ) , offset = uint64 ( N ) ) )
            if (
                i + 18 < len(k)
                and k[i + 3] == "("
                and t[i + 4] == "path"
                and k[i + 5] == "="
                and t[i + 6] in _STRING_SCALAR_TYPES
                and k[i + 7] == "("
                and k[i + 8] == "str"
                and k[i + 9] == ")"
                and k[i + 10] == ","
                and t[i + 11] == "offset"
                and k[i + 12] == "="
                and t[i + 13] == "uint64"
                and k[i + 14] == "("
                and k[i + 15] == "num"
                and t[i + 15].isdigit()
                and k[i + 16] == ")"
                and k[i + 17] == ")"
                and k[i + 18] == ")"
                and typ.is_static
                and int(t[i + 15]) < 1 << 64
            ):
                return Value(typ, blob=BlobRef(t[i + 8][1:-1], int(t[i + 15])), source=self.ws), i + 19
            return None
        if kind not in ("num", "hex", "id") or typ.shape or typ.dtype.kind == "string" or k[i + 3] != ")":
            return None
        text = t[i + 2]
        if kind == "num":
            lit: Any = float(text) if "." in text or "e" in text or "E" in text else int(text)
        elif kind == "hex":
            try:
                lit = float.fromhex(text)
            except (ValueError, OverflowError):
                return None
        elif text == "true" or text == "false":
            lit = text == "true"
        else:
            return None
        try:
            data = convert_scalar(lit, typ.dtype)
        except (LiteralError, OverflowError):
            return None
        data.flags.writeable = False
        return Value.trusted(typ, data, "inline"), i + 4
