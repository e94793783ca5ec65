"""Tokenizer: kinds, texts and positions; the comment-free fast scan agrees with the general one."""

from __future__ import annotations

import itertools

import pytest
from _corpus import CORPUS
from hypothesis import given, settings
from hypothesis import strategies as st

from anekit.errors import MILParseError
from anekit.mil.text.lexer import _TOKEN_RE, _kind, tokenize


def _general(source: str) -> tuple[list[str], list[int]]:
    """Texts and starts from the general scan (whitespace and comments as group 1), as tokenize keeps them."""
    pairs = _TOKEN_RE.findall(source)
    texts = [p[1] for p in pairs]
    starts = list(itertools.accumulate(map(len, itertools.chain.from_iterable(pairs)), initial=0))[1::2]
    while len(texts) > 1 and texts[-2] == "":
        texts.pop()
        starts.pop()
    return texts, starts


def test_kinds_texts_and_positions() -> None:
    src = 'tensor<fp16, [1, ?]> x = f(a = -0x1.8p+1, b = "s", c = 1e-3) -> [y];\n'
    toks = tokenize(src)
    assert toks.kinds == [
        "tt", "id", "=", "id", "(", "id", "=", "hex", ",", "id", "=", "str", ",",
        "id", "=", "num", ")", "->", "[", "id", "]", ";", "eof",
    ]  # fmt: skip
    assert toks.texts[0] == "tensor<fp16, [1, ?]>"
    assert [src[s : s + len(t)] for s, t in zip(toks.starts, toks.texts, strict=True)] == toks.texts
    assert toks.start(7) == src.index("-0x") and toks.ends[7] == src.index(", b")
    assert toks.line_col(toks.start(22)) == (2, 1)


def test_comments_take_the_general_scan() -> None:
    src = "a // comment ( [\n  b//x\n"
    toks = tokenize(src)
    assert toks.texts == ["a", "b", ""]
    assert toks.starts == [0, 19, len(src)]


@pytest.mark.parametrize("bundle", CORPUS, ids=lambda p: p.name)
def test_fast_scan_matches_the_general_scan_on_the_corpus(bundle) -> None:
    src = (bundle / "model.mil").read_text()
    assert "//" not in src  # the fast path is the one under test
    toks = tokenize(src)
    assert (toks.texts, toks.starts) == _general(src)
    commented = "// header\n" + src  # the same text through the general path
    shifted = tokenize(commented)
    assert shifted.texts == toks.texts
    assert shifted.starts == [s + len("// header\n") for s in toks.starts]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab_0x1.e+-<>[](){},=;?"@ \t\n\u00a0\u2028/*')), max_size=60))
def test_fast_and_general_scans_agree(src: str) -> None:
    texts, starts = _general(src)
    bad = next((i for i, t in enumerate(texts) if _kind(t) == "bad"), None)  # the general scan's first bad token
    if bad is None:
        toks = tokenize(src)
        assert (toks.texts, toks.starts) == (texts, starts)
        return
    with pytest.raises(MILParseError) as info:
        tokenize(src)
    line_start = src.rfind("\n", 0, starts[bad]) + 1
    assert (info.value.line, info.value.col) == (src.count("\n", 0, starts[bad]) + 1, starts[bad] - line_start + 1)


def test_errors_are_positioned() -> None:
    with pytest.raises(MILParseError, match="unterminated string") as info:
        tokenize('a = "open\n')
    assert (info.value.line, info.value.col) == (1, 5)
    with pytest.raises(MILParseError, match="unexpected character") as info:
        tokenize("a\n  $")
    assert (info.value.line, info.value.col) == (2, 3)
    with pytest.raises(MILParseError, match="must be a str"):
        tokenize(b"a")  # type: ignore[arg-type]
