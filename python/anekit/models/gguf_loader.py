"""Llama-architecture weights and configuration from a GGUF file (llama.cpp's format), via the ``gguf`` package.

Tensors are dequantized to float32 on the host by ``gguf.quants.dequantize`` and baked as fp16: no format stays
quantized on the ANE yet. The architecture is read from the file's metadata (``llama.block_count``,
``llama.embedding_length``, ...), so any llama-family GGUF loads. ``gguf`` is the ``llm`` extra; it is imported
only when a file is loaded.

llama.cpp's converter stores ``attn_q``/``attn_k`` with each head's rows reordered for its interleaved-pair
RoPE (``convert_hf_to_gguf.py``, ``LlamaModel.permute``); :func:`load_gguf` undoes that, so the weights are in the
Hugging Face "rotate half" order that :mod:`anekit.nn.rope` uses.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..nn import DecoderWeights
from .llama import LlamaConfig, LlamaWeights

__all__ = ["load_gguf", "read_metadata", "unpermute_rope_rows"]


def unpermute_rope_rows(w: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's per-head row order of ``attn_q``/``attn_k`` (interleaved pairs -> rotate-half halves)."""
    rows, cols = w.shape
    if rows % (2 * heads):
        raise ValueError(f"unpermute_rope_rows: {rows} rows do not split into {heads} heads of even size")
    return w.reshape(heads, rows // heads // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)


def _field(reader: Any, key: str, default: Any = None) -> Any:
    f = reader.fields.get(key)
    if f is None:
        if default is None:
            raise ValueError(f"load_gguf: the file has no {key!r} metadata")
        return default
    return f.contents()


def _f32(value: Any) -> float:
    """A float32 metadata value as the decimal its writer meant (1e-05, not 9.999999747378752e-06)."""
    return float(str(np.float32(value)))


def read_metadata(path: str | os.PathLike[str], *, prefix: str = "") -> dict[str, Any]:
    """A GGUF file's metadata whose keys start with ``prefix`` (e.g. ``"tokenizer."``), as plain Python values.

    Raises:
        ImportError: the ``gguf`` package is missing (``pip install 'anekit[llm]'``).
        FileNotFoundError: no such file.
    """
    try:
        import gguf
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("read_metadata needs the gguf package: pip install 'anekit[llm]'") from exc
    if not os.path.isfile(path):
        raise FileNotFoundError(f"read_metadata: no such file {os.fspath(path)!r}")
    reader = gguf.GGUFReader(path)
    return {k: f.contents() for k, f in reader.fields.items() if k.startswith(prefix)}


def load_gguf(path: str | os.PathLike[str], **overrides: Any) -> tuple[LlamaConfig, LlamaWeights]:
    """Read a llama-architecture GGUF file.

    Args:
        path: the ``.gguf`` file.
        **overrides: :class:`LlamaConfig` fields to set instead of the defaults (``max_context``,
            ``prefill_bucket``, ``layers_per_program``, ...).

    Returns:
        The configuration (architecture from the metadata) and the weights, dequantized.

    Raises:
        ImportError: the ``gguf`` package is missing (``pip install 'anekit[llm]'``).
        ValueError: not a llama-architecture file, or metadata or tensors missing.
    """
    try:
        import gguf
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("load_gguf needs the gguf package: pip install 'anekit[llm]'") from exc
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_gguf: no such file {os.fspath(path)!r}")
    reader = gguf.GGUFReader(path)
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"load_gguf: {os.fspath(path)!r} is a {arch!r} model; only 'llama' is supported")
    tensors = {t.name: t for t in reader.tensors}

    def tensor(name: str) -> np.ndarray:
        if name not in tensors:
            raise ValueError(f"load_gguf: the file has no tensor {name!r}")
        t = tensors[name]
        data = gguf.quants.dequantize(t.data, t.tensor_type)
        return np.asarray(data, np.float32).reshape(tuple(int(d) for d in reversed(t.shape)))

    heads = int(_field(reader, "llama.attention.head_count"))
    kv_heads = int(_field(reader, "llama.attention.head_count_kv", heads))
    embed = tensor("token_embd.weight")
    tied = "output.weight" not in tensors
    fields = {
        "vocab_size": int(embed.shape[0]),
        "dim": int(_field(reader, "llama.embedding_length")),
        "layers": int(_field(reader, "llama.block_count")),
        "heads": heads,
        "kv_heads": kv_heads,
        "hidden": int(_field(reader, "llama.feed_forward_length")),
        "eps": _f32(_field(reader, "llama.attention.layer_norm_rms_epsilon", 1e-5)),
        "rope_theta": _f32(_field(reader, "llama.rope.freq_base", 10000.0)),
        "tie_embeddings": tied,
    }
    config = LlamaConfig(**{**fields, **overrides})
    layers = []
    for i in range(config.layers):
        p = f"blk.{i}."
        layers.append(
            DecoderWeights(
                attn_norm=tensor(p + "attn_norm.weight"),
                wq=unpermute_rope_rows(tensor(p + "attn_q.weight"), heads),
                wk=unpermute_rope_rows(tensor(p + "attn_k.weight"), kv_heads),
                wv=tensor(p + "attn_v.weight"),
                wo=tensor(p + "attn_output.weight"),
                ffn_norm=tensor(p + "ffn_norm.weight"),
                w_gate=tensor(p + "ffn_gate.weight"),
                w_up=tensor(p + "ffn_up.weight"),
                w_down=tensor(p + "ffn_down.weight"),
            )
        )
    head = embed if tied else tensor("output.weight")
    return config, LlamaWeights(embed, tuple(layers), tensor("output_norm.weight"), head)
