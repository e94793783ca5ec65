"""A tiny byte-level BPE vocabulary for fast tokenizer tests, and a writer of its GGUF metadata."""

from __future__ import annotations

from typing import Any

from anekit.models.tokenizer import Tokenizer, TokenType, byte_alphabet

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["h e", "l l", "he ll", "hell o", "Ġ w", "Ġw o", "Ġwo r", "Ġwor l", "Ġworl d", "Ġ Ġ", "ĠĠ ĠĠ"]
#: Unused padding tokens bring the vocabulary to this size (the random test model's vocabulary).
SIZE = 300
CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tokens_and_types() -> tuple[list[str], list[int]]:
    merged = [m.replace(" ", "") for m in MERGES]
    tokens = SPECIAL + [byte_alphabet()[b] for b in range(256)] + merged
    types = [TokenType.CONTROL] * len(SPECIAL) + [TokenType.NORMAL] * (len(tokens) - len(SPECIAL))
    pad = SIZE - len(tokens)
    return tokens + [f"<unused{i}>" for i in range(pad)], types + [TokenType.UNUSED] * pad


def metadata(**changes: Any) -> dict[str, Any]:
    """GGUF ``tokenizer.*`` metadata of the tiny vocabulary (``changes`` replace keys, None removes one)."""
    tokens, types = tokens_and_types()
    meta: dict[str, Any] = {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "smollm",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.merges": MERGES,
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0,
        "tokenizer.ggml.padding_token_id": 2,
        "tokenizer.ggml.add_bos_token": False,
        "tokenizer.chat_template": CHAT_TEMPLATE,
    }
    meta.update(changes)
    return {k: v for k, v in meta.items() if v is not None}


def tiny_tokenizer(**changes: Any) -> Tokenizer:
    return Tokenizer.from_metadata(metadata(**changes))


def write_metadata(writer: Any) -> None:
    """Add the tiny vocabulary's tokenizer metadata to a ``gguf.GGUFWriter``."""
    meta = metadata()
    writer.add_tokenizer_model(meta["tokenizer.ggml.model"])
    writer.add_tokenizer_pre(meta["tokenizer.ggml.pre"])
    writer.add_token_list(meta["tokenizer.ggml.tokens"])
    writer.add_token_types(meta["tokenizer.ggml.token_type"])
    writer.add_token_merges(meta["tokenizer.ggml.merges"])
    writer.add_bos_token_id(meta["tokenizer.ggml.bos_token_id"])
    writer.add_eos_token_id(meta["tokenizer.ggml.eos_token_id"])
    writer.add_unk_token_id(meta["tokenizer.ggml.unknown_token_id"])
    writer.add_pad_token_id(meta["tokenizer.ggml.padding_token_id"])
    writer.add_add_bos_token(False)
    writer.add_chat_template(meta["tokenizer.chat_template"])
