"""Hugging Face llama checkpoints: ``config.json`` plus ``*.safetensors`` (one file, or shards listed by
``model.safetensors.index.json``), read with numpy alone.

The safetensors format (huggingface/safetensors, "Format" in its README): an 8-byte little-endian unsigned header
length ``N``, ``N`` bytes of JSON mapping each tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}``
(offsets relative to the first byte after the header; an optional ``"__metadata__"`` entry of strings), then the
raw little-endian, row-major data. Files are memory-mapped, so a tensor is read when it is converted.
bf16 widens exactly to float32 (its 16 bits are the high half of a float32).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .llama import LlamaConfig, LlamaWeights, config_from_file

__all__ = ["load_hf_checkpoint", "read_safetensors"]

#: safetensors dtype names -> numpy little-endian dtypes (bf16 is read as uint16 and widened).
_DTYPES: dict[str, str] = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}
#: Largest header the reader accepts (the reference implementation's limit is 100 MB).
_MAX_HEADER = 100_000_000


def _bad(path: Path, what: str) -> ValueError:
    return ValueError(f"read_safetensors: {os.fspath(path)!r} {what}")


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """All tensors of one ``.safetensors`` file: float types as float32 (bf16 and f16 widened exactly, f64 kept),
    integer and bool types as they are.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a well-formed safetensors file (header size, JSON, a dtype, shape or offsets that do not
            fit the data), naming the file and the tensor.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"read_safetensors: no such file {os.fspath(p)!r}")
    size = p.stat().st_size
    with p.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise _bad(p, "is shorter than the 8-byte header length")
        n = int.from_bytes(head, "little")
        if n < 2 or n > min(_MAX_HEADER, size - 8):
            raise _bad(p, f"declares a {n}-byte header in a {size}-byte file")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _bad(p, f"has a header that is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _bad(p, "has a header that is not a JSON object")
    header.pop("__metadata__", None)
    start, data_size = 8 + n, size - 8 - n
    raw = np.memmap(p, np.uint8, mode="r", offset=start, shape=(data_size,)) if data_size else np.empty(0, np.uint8)
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], [int(d) for d in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise _bad(p, f"tensor {name!r}: expected dtype, shape and data_offsets, got {info!r}") from None
        if dtype not in _DTYPES:
            raise _bad(p, f"tensor {name!r}: unsupported dtype {dtype!r} (expected one of {sorted(_DTYPES)})")
        np_dtype = np.dtype(_DTYPES[dtype])
        count = math.prod(shape)
        if any(d < 0 for d in shape) or not (isinstance(begin, int) and isinstance(end, int)):
            raise _bad(p, f"tensor {name!r}: bad shape {shape} or offsets {[begin, end]}")
        if not 0 <= begin <= end <= data_size or end - begin != count * np_dtype.itemsize:
            raise _bad(
                p,
                f"tensor {name!r}: offsets [{begin}, {end}] do not hold {dtype}{shape} "
                f"({count * np_dtype.itemsize} bytes) inside the {data_size}-byte data section",
            )
        arr = raw[begin:end].view(np_dtype).reshape(shape)
        if dtype == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        elif dtype in ("F16", "F32"):
            arr = arr.astype(np.float32)
        else:
            arr = np.array(arr)  # a copy: nothing returned keeps the file mapped
        out[name] = arr
    return out


def _files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"load_hf_checkpoint: {index} has no weight_map ({exc})") from None
        names = sorted(set(weight_map.values()))
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise FileNotFoundError(f"load_hf_checkpoint: shards listed in {index.name} are missing: {missing}")
        return [folder / n for n in names]
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    found = sorted(folder.glob("*.safetensors"))
    if not found:
        raise FileNotFoundError(f"load_hf_checkpoint: no *.safetensors in {os.fspath(folder)!r}")
    return found


def _config(folder: Path, overrides: dict[str, Any]) -> LlamaConfig:
    path = folder / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"load_hf_checkpoint: no config.json in {os.fspath(folder)!r}")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"load_hf_checkpoint: {os.fspath(path)!r} is not JSON ({exc})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"load_hf_checkpoint: {os.fspath(path)!r} is not a JSON object")
    if cfg.get("model_type") != "llama":
        raise ValueError(f"load_hf_checkpoint: model_type is {cfg.get('model_type')!r}; only 'llama' is supported")
    # Variants the blocks do not implement: refuse them rather than compute something else.
    unsupported = {
        "hidden_act": (cfg.get("hidden_act", "silu"), "silu"),
        "attention_bias": (bool(cfg.get("attention_bias", False)), False),
        "mlp_bias": (bool(cfg.get("mlp_bias", False)), False),
        "rope_scaling": (cfg.get("rope_scaling"), None),
    }
    for key, (got, want) in unsupported.items():
        if got != want:
            raise ValueError(f"load_hf_checkpoint: config.json {key}={got!r} is not supported (only {want!r})")
    required = ("num_attention_heads", "hidden_size", "vocab_size", "num_hidden_layers", "intermediate_size")
    missing = [k for k in required if k not in cfg]
    if missing:
        raise ValueError(f"load_hf_checkpoint: config.json has no {', '.join(missing)}")
    heads = int(cfg["num_attention_heads"])
    dim = int(cfg["hidden_size"])
    if cfg.get("head_dim") not in (None, dim // heads):
        raise ValueError(f"load_hf_checkpoint: head_dim {cfg['head_dim']} differs from hidden_size / heads")
    fields = {
        "vocab_size": int(cfg["vocab_size"]),
        "dim": dim,
        "layers": int(cfg["num_hidden_layers"]),
        "heads": heads,
        "kv_heads": int(cfg.get("num_key_value_heads") or heads),
        "hidden": int(cfg["intermediate_size"]),
        "eps": float(cfg.get("rms_norm_eps", 1e-6)),
        "rope_theta": float(cfg.get("rope_theta", 10000.0)),
        "tie_embeddings": bool(cfg.get("tie_word_embeddings", False)),
    }
    return config_from_file(fields, overrides, "load_hf_checkpoint")


def load_hf_checkpoint(folder: str | os.PathLike[str], **overrides: Any) -> tuple[LlamaConfig, LlamaWeights]:
    """Read a Hugging Face ``LlamaForCausalLM`` checkpoint folder (as ``save_pretrained`` writes it).

    Args:
        folder: holds ``config.json`` and ``model.safetensors``, or shards with ``model.safetensors.index.json``.
        **overrides: the build settings (:data:`~anekit.models.llama.BUILD_FIELDS`: ``max_context``, ...); the
            architecture comes from config.json.

    Raises:
        FileNotFoundError: the folder, its config or a listed shard is missing.
        TypeError: an override that is not a build setting.
        ValueError: not a llama config, an unsupported variant, a malformed file, or missing tensors.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"load_hf_checkpoint: no such folder {os.fspath(root)!r}")
    config = _config(root, overrides)
    sd: dict[str, np.ndarray] = {}
    for f in _files(root):
        sd.update(read_safetensors(f))
    try:
        return config, LlamaWeights.from_state_dict(sd, config)
    except KeyError as exc:
        raise ValueError(f"load_hf_checkpoint: {os.fspath(root)!r}: {exc.args[0]}") from None
