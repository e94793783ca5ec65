"""anekit.models.gguf_loader: a small llama GGUF written here with the gguf package (F32 and Q4_1 tensors, Q/K rows
permuted the way llama.cpp's converter stores them) loads back into the same model."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_llama import CONFIG, _agree, _state_dict, _torch_logits

from anekit.models import Llama
from anekit.models.gguf_loader import load_gguf, unpermute_rope_rows
from anekit.nn import QuantizedWeight

gguf = pytest.importorskip("gguf")
torch = pytest.importorskip("torch")

_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def _permute(w: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's convert_hf_to_gguf permutation of q/k rows (the inverse of unpermute_rope_rows)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)


def _write(
    path: Path,
    sd: dict[str, torch.Tensor],
    quantize: Collection[str] | Mapping[str, str] = (),
    tokenizer: Callable[[Any], None] | None = None,
) -> None:
    """Write ``sd`` as a llama GGUF; tensors named in ``quantize`` are stored as Q4_1 (or as the type it maps
    them to); ``tokenizer(writer)`` adds tokenizer metadata."""
    types = dict(quantize) if isinstance(quantize, Mapping) else dict.fromkeys(quantize, "Q4_1")
    c = CONFIG
    w = gguf.GGUFWriter(str(path), "llama")
    if tokenizer is not None:
        tokenizer(w)
    w.add_block_count(c.layers)
    w.add_embedding_length(c.dim)
    w.add_feed_forward_length(c.hidden)
    w.add_head_count(c.heads)
    w.add_head_count_kv(c.kv_heads)
    w.add_layer_norm_rms_eps(c.eps)
    w.add_rope_freq_base(c.rope_theta)
    w.add_context_length(2048)

    def put(name: str, t: torch.Tensor) -> None:
        a = t.float().numpy()
        if name in types:
            qtype = getattr(gguf.GGMLQuantizationType, types[name])
            q = gguf.quants.quantize(a, qtype)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)
        else:
            w.add_tensor(name, a)

    put("token_embd.weight", sd["model.embed_tokens.weight"])
    put("output_norm.weight", sd["model.norm.weight"])
    put("output.weight", sd["lm_head.weight"])
    for i in range(c.layers):
        for hf, gg in _NAMES.items():
            t = sd[f"model.layers.{i}.{hf}"]
            if gg == "attn_q.weight":
                t = torch.from_numpy(_permute(t.numpy(), c.heads))
            elif gg == "attn_k.weight":
                t = torch.from_numpy(_permute(t.numpy(), c.kv_heads))
            put(f"blk.{i}.{gg}", t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_unpermute_inverts_llama_cpp_order() -> None:
    w = np.arange(8 * 3 * 5, dtype=np.float32).reshape(24, 5)
    np.testing.assert_array_equal(unpermute_rope_rows(_permute(w, 3), 3), w)
    with pytest.raises(ValueError, match="even size"):
        unpermute_rope_rows(np.zeros((9, 2)), 3)


def test_f32_gguf_loads_the_same_weights_and_logits(tmp_path: Path) -> None:
    sd = _state_dict(CONFIG, seed=1)
    _write(tmp_path / "m.gguf", sd)
    config, weights = load_gguf(tmp_path / "m.gguf", max_context=CONFIG.max_context, layers_per_program=2)
    assert config == CONFIG
    np.testing.assert_array_equal(weights.layers[1].wq, sd["model.layers.1.self_attn.q_proj.weight"].float().numpy())
    np.testing.assert_array_equal(weights.layers[2].wk, sd["model.layers.2.self_attn.k_proj.weight"].float().numpy())
    model = Llama(config, weights, backend="reference")
    ids = [5, 17, 250, 3]
    _agree(model.prefill(ids, model.new_cache()).astype(np.float64), _torch_logits(sd, CONFIG, ids)[-1])


def test_q4_1_tensors_dequantize_within_a_block_step(tmp_path: Path) -> None:
    sd = _state_dict(CONFIG, seed=3)
    _write(tmp_path / "q.gguf", sd, quantize={"blk.0.ffn_up.weight", "blk.1.attn_q.weight"})
    _, weights = load_gguf(tmp_path / "q.gguf", max_context=CONFIG.max_context)
    for got, key in (
        (weights.layers[0].w_up, "model.layers.0.mlp.up_proj.weight"),
        (weights.layers[1].wq, "model.layers.1.self_attn.q_proj.weight"),
    ):
        want = sd[key].float().numpy()
        # Q4_1: 16 levels between each 32-wide block's min and max, so the error is at most half a step
        # (plus fp16 rounding of the block scale and minimum).
        blocks = want.reshape(want.shape[0], -1, 32)
        step = ((blocks.max(-1) - blocks.min(-1)) / 15).repeat(32, axis=1)
        assert np.all(np.abs(got - want) <= 0.51 * step + 1e-2 * np.abs(want) + 1e-6)
        assert not np.array_equal(got, want)  # really quantized


def test_keep_quantized_keeps_q4_and_q8_blocks_with_bit_identical_logits(tmp_path: Path) -> None:
    sd = _state_dict(CONFIG, seed=4)
    kinds = {"token_embd.weight": "Q8_0", "output.weight": "Q8_0", "blk.0.attn_q.weight": "Q4_0"}
    kinds |= {f"blk.{i}.{n}": "Q4_1" for i in range(CONFIG.layers) for n in ("attn_k.weight", "ffn_up.weight")}
    kinds |= {"blk.1.ffn_gate.weight": "Q4_1", "blk.2.ffn_down.weight": "Q8_0", "blk.2.attn_v.weight": "Q5_0"}
    _write(tmp_path / "q.gguf", sd, quantize=kinds)
    opts = {"max_context": CONFIG.max_context, "layers_per_program": 2}
    _, dense = load_gguf(tmp_path / "q.gguf", **opts)
    config, kept = load_gguf(tmp_path / "q.gguf", keep_quantized=True, **opts)
    assert isinstance(kept.embed, QuantizedWeight) and kept.embed.source == "Q8_0"
    assert isinstance(kept.layers[0].wq, QuantizedWeight) and kept.layers[0].wq.source == "Q4_0"
    assert isinstance(kept.layers[2].wk, QuantizedWeight) and kept.layers[2].wk.source == "Q4_1"  # rows unpermuted
    assert isinstance(kept.layers[2].wv, np.ndarray)  # Q5_0 has no exact constexpr form here: dequantized
    assert isinstance(kept.layers[0].attn_norm, np.ndarray)
    for got, want in ((kept.layers[0].wq, dense.layers[0].wq), (kept.layers[2].wk, dense.layers[2].wk)):
        np.testing.assert_array_equal(got.dequantize(), want.astype(np.float16))
    a = Llama(config, kept, backend="reference")
    b = Llama(config, dense, backend="reference")
    def constexprs(name: str) -> list[str]:
        return [op.op_type for op in a.programs[name].main.operations if op.op_type.startswith("constexpr")]

    # Layers 0-1: q (Q4_0), k (Q4_1) twice, layer 1's fused gate+up (both Q4_1); layer 0's up joins an F32 gate
    # in one conv, so that pair is fp16. Layer 2: k (Q4_1) and down (Q8_0). Head: the Q8_0 output weight.
    assert sorted(constexprs("decode0")) == ["constexpr_blockwise_shift_scale"] + ["constexpr_lut_to_dense"] * 3
    assert sorted(constexprs("prefill1")) == ["constexpr_blockwise_shift_scale", "constexpr_lut_to_dense"]
    assert constexprs("head") == ["constexpr_blockwise_shift_scale"]
    ids = [5, 17, 250, 3, 99]
    np.testing.assert_array_equal(a.prefill(ids, a.new_cache()), b.prefill(ids, b.new_cache()))


def test_bad_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_gguf(tmp_path / "missing.gguf")
    w = gguf.GGUFWriter(str(tmp_path / "g.gguf"), "gpt2")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(ValueError, match="only 'llama'"):
        load_gguf(tmp_path / "g.gguf")


def test_only_build_settings_override_the_file(tmp_path: Path) -> None:
    """Before: a typo reached LlamaConfig ("__init__() got an unexpected keyword argument"), and an architecture
    field such as dim replaced the file's and failed later against the weights."""
    _write(tmp_path / "m.gguf", _state_dict(CONFIG, seed=0))
    with pytest.raises(TypeError, match=r"load_gguf: unexpected keyword argument.* max_ctx; the architecture is read"):
        load_gguf(tmp_path / "m.gguf", max_ctx=64)
    with pytest.raises(TypeError, match=r"argument.* dim;"):
        load_gguf(tmp_path / "m.gguf", dim=32)
    assert load_gguf(tmp_path / "m.gguf", max_context=40)[0].max_context == 64


def test_files_that_are_not_gguf_are_named(tmp_path: Path) -> None:
    """Before: gguf's reader failed with a numpy dtype message that named neither the file nor the format."""
    from anekit.models import Tokenizer

    text = tmp_path / "model.safetensors"
    text.write_bytes(b"not a gguf file at all, but long enough to be read")
    with pytest.raises(ValueError, match=r"load_gguf: .*model\.safetensors' is not a GGUF file"):
        load_gguf(text)
    with pytest.raises(ValueError, match=r"read_metadata: .* is not a GGUF file"):
        Tokenizer.from_gguf(text)
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(b"GGUF\x03\x00\x00\x00garbage")
    with pytest.raises(ValueError, match="is not a readable GGUF file"):
        load_gguf(truncated)
