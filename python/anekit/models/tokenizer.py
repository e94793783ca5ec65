"""A byte-level BPE tokenizer built from a GGUF file's metadata, in pure Python (no ``tokenizers`` at run time).

GGUF stores the tokenizer as metadata under llama.cpp's key names (``tokenizer.ggml.model``, ``.tokens``,
``.merges``, ``.token_type``, ``.pre``, the special ids and ``add_bos_token``/``add_eos_token`` flags).
``tokenizer.ggml.model == "gpt2"`` is byte-level BPE, the kind SmolLM2, llama-3, Qwen2 and GPT-2 use:

1. tokens marked CONTROL or USER_DEFINED (``<|im_start|>``, ...) are matched in the text first, longest first, and
   become their ids directly;
2. the text between them is cut by the pre-tokenizer that ``tokenizer.ggml.pre`` names
   (:mod:`anekit.models.pretokenize`);
3. each piece's UTF-8 bytes are spelled in GPT-2's byte alphabet (printable stand-ins such as ``Ġ`` for a space)
   and merged pairwise, lowest merge rank first, into vocabulary tokens. Results are cached per piece.

Decoding maps tokens back to bytes and decodes UTF-8 (an invalid sequence becomes U+FFFD, as Hugging Face does);
:class:`StreamDecoder` does the same one token at a time and never emits half a character.
"""

from __future__ import annotations

import codecs
import itertools
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from ..errors import TokenizerError
from .pretokenize import pre_tokenizer

__all__ = ["SUPPORTED_MODELS", "StreamDecoder", "TokenType", "Tokenizer", "byte_alphabet"]

#: ``tokenizer.ggml.model`` values :class:`Tokenizer` implements.
SUPPORTED_MODELS = ("gpt2",)
#: Pieces whose BPE result is remembered (words repeat; the cache makes re-encoding them a dict lookup).
_BPE_CACHE_SIZE = 65536


class TokenType:
    """``tokenizer.ggml.token_type`` values (llama.cpp's ``llama_token_type``)."""

    NORMAL = 1
    UNKNOWN = 2
    CONTROL = 3
    USER_DEFINED = 4
    UNUSED = 5
    BYTE = 6


