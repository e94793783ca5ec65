"""Llama-architecture weights and configuration from a GGUF file (llama.cpp's format), via the ``gguf`` package.

Tensors are dequantized to float32 on the host by ``gguf.quants.dequantize`` and baked as fp16, or, with
``keep_quantized=True``, the projections stored as ``Q4_0``, ``Q4_1`` or ``Q8_0`` stay compressed in the programs
as :class:`~anekit.nn.QuantizedWeight` (exact MIL ``constexpr`` expressions of those formats, see
:mod:`anekit.nn.quant`); K-quants, F16 and F32 tensors are dequantized either way. The architecture is read
from the file's metadata (``llama.block_count``,
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

from ..nn import DecoderWeights, QuantizedWeight
from ..nn.quant import BLOCK, QUANTIZED_FORMATS
from .llama import LlamaConfig, LlamaWeights, config_from_file

__all__ = ["load_gguf", "read_metadata", "unpermute_rope_rows"]


def unpermute_rope_rows(w: np.ndarray | QuantizedWeight, heads: int) -> np.ndarray | QuantizedWeight:
    """Undo llama.cpp's per-head row order of ``attn_q``/``attn_k`` (interleaved pairs -> rotate-half halves)."""
    rows, cols = w.shape
    if rows % (2 * heads):
        raise ValueError(f"unpermute_rope_rows: {rows} rows do not split into {heads} heads of even size")
    if isinstance(w, QuantizedWeight):  # blocks run along a row, so whole rows move
        return w.take_rows(unpermute_rope_rows(np.arange(rows)[:, None], heads)[:, 0])
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


#: The first four bytes of every GGUF file (llama.cpp's gguf.h ``GGUF_MAGIC``).
_MAGIC = b"GGUF"


def _open(path: str | os.PathLike[str], owner: str) -> Any:
    """A ``gguf.GGUFReader`` on ``path``, or an error naming ``owner``, the file and what is wrong with it."""
    try:
        import gguf
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"{owner} needs the gguf package: pip install 'anekit[llm]'") from exc
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{owner}: no such file {os.fspath(path)!r}")
    with open(path, "rb") as f:
        magic = f.read(len(_MAGIC))
    if magic != _MAGIC:
        # gguf's reader would fail later with a numpy dtype message that names neither the file nor the format.
        raise ValueError(f"{owner}: {os.fspath(path)!r} is not a GGUF file (it starts with {magic!r}, not {_MAGIC!r})")
    try:
        return gguf.GGUFReader(path)
    except (ValueError, IndexError, OSError) as exc:  # a truncated or corrupt file
        raise ValueError(f"{owner}: {os.fspath(path)!r} is not a readable GGUF file ({exc})") from None


def read_metadata(path: str | os.PathLike[str], *, prefix: str = "") -> dict[str, Any]:
    """A GGUF file's metadata whose keys start with ``prefix`` (e.g. ``"tokenizer."``), as plain Python values.

    Raises:
        ImportError: the ``gguf`` package is missing (``pip install 'anekit[llm]'``).
        FileNotFoundError: no such file.
        ValueError: not a GGUF file, or a truncated or corrupt one.
    """
    reader = _open(path, "read_metadata")
    return {k: f.contents() for k, f in reader.fields.items() if k.startswith(prefix)}


def load_gguf(
    path: str | os.PathLike[str], *, keep_quantized: bool = False, **overrides: Any
) -> tuple[LlamaConfig, LlamaWeights]:
    """Read a llama-architecture GGUF file.

    Args:
        path: the ``.gguf`` file.
        keep_quantized: keep ``Q4_0``/``Q4_1``/``Q8_0`` projection weights (and a tied LM head) compressed
            (:class:`~anekit.nn.QuantizedWeight`, decompressed by the programs' ``constexpr`` ops, bit-identical
            to the dequantized fp16 weights); the token embedding is looked up on the host from the same values.
        **overrides: the build settings (:data:`~anekit.models.llama.BUILD_FIELDS`: ``max_context``,
            ``prefill_bucket``, ``layers_per_program``, ``head_chunk``); the architecture comes from the file.

    Returns:
        The configuration (architecture from the metadata) and the weights, dequantized.

    Raises:
        ImportError: the ``gguf`` package is missing (``pip install 'anekit[llm]'``).
        FileNotFoundError: no such file.
        TypeError: an override that is not a build setting.
        ValueError: not a GGUF file, not a llama-architecture one, or metadata or tensors missing.
    """
    import gguf

    reader = _open(path, "load_gguf")
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"load_gguf: {os.fspath(path)!r} is a {arch!r} model; only 'llama' is supported")
    tensors = {t.name: t for t in reader.tensors}

    if not isinstance(keep_quantized, bool):
        raise TypeError(f"load_gguf: keep_quantized must be a bool, got {keep_quantized!r}")

    def tensor(name: str) -> np.ndarray:
        if name not in tensors:
            raise ValueError(f"load_gguf: the file has no tensor {name!r}")
        t = tensors[name]
        data = gguf.quants.dequantize(t.data, t.tensor_type)
        return np.asarray(data, np.float32).reshape(tuple(int(d) for d in reversed(t.shape)))

    def weight(name: str) -> np.ndarray | QuantizedWeight:
        """A projection: compressed when asked and the format has an exact MIL expression, else dequantized."""
        t = tensors.get(name)
        shape = tuple(int(d) for d in reversed(t.shape)) if t is not None else ()
        kept = keep_quantized and t is not None and t.tensor_type.name in QUANTIZED_FORMATS
        if kept and len(shape) == 2 and shape[1] % BLOCK == 0:
            return QuantizedWeight.from_gguf_blocks(t.tensor_type.name, t.data, (shape[0], shape[1]))
        return tensor(name)

    heads = int(_field(reader, "llama.attention.head_count"))
    kv_heads = int(_field(reader, "llama.attention.head_count_kv", heads))
    embed = weight("token_embd.weight")
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
    config = config_from_file(fields, overrides, "load_gguf")
    layers = []
    for i in range(config.layers):
        p = f"blk.{i}."
        layers.append(
            DecoderWeights(
                attn_norm=tensor(p + "attn_norm.weight"),
                wq=unpermute_rope_rows(weight(p + "attn_q.weight"), heads),
                wk=unpermute_rope_rows(weight(p + "attn_k.weight"), kv_heads),
                wv=weight(p + "attn_v.weight"),
                wo=weight(p + "attn_output.weight"),
                ffn_norm=tensor(p + "ffn_norm.weight"),
                w_gate=weight(p + "ffn_gate.weight"),
                w_up=weight(p + "ffn_up.weight"),
                w_down=weight(p + "ffn_down.weight"),
            )
        )
    head = embed if tied else weight("output.weight")
    return config, LlamaWeights(embed, tuple(layers), tensor("output_norm.weight"), head)
