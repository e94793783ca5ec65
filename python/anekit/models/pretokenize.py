"""Pre-tokenizer splits of byte-level BPE vocabularies, written as scanners over Unicode categories.

A byte-level BPE tokenizer first cuts text into pieces with a regular expression and runs BPE inside each piece.
The expressions (GPT-2's, llama-3's) use ``\\p{L}`` and ``\\p{N}``, which Python's ``re`` lacks, so each one is
implemented here as a hand-written scanner that takes, at every position, the first alternative of the expression
that matches, with the same greediness and backtracking (the comments quote the alternative each branch is).

``\\p{L}`` is the Unicode categories L*, ``\\p{N}`` is N*, and ``\\s`` is the Unicode ``White_Space`` property (what
Oniguruma, the engine of Hugging Face ``tokenizers``, and llama.cpp's ``unicode.cpp`` use; ``str.isspace`` also
counts U+001C..U+001F, which are not white space there).

Which split a vocabulary needs is named by the GGUF key ``tokenizer.ggml.pre``; :data:`PRE_TOKENIZERS` maps the
names anekit knows (llama.cpp's ``llama-vocab.cpp`` lists the expression of each) to a split.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

__all__ = ["PRE_TOKENIZERS", "gpt2_split", "llama3_split", "pre_tokenizer", "qwen2_split", "smollm_split"]

#: The Unicode White_Space property (PropList.txt): what ``\s`` matches in Oniguruma and llama.cpp.
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "L"


def _is_number(ch: str) -> bool:
    return unicodedata.category(ch)[0] == "N"


def _is_space(ch: str) -> bool:
    return ch in _WHITE_SPACE


def _is_other(ch: str) -> bool:
    """``[^\\s\\p{L}\\p{N}]``."""
    return not (_is_space(ch) or _is_letter(ch) or _is_number(ch))


def _run(text: str, i: int, pred: Callable[[str], bool]) -> int:
    """The end of the run of characters satisfying ``pred`` that starts at ``i``."""
    n = len(text)
    while i < n and pred(text[i]):
        i += 1
    return i


def _contraction(text: str, i: int, *, ignore_case: bool) -> int:
    """``'s|'t|'re|'ve|'m|'ll|'d`` (case-insensitive for llama-3): the end of the match, or ``i``."""
    if text[i] != "'":
        return i
    for c in _CONTRACTIONS:
        piece = text[i : i + len(c)]
        if piece == c or (ignore_case and piece.lower() == c):
            return i + len(c)
    return i


def _trailing_space(text: str, i: int) -> int:
    """``\\s+(?!\\S)|\\s+`` at a white-space character ``i``: the end of the match.

    The greedy run backs off one character when a non-space follows it, leaving that character (usually a space)
    to prefix the next word; a single white-space character before a non-space is matched alone by ``\\s+``.
    """
    end = _run(text, i, _is_space)
    if end < len(text) and end - i > 1:
        return end - 1
    return end


def gpt2_split(text: str) -> list[str]:
    """GPT-2's split: ``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+``."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        end = _contraction(text, i, ignore_case=False)
        if end == i:
            j = i + 1 if text[i] == " " and i + 1 < n else i  # the optional leading space of the next three
            for pred in (_is_letter, _is_number, _is_other):
                if pred(text[j]):
                    end = _run(text, j, pred)
                    break
            else:
                end = _trailing_space(text, i)  # text[i] is white space here (" " before a space, or other)
        out.append(text[i:end])
        i = end
    return out


def _llama3_like(text: str, max_digits: int) -> list[str]:
    r"""llama-3's split, with numbers cut into groups of at most ``max_digits``::

    (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+
    |\s+(?!\S)|\s+
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        end = _contraction(text, i, ignore_case=True)
        if end > i:
            pass
        elif _is_letter(ch):  # [^\r\n\p{L}\p{N}]?\p{L}+ without the optional prefix
            end = _run(text, i, _is_letter)
        elif ch not in "\r\n" and not _is_number(ch) and i + 1 < n and _is_letter(text[i + 1]):  # ... with it
            end = _run(text, i + 1, _is_letter)
        elif _is_number(ch):  # \p{N}{1,3}
            end = i
            while end < n and end - i < max_digits and _is_number(text[end]):
                end += 1
        elif _is_other(ch) or (ch == " " and i + 1 < n and _is_other(text[i + 1])):  # ?[^\s\p{L}\p{N}]+[\r\n]*
            end = _run(text, _run(text, i + 1 if ch == " " else i, _is_other), lambda c: c in "\r\n")
        else:  # white space
            run_end = _run(text, i, _is_space)
            newline = max(text.rfind("\r", i, run_end), text.rfind("\n", i, run_end))
            # \s*[\r\n]+: the greedy \s* backs off to the last line break of the run.
            end = newline + 1 if newline >= 0 else _trailing_space(text, i)
        out.append(text[i:end])
        i = end
    return out


def llama3_split(text: str) -> list[str]:
    """llama-3's split (numbers in groups of up to three digits)."""
    return _llama3_like(text, 3)


def qwen2_split(text: str) -> list[str]:
    """Qwen2's split: llama-3's with every digit on its own."""
    return _llama3_like(text, 1)


def _digits_then(split: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    """Every ``\\p{N}`` character on its own, then ``split`` on the text between them (llama.cpp applies its
    ``regex_exprs`` in sequence; Hugging Face writes the same as ``Digits(individual_digits=True)`` first)."""

    def run(text: str) -> list[str]:
        out: list[str] = []
        start = 0
        for i, ch in enumerate(text):
            if _is_number(ch):
                if start < i:
                    out.extend(split(text[start:i]))
                out.append(ch)
                start = i + 1
        if start < len(text):
            out.extend(split(text[start:]))
        return out

    return run


#: SmolLM's and StarCoder's split: ``\p{N}`` alone, then GPT-2's.
smollm_split = _digits_then(gpt2_split)

#: ``tokenizer.ggml.pre`` value -> split (llama.cpp's ``llama-vocab.cpp`` names; "default" and "gpt-2" are GPT-2's).
PRE_TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "default": gpt2_split,
    "gpt-2": gpt2_split,
    "gpt2": gpt2_split,
    "smollm": smollm_split,
    "starcoder": smollm_split,
    "refact": smollm_split,
    "codeshell": smollm_split,
    "llama3": llama3_split,
    "llama-v3": llama3_split,
    "llama-bpe": llama3_split,
    "smaug-bpe": llama3_split,
    "dbrx": llama3_split,
    "falcon3": llama3_split,
    "qwen2": qwen2_split,
    "deepseek-r1-qwen": qwen2_split,
}


def pre_tokenizer(name: str | None) -> Callable[[str], list[str]]:
    """The split named ``name`` (a ``tokenizer.ggml.pre`` value; None or missing means GPT-2's).

    Raises:
        TokenizerError: a name anekit does not implement (the message lists the ones it does).
    """
    from ..errors import TokenizerError

    if name is None:
        return gpt2_split
    try:
        return PRE_TOKENIZERS[name]
    except KeyError:
        raise TokenizerError(
            f"tokenizer.ggml.pre is {name!r}, a pre-tokenizer anekit does not implement; "
            f"supported: {', '.join(sorted(PRE_TOKENIZERS))}"
        ) from None