@lru_cache(maxsize=1)
def byte_alphabet() -> dict[int, str]:
    """GPT-2's byte -> character map: printable Latin-1 bytes stand for themselves, the other 68 bytes (controls,
    space, ...) for the characters from U+0100 on, in byte order (so a space is ``Ġ``, U+0120)."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(0x100 + extra)
            extra += 1
    return mapping


class Tokenizer:
    """Byte-level BPE: ``encode`` text to token ids and ``decode`` ids to text.

    Args:
        tokens: the vocabulary, index = token id, spelled in the byte alphabet (:func:`byte_alphabet`).
        merges: the merge rules, best first, each ``"left right"``.
        token_types: one :class:`TokenType` per token (default all NORMAL).
        pre: the pre-tokenizer name (``tokenizer.ggml.pre``; None: GPT-2's).
        bos_id, eos_id, unk_id, pad_id: special ids (None: the vocabulary has none).
        add_bos, add_eos: whether ``encode(..., add_special=True)`` adds BOS / EOS.
        eot_ids: further ids that end a turn (``tokenizer.ggml.eot_token_id``, ``eom_token_id``).
        chat_template: the Jinja chat template (``tokenizer.chat_template``), if any.

    Raises:
        TokenizerError: inconsistent arguments (ids out of range, malformed merges, unknown pre-tokenizer).
    """

    def __init__(
        self,
        tokens: Sequence[str],
        merges: Iterable[str],
        *,
        token_types: Sequence[int] | None = None,
        pre: str | None = None,
        bos_id: int | None = None,
        eos_id: int | None = None,
        unk_id: int | None = None,
        pad_id: int | None = None,
        add_bos: bool = False,
        add_eos: bool = False,
        eot_ids: Iterable[int] = (),
        chat_template: str | None = None,
    ) -> None:
        if isinstance(tokens, str) or not tokens or not all(isinstance(t, str) and t for t in tokens):
            raise TokenizerError("Tokenizer: tokens must be a non-empty sequence of non-empty strings")
        self.tokens: tuple[str, ...] = tuple(tokens)
        n = len(self.tokens)
        types = [TokenType.NORMAL] * n if token_types is None else [int(t) for t in token_types]
        if len(types) != n:
            raise TokenizerError(f"Tokenizer: {len(types)} token types for {n} tokens")
        self.token_types: tuple[int, ...] = tuple(types)
        for label, value in (("bos_id", bos_id), ("eos_id", eos_id), ("unk_id", unk_id), ("pad_id", pad_id)):
            if value is not None:
                self._check_id(value, label)
        self.bos_id, self.eos_id, self.unk_id, self.pad_id = bos_id, eos_id, unk_id, pad_id
        self.add_bos, self.add_eos = bool(add_bos), bool(add_eos)
        if self.add_bos and bos_id is None:
            raise TokenizerError("Tokenizer: add_bos is set but the vocabulary has no bos_id")
        if self.add_eos and eos_id is None:
            raise TokenizerError("Tokenizer: add_eos is set but the vocabulary has no eos_id")
        eot = [self._check_id(t, "eot_ids") for t in eot_ids]
        #: Ids that end generation: EOS and the end-of-turn ids, in that order.
        self.stop_ids: tuple[int, ...] = tuple(dict.fromkeys([*([eos_id] if eos_id is not None else []), *eot]))
        self.chat_template = chat_template
        self.pre = pre
        self._split: Callable[[str], list[str]] = pre_tokenizer(pre)

        # Later duplicates win, as in Hugging Face's vocabulary dict.
        self._vocab = {t: i for i, t in enumerate(self.tokens)}
        self._ranks: dict[tuple[str, str], int] = {}
        for rank, merge in enumerate(merges):
            left, sep, right = merge.partition(" ") if isinstance(merge, str) else ("", "", "")
            if not sep or not left or not right or " " in right:
                raise TokenizerError(f"Tokenizer: merge {rank} is {merge!r}, expected 'left right'")
            self._ranks.setdefault((left, right), rank)
        self._bytes_of = {ch: b for b, ch in byte_alphabet().items()}
        self._encode_byte = [byte_alphabet()[b] for b in range(256)]
        self._token_bytes = [self._spell_bytes(t) for t in self.tokens]
        #: Ids of CONTROL tokens: matched whole in text, dropped by ``decode(..., skip_special=True)``.
        self.special_ids = frozenset(i for i, t in enumerate(types) if t == TokenType.CONTROL)
        # CONTROL and USER_DEFINED tokens are matched whole before BPE (llama.cpp's tokenizer_st_partition; Hugging
        # Face adds them as added tokens). A CONTROL token outside the byte alphabet is a llama.cpp mislabel and is
        # left out, as transformers' GGUF loader does.
        alphabet = set(self._bytes_of)
        whole = {
            t: i
            for i, (t, kind) in enumerate(zip(self.tokens, types, strict=True))
            if kind == TokenType.USER_DEFINED or (kind == TokenType.CONTROL and set(t) <= alphabet)
        }
        self._whole = whole
        # Longest first: `re` alternation takes the first alternative that matches, so this is leftmost-longest.
        self._whole_re = (
            re.compile("|".join(re.escape(t) for t in sorted(whole, key=len, reverse=True))) if whole else None
        )
        self._bpe_cache: dict[str, tuple[int, ...]] = {}

    # -- construction -----------------------------------------------------------------------------------------
    @classmethod
    def from_gguf(cls, path: str | os.PathLike[str]) -> Tokenizer:
        """The tokenizer in a GGUF file's metadata.

        Raises:
            TokenizerError: the file's ``tokenizer.ggml.model`` is not one of :data:`SUPPORTED_MODELS`, or its
                tokenizer metadata is missing.
            FileNotFoundError: no such file.
            ValueError: not a GGUF file.
            ImportError: the ``gguf`` package is missing.
        """
        from .gguf_loader import read_metadata

        meta = read_metadata(path, prefix="tokenizer.")
        return cls.from_metadata(meta, source=os.fspath(path))

    @classmethod
    def from_metadata(cls, meta: dict[str, Any], *, source: str = "the metadata") -> Tokenizer:
        """The tokenizer described by GGUF metadata ``meta`` (key -> value, llama.cpp's ``tokenizer.*`` names)."""
        model = meta.get("tokenizer.ggml.model")
        if model not in SUPPORTED_MODELS:
            raise TokenizerError(
                f"{source}: tokenizer.ggml.model is {model!r}; anekit's tokenizer implements "
                f"{', '.join(repr(m) for m in SUPPORTED_MODELS)} (byte-level BPE)"
            )
        for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges"):
            if key not in meta:
                raise TokenizerError(f"{source}: the {model!r} tokenizer needs {key}, which is missing")

        def opt(key: str) -> Any:
            return meta.get(f"tokenizer.ggml.{key}")

        return cls(
            meta["tokenizer.ggml.tokens"],
            meta["tokenizer.ggml.merges"],
            token_types=opt("token_type"),
            pre=opt("pre"),
            bos_id=opt("bos_token_id"),
            eos_id=opt("eos_token_id"),
            unk_id=opt("unknown_token_id"),
            pad_id=opt("padding_token_id"),
            add_bos=bool(opt("add_bos_token") or False),
            add_eos=bool(opt("add_eos_token") or False),
            eot_ids=[t for t in (opt("eot_token_id"), opt("eom_token_id")) if t is not None],
            chat_template=meta.get("tokenizer.chat_template"),
        )

    def _check_id(self, value: Any, label: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(self.tokens):
            raise TokenizerError(f"Tokenizer: {label} must be a token id in [0, {len(self.tokens)}), got {value!r}")
        return value

    def _spell_bytes(self, token: str) -> bytes:
        """A token's bytes: byte-alphabet spelling decoded, or (a token outside the alphabet) its own UTF-8."""
        try:
            return bytes(self._bytes_of[c] for c in token)
        except KeyError:
            return token.encode("utf-8")

    # -- properties -------------------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of tokens."""
        return len(self.tokens)

    def token_id(self, token: str) -> int:
        """The id of ``token`` (spelled as in the vocabulary, e.g. ``"<|im_end|>"``).

        Raises:
            TokenizerError: not in the vocabulary.
        """
        try:
            return self._vocab[token]
        except (KeyError, TypeError):
            raise TokenizerError(f"Tokenizer: {token!r} is not in the vocabulary") from None

    # -- encoding ---------------------------------------------------------------------------------------------
    def encode(self, text: str, *, add_special: bool = True, parse_special: bool = True) -> list[int]:
        """Token ids of ``text``.

        Args:
            text: the text.
            add_special: add BOS / EOS where the vocabulary asks for them (``add_bos_token``/``add_eos_token``), as
                Hugging Face's ``add_special_tokens``; chat templates write their own, so pass False for them.
            parse_special: match special tokens written in the text (``<|im_start|>``) as single ids; False
                tokenizes them as plain text.

        Raises:
            TokenizerError: ``text`` is not a string, or holds bytes no token spells.
        """
        if not isinstance(text, str):
            raise TokenizerError(f"Tokenizer.encode: text must be a str, got {type(text).__name__}")
        ids: list[int] = [self.bos_id] if add_special and self.add_bos and self.bos_id is not None else []
        start = 0
        if parse_special and self._whole_re is not None:
            for m in self._whole_re.finditer(text):
                self._encode_plain(text[start : m.start()], ids)
                ids.append(self._whole[m.group()])
                start = m.end()
        self._encode_plain(text[start:], ids)
        if add_special and self.add_eos and self.eos_id is not None:
            ids.append(self.eos_id)
        return ids

    def _encode_plain(self, text: str, out: list[int]) -> None:
        cache = self._bpe_cache
        for piece in self._split(text) if text else ():
            ids = cache.get(piece)
            if ids is None:
                ids = self._bpe(piece)
                if len(cache) >= _BPE_CACHE_SIZE:
                    cache.clear()  # simple and bounded; refilling costs one BPE per distinct piece
                cache[piece] = ids
            out.extend(ids)

    def _bpe(self, piece: str) -> tuple[int, ...]:
        word = [self._encode_byte[b] for b in piece.encode("utf-8")]
        ranks = self._ranks
        while len(word) > 1:
            best, best_rank = None, None
            for pair in itertools.pairwise(word):
                rank = ranks.get(pair)
                if rank is not None and (best_rank is None or rank < best_rank):
                    best, best_rank = pair, rank
            if best is None:
                break
            merged, i = [], 0
            while i < len(word):  # merge every occurrence of the best pair, left to right
                if i + 1 < len(word) and word[i] == best[0] and word[i + 1] == best[1]:
                    merged.append(best[0] + best[1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        out: list[int] = []
        for symbol in word:
            tid = self._vocab.get(symbol)
            if tid is not None:
                out.append(tid)
                continue
            # A merge result missing from the vocabulary: fall back to its single bytes, then to UNK.
            for ch in symbol:
                tid = self._vocab.get(ch, self.unk_id)
                if tid is None:
                    raise TokenizerError(
                        f"Tokenizer.encode: byte {self._bytes_of[ch]:#04x} of {piece!r} has no token and the "
                        "vocabulary has no unknown-token id"
                    )
                out.append(tid)
        return tuple(out)

    # -- chat -------------------------------------------------------------------------------------------------
    @property
    def special_tokens(self) -> dict[str, str | None]:
        """``bos_token``, ``eos_token``, ``unk_token``, ``pad_token``: the texts chat templates may use."""
        ids = {"bos_token": self.bos_id, "eos_token": self.eos_id, "unk_token": self.unk_id, "pad_token": self.pad_id}
        return {name: (self.tokens[i] if i is not None else None) for name, i in ids.items()}

    def render_chat(
        self, messages: Sequence[Mapping[str, Any]], *, add_generation_prompt: bool = True, **variables: Any
    ) -> str:
        """The prompt text of ``messages`` (``[{"role": ..., "content": ...}, ...]``) by the model's chat template,
        as transformers' ``apply_chat_template(..., tokenize=False)`` renders it.

        Raises:
            TokenizerError: no chat template, malformed messages, or the template failed.
        """
        from .chat_template import render_chat

        return render_chat(
            self.chat_template or "",
            messages,
            add_generation_prompt=add_generation_prompt,
            special_tokens=self.special_tokens,
            **variables,
        )

    def encode_chat(
        self, messages: Sequence[Mapping[str, Any]], *, add_generation_prompt: bool = True, **variables: Any
    ) -> list[int]:
        """Token ids of :meth:`render_chat`'s text (the template writes its own special tokens, so no BOS/EOS is
        added), as transformers' ``apply_chat_template(..., tokenize=True)``."""
        text = self.render_chat(messages, add_generation_prompt=add_generation_prompt, **variables)
        return self.encode(text, add_special=False)

    # -- decoding ---------------------------------------------------------------------------------------------
    def _ids(self, ids: Iterable[int], owner: str) -> list[int]:
        try:
            out = [int(i) for i in ids]
        except (TypeError, ValueError):
            raise TokenizerError(f"{owner}: expected a sequence of token ids, got {ids!r}") from None
        bad = [i for i in out if not 0 <= i < len(self.tokens)]
        if bad:
            raise TokenizerError(f"{owner}: token ids must be in [0, {len(self.tokens)}), got {bad[:5]}")
        return out

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes token ``token_id`` stands for (a special token: its text)."""
        (tid,) = self._ids([token_id], "Tokenizer.token_bytes")
        return self._token_bytes[tid]

    def decode(self, ids: Iterable[int], *, skip_special: bool = False) -> str:
        """The text of ``ids``; ``skip_special`` leaves CONTROL tokens (``<|im_end|>``, ...) out.

        Raises:
            TokenizerError: an id outside the vocabulary.
        """
        ids = self._ids(ids, "Tokenizer.decode")
        special = self.special_ids if skip_special else frozenset()
        data = b"".join(self._token_bytes[i] for i in ids if i not in special)
        return data.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, pre={self.pre!r}, merges={len(self._ranks)})"


class StreamDecoder:
    """Decodes a stream of token ids into text pieces, holding back the bytes of a character that is not complete.

    ``push(id)`` returns the text that became complete with that token (possibly ``""``: the first bytes of a
    multi-byte character); joined with ``flush()`` at the end, the pieces equal ``tokenizer.decode(ids)``.

    Args:
        tokenizer: the tokenizer.
        skip_special: leave CONTROL tokens out of the text.
    """

    def __init__(self, tokenizer: Tokenizer, *, skip_special: bool = True) -> None:
        if not isinstance(tokenizer, Tokenizer):
            raise TokenizerError(f"StreamDecoder: expected a Tokenizer, got {type(tokenizer).__name__}")
        self._tokenizer = tokenizer
        self._skip = tokenizer.special_ids if skip_special else frozenset()
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token_id: int) -> str:
        """The text completed by ``token_id``."""
        data = self._tokenizer.token_bytes(token_id)
        if token_id in self._skip:
            return ""
        return self._utf8.decode(data)

    def flush(self) -> str:
        """Whatever is held back at the end of the stream (U+FFFD for an incomplete character)."""
        return self._utf8.decode(b"", final=True)
