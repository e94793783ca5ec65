"""anekit.models.safetensors_loader against checkpoints written by transformers' save_pretrained (safetensors, one
file or shards), compared with torch's own tensors and with transformers' logits."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from anekit.models import Llama, load_hf_checkpoint, read_safetensors

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def _tiny_llama(dtype: torch.dtype, *, tied: bool) -> transformers.LlamaForCausalLM:
    cfg = transformers.LlamaConfig(
        vocab_size=300,
        hidden_size=128,
        intermediate_size=192,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=tied,
        max_position_embeddings=256,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():  # HF's init (std 0.02) makes near-uniform logits; widen them
            p.copy_(torch.randn_like(p) * (p.shape[-1] ** -0.5 if p.ndim == 2 else 0.1) + (1.0 if p.ndim == 1 else 0))
    return model.to(dtype)


@pytest.mark.parametrize(("dtype", "tied", "shard"), [(torch.bfloat16, True, None), (torch.float32, False, "60KB")])
def test_checkpoint_loads_torch_tensors_exactly_and_matches_transformers_logits(
    tmp_path: Path, dtype: torch.dtype, tied: bool, shard: str | None
) -> None:
    hf = _tiny_llama(dtype, tied=tied)
    kwargs = {"max_shard_size": shard} if shard else {}
    hf.save_pretrained(tmp_path, safe_serialization=True, **kwargs)
    if shard:
        assert (tmp_path / "model.safetensors.index.json").is_file()
        assert len(list(tmp_path.glob("*.safetensors"))) > 1
    config, weights = load_hf_checkpoint(tmp_path, max_context=64)
    assert (config.layers, config.dim, config.heads, config.kv_heads, config.hidden) == (3, 128, 4, 2, 192)
    assert config.tie_embeddings is tied and config.eps == 1e-5
    sd = {k: v.float().numpy() for k, v in hf.state_dict().items()}  # bf16 -> fp32 is exact on both sides
    np.testing.assert_array_equal(weights.layers[2].wk, sd["model.layers.2.self_attn.k_proj.weight"])
    np.testing.assert_array_equal(weights.layers[0].w_down, sd["model.layers.0.mlp.down_proj.weight"])
    np.testing.assert_array_equal(weights.lm_head, sd["model.embed_tokens.weight" if tied else "lm_head.weight"])

    ids = [5, 17, 250, 3, 99, 42]
    with Llama(config, weights, backend="reference") as model:
        ours = model.prefill(ids, model.new_cache()).astype(np.float64)
    with torch.no_grad():
        ref = hf.double()(torch.tensor([ids])).logits[0, -1].numpy()
    cos = float(ours @ ref / (np.linalg.norm(ours) * np.linalg.norm(ref)))
    assert cos > 0.999, cos
    assert int(ours.argmax()) == int(ref.argmax())
    assert np.max(np.abs(ours - ref)) < 0.03 * np.max(np.abs(ref))


def _write_raw(path: Path, header: dict, data: bytes, *, length: int | None = None) -> Path:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


def test_reader_handles_every_dtype_and_metadata(tmp_path: Path) -> None:
    bf = np.array([1.5, -2.25, 3e-3], np.float32)
    bf_bits = (bf.view(np.uint32) >> 16).astype("<u2")  # exact bf16 values (low halves zero)
    blobs = {
        "a": ("F16", np.array([[1.0, -0.5]], "<f2")),
        "b": ("BF16", bf_bits),
        "c": ("I64", np.array([7, -8], "<i8")),
        "d": ("U8", np.array([1, 2, 3], "u1")),
        "e": ("F64", np.array([0.1], "<f8")),
    }
    header: dict = {"__metadata__": {"format": "pt"}}
    data, at = b"", 0
    for name, (dt, arr) in blobs.items():
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [at, at + arr.nbytes]}
        data += arr.tobytes()
        at += arr.nbytes
    got = read_safetensors(_write_raw(tmp_path / "t.safetensors", header, data))
    assert sorted(got) == ["a", "b", "c", "d", "e"]
    assert got["a"].dtype == np.float32 and got["a"].tolist() == [[1.0, -0.5]]
    assert got["b"].dtype == np.float32 and np.array_equal(got["b"], (bf_bits.astype(np.uint32) << 16).view(np.float32))
    assert got["c"].tolist() == [7, -8] and got["d"].tolist() == [1, 2, 3] and got["e"].tolist() == [0.1]


def test_malformed_files_are_refused(tmp_path: Path) -> None:
    ok = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    with pytest.raises(FileNotFoundError):
        read_safetensors(tmp_path / "missing.safetensors")
    (tmp_path / "short.safetensors").write_bytes(b"123")
    with pytest.raises(ValueError, match="8-byte header length"):
        read_safetensors(tmp_path / "short.safetensors")
    with pytest.raises(ValueError, match="header in a"):
        read_safetensors(_write_raw(tmp_path / "len.safetensors", ok, bytes(8), length=10**6))
    with pytest.raises(ValueError, match="do not hold F32"):
        read_safetensors(_write_raw(tmp_path / "off.safetensors", ok, bytes(4)))
    bad = {"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}
    with pytest.raises(ValueError, match="unsupported dtype"):
        read_safetensors(_write_raw(tmp_path / "dt.safetensors", bad, bytes(2)))
    with pytest.raises(ValueError, match="expected dtype, shape"):
        read_safetensors(_write_raw(tmp_path / "keys.safetensors", {"w": {"dtype": "F32"}}, b""))
    (tmp_path / "json.safetensors").write_bytes(struct.pack("<Q", 4) + b"{no}")
    with pytest.raises(ValueError, match="not JSON"):
        read_safetensors(tmp_path / "json.safetensors")


def test_checkpoint_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_hf_checkpoint(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        load_hf_checkpoint(tmp_path)
    hf = _tiny_llama(torch.float32, tied=True)
    hf.save_pretrained(tmp_path, safe_serialization=True)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "rope_scaling": {"type": "linear", "factor": 2.0}}))
    with pytest.raises(ValueError, match="rope_scaling"):
        load_hf_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "model_type": "mistral"}))
    with pytest.raises(ValueError, match="only 'llama'"):
        load_hf_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "num_hidden_layers": 4}))
    with pytest.raises(ValueError, match=r"missing model\.layers\.3\."):
        load_hf_checkpoint(tmp_path)
    # Before: a bare KeyError('hidden_size'), a JSONDecodeError, and LlamaConfig's own TypeError for a typo.
    (tmp_path / "config.json").write_text(json.dumps({k: v for k, v in cfg.items() if k != "hidden_size"}))
    with pytest.raises(ValueError, match=r"config\.json has no hidden_size"):
        load_hf_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not JSON"):
        load_hf_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(TypeError, match=r"load_hf_checkpoint: unexpected keyword argument.* max_ctx"):
        load_hf_checkpoint(tmp_path, max_ctx=64)
