"""Tokenizer for MIL text (docs/internals/mil-format.md §4): whitespace-insensitive, ``//`` comments, hex/decimal
floats.

Tokens are kept in three parallel lists (kind, text, offset) for speed, ending with one ``eof`` token.
Punctuation tokens use the character itself as kind. ``tensor<dtype, [dims]>`` written without nested
comments is returned as one ``tt`` token, because it is by far the most frequent construct and the parser
caches its parsed type by text.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re

from ...errors import MILParseError

__all__ = ["Tokens", "excerpt", "tokenize"]

# One match per token: leading whitespace/comments (group 1) and the token (group 2). ``re.findall`` runs the
# whole scan in C; kinds are then derived from the token's first character, positions from the lengths.
# Punctuation, the most frequent kind, is tried first (the alternatives do not overlap, except that
# ``tensor<…>`` must precede identifiers and the catch-all ``.`` comes last).
_TOKEN = r"""(
      [()\[\]{}<>,=;?]
    | tensor\s*<\s*[A-Za-z_][A-Za-z0-9_]*\s*,\s*\[[^\]\[<>()]*\]\s*>
    | [A-Za-z_][A-Za-z0-9_@]*
    | "[^"]*"
    | [-+]?0[xX][0-9a-fA-F]*(?:\.[0-9a-fA-F]*)?[pP][-+]?[0-9]+
    | [-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?
    | ->
    | .
    | \Z
    )"""
_TOKEN_RE = re.compile(r"(\s*(?://[^\n]*\s*)*)" + _TOKEN, re.VERBOSE | re.DOTALL)
# The same scan for text without ``//`` comments, as whole matches (whitespace + token) without groups: a list
# of strings is much cheaper to build than one of tuples (and gives the garbage collector nothing to track).
_PLAIN_TOKEN_RE = re.compile(r"\s*(?:" + _TOKEN[1:], re.VERBOSE | re.DOTALL)

_PUNCT = frozenset("()[]{}<>,=;?")
_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NUM_START = frozenset("0123456789.+-")


def _kind(text: str) -> str:
    c = text[:1]
    if c in _IDENT_START:
        return "tt" if text[-1] == ">" else "id"
    if c in _PUNCT:
        return c
    if c == '"':
        return "str" if len(text) > 1 else "bad"
    if c in _NUM_START:
        if text == "->" or text == "-":
            return text
        if len(text) == 1 and c in "+.":
            return "bad"
        return "hex" if "x" in text or "X" in text else "num"
    return "eof" if not text else "bad"


class _KindCache(dict):
    """token text -> kind, computed once per distinct text (most tokens repeat)."""

    def __missing__(self, text: str) -> str:
        kind = _kind(text)
        self[text] = kind
        return kind


class Tokens:
    """Token stream over one source text.

    Attributes:
        kinds: token kinds (``id``, ``str``, ``hex``, ``num``, ``tt``, ``->``, or the punctuation char; ``eof``).
        texts: token texts.
        ends: character offsets just after each token (:meth:`start` gives where a token starts).
        source: the original text.
    """

    __slots__ = ("_newlines", "ends", "kinds", "source", "texts")

    def __init__(self, source: str, kinds: list[str], texts: list[str], ends: list[int]) -> None:
        self.source = source
        self.kinds = kinds
        self.texts = texts
        self.ends = ends
        self._newlines: list[int] | None = None

    def start(self, i: int) -> int:
        """Character offset of token ``i`` (only positions that are reported are ever computed)."""
        return self.ends[i] - len(self.texts[i])

    @property
    def starts(self) -> list[int]:
        """Character offset of every token."""
        return list(map(operator.sub, self.ends, map(len, self.texts)))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.source)]
        line = bisect.bisect_left(self._newlines, offset)
        line_start = self._newlines[line - 1] + 1 if line else 0
        return line + 1, offset - line_start + 1

    def error(self, message: str, offset: int) -> MILParseError:
        """A MILParseError at ``offset`` with line, column and caret excerpt."""
        line, col = self.line_col(offset)
        return MILParseError(message, line=line, col=col, excerpt=excerpt(self.source, line, col))


def excerpt(source: str, line: int, col: int, width: int = 120) -> str:
    """The source line (clipped to ``width`` around ``col``) and a caret line under ``col``."""
    lines = source.split("\n")
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    start = 0 if len(text) <= width else max(0, min(col - 1 - width // 2, len(text) - width))
    clipped = text[start : start + width]
    prefix = "..." if start else ""
    return f"{prefix}{clipped}\n{' ' * (len(prefix) + col - 1 - start)}^"


def tokenize(source: str) -> Tokens:
    """Split ``source`` into tokens.

    Raises:
        MILParseError: an unterminated string or a character that cannot start a token.
    """
    if not isinstance(source, str):
        raise MILParseError(f"MIL text must be a str, got {type(source).__name__}")
    if "//" in source:
        pairs = _TOKEN_RE.findall(source)
        texts = list(map(operator.itemgetter(1), pairs))
        ends = list(itertools.accumulate(map(len, itertools.chain.from_iterable(pairs)), initial=0))[2::2]
    else:
        # Each match is leading whitespace + token, so the token is the match without its leading whitespace
        # (``\s`` and ``str.lstrip`` strip the same characters) and ends where the match ends.
        matches = _PLAIN_TOKEN_RE.findall(source)
        texts = list(map(str.lstrip, matches))
        ends = list(itertools.accumulate(map(len, matches)))
    cache = _KindCache()  # per call: no module-level mutable state
    kinds = list(map(cache.__getitem__, texts))
    toks = Tokens(source, kinds, texts, ends)
    if "bad" in cache.values():  # the distinct kinds only, not every token
        i = kinds.index("bad")
        if texts[i] == '"':
            raise toks.error("unterminated string literal", toks.start(i))
        raise toks.error(f"unexpected character {texts[i]!r}", toks.start(i))
    # The scan ends with the empty end-of-text match, twice when the text ends with whitespace: keep one.
    while len(kinds) > 1 and kinds[-2] == "eof":
        kinds.pop()
        texts.pop()
        ends.pop()
    return toks
