"""anekit.models.pretokenize: the scanners cut text exactly where the regular expressions they implement do (cases
worked out by hand from the expressions; the oracle comparison on the real vocabulary is in test_tokenizer.py)."""

from __future__ import annotations

import pytest

from anekit.errors import TokenizerError
from anekit.models.pretokenize import gpt2_split, llama3_split, pre_tokenizer, qwen2_split, smollm_split


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("Hello world", ["Hello", " world"]),
        # \s+(?!\S) backs off one space, which then prefixes the word; trailing spaces stay together.
        ("a   b  ", ["a", "  ", " b", "  "]),
        ("x\n\ny", ["x", "\n", "\n", "y"]),  # a line break is not the optional " " prefix
        ("it's I'M 'll", ["it", "'s", " I", "'", "M", " '", "ll"]),  # contractions are case-sensitive in GPT-2
        (" 2024 ab12", [" 2024", " ab", "12"]),
        ("f(x)==y!?", ["f", "(", "x", ")==", "y", "!?"]),
        ("tab\tx", ["tab", "\t", "x"]),
        ("é日本 😀", ["é日本", " 😀"]),
        ("\u00a0\u3000z", ["\u00a0", "\u3000", "z"]),  # Unicode white space (U+00A0, U+3000) is \s
        ("\x1cq", ["\x1c", "q"]),  # U+001C is not White_Space (str.isspace says it is)
        ("", []),
    ],
)
def test_gpt2_split(text: str, pieces: list[str]) -> None:
    assert gpt2_split(text) == pieces


def test_smollm_split_isolates_every_number_character_first() -> None:
    assert smollm_split("a 2024 b²\n\n1.") == ["a", " ", "2", "0", "2", "4", " b", "²", "\n\n", "1", "."]
    # After the digits are cut out, the run of line breaks is at the end of its fragment: kept whole.
    assert gpt2_split("\n\n1.") == ["\n", "\n", "1", "."]


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("I'M here", ["I", "'M", " here"]),  # case-insensitive contractions
        ("12345 x", ["123", "45", " x"]),  # numbers in threes
        ("(hello)", ["(hello", ")"]),  # one non-letter prefix joins the word
        ("a\n\n  b", ["a", "\n\n", " ", " b"]),  # \s*[\r\n]+ ends at the last line break
        ("x;\n\ny", ["x", ";\n\n", "y"]),  # punctuation takes the line breaks after it
        ("tail  ", ["tail", "  "]),
    ],
)
def test_llama3_split(text: str, pieces: list[str]) -> None:
    assert llama3_split(text) == pieces


def test_qwen2_split_is_llama3_with_single_digits() -> None:
    assert qwen2_split("x 12345") == ["x", " ", "1", "2", "3", "4", "5"]


def test_unknown_pre_tokenizer_names_the_supported_ones() -> None:
    assert pre_tokenizer(None) is gpt2_split
    assert pre_tokenizer("smollm") is smollm_split
    with pytest.raises(TokenizerError, match=r"'mystery'.*supported: .*llama-bpe.*smollm"):
        pre_tokenizer("mystery")


@pytest.mark.parametrize("name", ["gpt2", "llama3", "qwen2"])
def test_scanners_agree_with_hugging_face_regex_engine(name: str) -> None:
    """The expressions themselves, run by Hugging Face tokenizers' Oniguruma engine, on random mixtures of the
    characters each branch of the scanners tells apart."""
    import random

    pre_tokenizers = pytest.importorskip("tokenizers.pre_tokenizers")
    from tokenizers import Regex

    expressions = {
        "gpt2": r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
        "llama3": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
        r"|\s*[\r\n]+|\s+(?!\S)|\s+",
        "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
        r"|\s*[\r\n]+|\s+(?!\S)|\s+",
    }
    split = pre_tokenizers.Split(Regex(expressions[name]), behavior="isolated")
    ours = {"gpt2": gpt2_split, "llama3": llama3_split, "qwen2": qwen2_split}[name]
    rng = random.Random(1)
    parts = [" ", "  ", "\n", "\r\n", "\t", "a", "Bc", "'s", "'S", "'ll", "'x", "1", "12345", "é", "日本", "😀"]
    parts += ["!", "(", ";", "\u00a0", "\u2028", "\x1c", "²", "Ⅻ", "\u0301"]
    for _ in range(2000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(1, 15)))
        assert ours(text) == [p for p, _ in split.pre_tokenize_str(text)], repr(text)
