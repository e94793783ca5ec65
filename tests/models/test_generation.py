"""anekit.models.generation and load_llm on a small random llama (test_llama's) with the tiny vocabulary: greedy
matches the torch reference, streaming, stop tokens, sampling reproducibility, timings and compile accounting."""

from __future__ import annotations

from pathlib import Path

import pytest
from _tiny_vocab import tiny_tokenizer, write_metadata
from test_llama import CONFIG, _state_dict, _torch_greedy

from anekit.errors import TokenizerError
from anekit.models import LLM, GenerationResult, Llama, LlamaWeights, SamplingParams, load_llm
from anekit.models.generation import generate

torch = pytest.importorskip("torch")

PROMPT = [5, 17, 250, 3]


@pytest.fixture(scope="module")
def model_and_sd() -> tuple[Llama, dict]:
    sd = _state_dict(CONFIG, seed=0)
    return Llama(CONFIG, LlamaWeights.from_state_dict(sd, CONFIG), backend="reference"), sd


def test_greedy_generation_matches_torch_and_streams_every_token(model_and_sd: tuple[Llama, dict]) -> None:
    model, sd = model_and_sd
    tok = tiny_tokenizer()
    seen: list[tuple[int, str]] = []
    result = generate(model, PROMPT, max_new_tokens=6, tokenizer=tok, on_token=lambda i, p: seen.append((i, p)))
    assert result.ids == _torch_greedy(sd, CONFIG, PROMPT, 6)
    assert [i for i, _ in seen] == result.ids
    assert "".join(p for _, p in seen) == result.text == tok.decode(result.ids, skip_special=True)
    assert result.stop_reason == "max_tokens" and result.prompt_ids == PROMPT
    assert result.compiles == 0  # every kernel was compiled with the model
    assert result.prefill_seconds > 0 and result.decode_seconds > 0
    assert result.prefill_tokens_per_s == pytest.approx(4 / result.prefill_seconds)
    assert result.decode_tokens_per_s == pytest.approx(5 / result.decode_seconds)
    assert result.time_to_first_token == result.prefill_seconds
    assert "decode" in result.summary() and "0 compiles while generating" in result.summary()
    assert model.generate(PROMPT, 6) == result.ids  # Llama.generate delegates, greedy by default


def test_a_stop_token_ends_the_generation_and_is_kept(model_and_sd: tuple[Llama, dict]) -> None:
    model, _ = model_and_sd
    full = generate(model, PROMPT, max_new_tokens=6).ids
    stopped = generate(model, PROMPT, max_new_tokens=6, stop_tokens=[full[2]])
    assert stopped.ids == full[: full.index(full[2]) + 1]
    assert stopped.stop_reason == "stop_token"
    assert generate(model, PROMPT, max_new_tokens=0).ids == []


def test_sampling_is_reproducible_and_differs_from_greedy(model_and_sd: tuple[Llama, dict]) -> None:
    model, _ = model_and_sd
    hot = SamplingParams(temperature=5.0, seed=7)
    a = generate(model, PROMPT, max_new_tokens=8, sampling=hot).ids
    assert a == generate(model, PROMPT, max_new_tokens=8, sampling=hot).ids
    assert a != generate(model, PROMPT, max_new_tokens=8).ids


