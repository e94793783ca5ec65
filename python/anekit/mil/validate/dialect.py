"""Validator rule on the MIL *text*: dialect-A (iOS18) spellings under a ``program(1.0)`` header.

The parser accepts both dialects' spellings anywhere (docs/internals/mil-format.md §4: be lenient), and the IR does not
keep them, so this rule looks at the source text when the caller passes it (``validate(program, text=…)``, or
``python -m anekit check``). Target ``"any"``.

Facts: docs/internals/mil-format.md §3 (dialect table: bare scalar types such as ``fp16 eps``, shorthand literals such
as ``string("x")``/``int32(1)`` and ``dict<string, string>`` belong to dialect A, ``program(1.3)``) and §11 rule 2
(iOS18 syntax under ``program(1.0)`` gives ``InvalidMILProgram``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..types import DTYPES
from ._rules import Context, rule

__all__ = ["dialect_a_lines"]

_DT = "|".join(sorted((d for d in DTYPES if d != "string"), key=len, reverse=True)) + "|string"
#: Shorthand scalar literal (``int32(1)``, ``string("x")``): dialect B writes ``tensor<int32, []>(1)``.
_LITERAL = re.compile(rf"(?<![\w<])(?:{_DT})\(")
#: Bare rank-0 type before a name (``fp16 eps =``, ``(fp16 x)``, ``…, int32 i = topk``).
_DECL = re.compile(rf"(?:^|[(,])\s*(?:{_DT})\s+[A-Za-z_][\w@]*\s*[=,)]")
#: ``dict<string, …>`` (buildInfo): dialect B writes ``dict<tensor<string, []>, …>``.
_DICT = re.compile(rf"\bdict<\s*(?:{_DT})\s*,")
_STRING_LITERAL = re.compile(r'"[^"\n]*"')


def dialect_a_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of every line of ``text`` using a dialect-A-only spelling (comments and string
    contents ignored)."""
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        code = _STRING_LITERAL.sub('""', line.split("//", 1)[0])
        if _LITERAL.search(code) or _DECL.search(code) or _DICT.search(code):
            out.append((i, line.strip()))
    return out


@rule(
    "dialect-mix",
    severity="error",
    target="any",
    source="docs/internals/mil-format.md §3 (dialect table) and §11 rule 2 (iOS18 syntax under program(1.0) -> "
        "InvalidMILProgram)",
    summary="program(1.0) text using dialect-A (iOS18) spellings (checked only when the text is given)",
)
def dialect_mix(ctx: Context) -> Iterator[Diagnostic]:
    text = ctx.text
    if text is None:
        return
    if ctx.text_header() != "1.0":
        return
    lines = dialect_a_lines(text)
    if lines:
        first_line, first = lines[0]
        yield Diagnostic(
            "dialect-mix",
            "error",
            f"program(1.0) text uses dialect-A (iOS18) spellings on {len(lines)} line(s), first: {first[:120]}",
            None,
            None,
            first_line,
            "spell rank-0 types and literals as tensor<T, []> under program(1.0), or use program(1.3) with "
            "ios18; Program.to_mil() writes the right dialect",
        )