def test_bad_requests_are_refused(model_and_sd: tuple[Llama, dict]) -> None:
    model, _ = model_and_sd
    with pytest.raises(ValueError, match="exceed max_context"):
        generate(model, [1] * 60, max_new_tokens=10)
    with pytest.raises(ValueError, match="max_new_tokens must be an int"):
        generate(model, PROMPT, max_new_tokens=-1)
    with pytest.raises(ValueError, match="encode it first"):
        generate(model, "hello", max_new_tokens=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prompt_ids is empty"):
        generate(model, [], max_new_tokens=1)
    with pytest.raises(ValueError, match=r"in \[0, 300\)"):
        generate(model, [300], max_new_tokens=1)
    with pytest.raises(TypeError, match="on_token must be callable"):
        generate(model, PROMPT, max_new_tokens=1, on_token="print")  # type: ignore[arg-type]


def test_numpy_counts_and_ids_are_accepted(model_and_sd: tuple[Llama, dict]) -> None:
    """Before: ``max_new_tokens=np.int64(2)`` was refused as "not an int"."""
    import numpy as np

    model, _ = model_and_sd
    want = generate(model, PROMPT, max_new_tokens=2, stop_tokens=[7]).ids
    assert generate(model, PROMPT, max_new_tokens=np.int64(2), stop_tokens=np.array([7])).ids == want


@pytest.mark.parametrize("stop", [7, "12", [3.0], [-1], [True]])
def test_stop_tokens_that_are_not_ids_are_refused(model_and_sd: tuple[Llama, dict], stop: object) -> None:
    """A bare id, a string or non-int ids name the argument (before: "'int' object is not iterable", or "12"
    silently read as the ids 1 and 2)."""
    model, _ = model_and_sd
    with pytest.raises(ValueError, match="stop_tokens must"):
        generate(model, PROMPT, max_new_tokens=1, stop_tokens=stop)  # type: ignore[arg-type]


def test_an_interrupted_stream_leaves_the_model_usable(model_and_sd: tuple[Llama, dict]) -> None:
    """Ctrl-C in the streaming callback (a KeyboardInterrupt mid-generation) propagates, and the next generation
    gives the same tokens as an uninterrupted one: every generation starts from a fresh K/V cache."""
    model, _ = model_and_sd
    want = generate(model, PROMPT, max_new_tokens=5).ids
    seen: list[int] = []

    def interrupt(token: int, _piece: str) -> None:
        seen.append(token)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(model, PROMPT, max_new_tokens=5, on_token=interrupt)
    assert seen == want[:3]
    assert generate(model, PROMPT, max_new_tokens=5).ids == want


def write_tiny_llm(path: Path, sd: dict) -> None:
    """test_gguf_loader's llama GGUF of ``sd`` with the tiny vocabulary's tokenizer metadata."""
    from test_gguf_loader import _write

    _write(path, sd, tokenizer=write_metadata)


def test_load_llm_chats_with_the_file_tokenizer_and_counts_compiles(tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    pytest.importorskip("jinja2")
    sd = _state_dict(CONFIG, seed=0)
    write_tiny_llm(tmp_path / "tiny.gguf", sd)
    with load_llm(tmp_path / "tiny.gguf", backend="reference", max_context=64, layers_per_program=2) as llm:
        assert isinstance(llm, LLM) and llm.tokenizer.vocab_size == 300
        # The same programs as the module's model (same weights): served by the content cache, nothing compiled.
        assert llm.load_stats is not None
        assert llm.load_stats.compiles + llm.load_stats.cache_hits == CONFIG.program_count
        assert llm.load_stats.cache_misses == llm.load_stats.compiles
        messages = [{"role": "user", "content": "hello world"}]
        ids = llm.tokenizer.encode_chat(messages)
        header = llm.tokenizer.encode("<|im_start|>assistant\n")
        assert ids[:1] == [1] and ids[-len(header) :] == header
        result = llm.chat(messages, max_new_tokens=4)
        assert isinstance(result, GenerationResult) and result.load is llm.load_stats
        assert result.prompt_ids == ids
        assert result.ids == _torch_greedy(sd, CONFIG, ids, len(result.ids))
        plain = llm.generate("hello", max_new_tokens=3, temperature=0.8, seed=1)
        assert plain.prompt_ids == llm.tokenizer.encode("hello")
        assert plain.ids == llm.generate("hello", max_new_tokens=3, temperature=0.8, seed=1).ids
        with pytest.raises(TypeError, match="either sampling= or its fields"):
            llm.generate("hello", sampling=SamplingParams(), temperature=1.0)
        with pytest.raises(ValueError, match="non-empty str"):
            llm.generate("")
        with pytest.raises(ValueError, match=r"LLM\.chat: the message must be a non-blank str"):
            llm.chat(" \n")
        with pytest.raises(TokenizerError, match="has role 'usr'"):
            llm.chat([{"role": "usr", "content": "hello"}])


def test_load_llm_refuses_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_llm(tmp_path / "none.gguf")


def test_a_closed_model_says_so(tmp_path: Path) -> None:
    """After the ``with`` block, generating names the model as closed (an anekit error), not a kernel's
    RuntimeError; the backend the kernels were compiled for is reported."""
    from anekit.errors import EvaluateError

    model = Llama(CONFIG, LlamaWeights.from_state_dict(_state_dict(CONFIG, seed=0), CONFIG), backend="reference")
    assert model.backend == "reference" and not model.closed
    model.close()
    assert model.closed
    with pytest.raises(EvaluateError, match=r"Llama\.prefill: the model is closed"):
        generate(model, PROMPT, max_new_tokens=1)
    with pytest.raises(EvaluateError, match=r"Llama\.decode: the model is closed"):
        model.decode(1, 0, model.new_cache())


def test_time_in_the_callback_is_not_counted(
    model_and_sd: tuple[Llama, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clock that only the callback advances: whatever the callback takes, the phases measure none of it."""
    import types

    from anekit.models import generation

    clock = [0.0]
    monkeypatch.setattr(generation, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))

    def slow(_id: int, _piece: str) -> None:
        clock[0] += 10.0

    model, _ = model_and_sd
    result = generate(model, PROMPT, max_new_tokens=3, on_token=slow)
    assert clock[0] == 30.0
    assert result.prefill_seconds == 0.0 and result.decode_seconds == 0.0
