"""Whole models built from :mod:`anekit.nn` blocks.

``anekit.models.gguf_loader.load_gguf`` reads llama GGUF files (needs the ``llm`` extra);
``anekit.models.safetensors_loader.load_hf_checkpoint`` reads Hugging Face llama checkpoint folders (numpy only).
"""

from __future__ import annotations

from .llama import Llama, LlamaConfig, LlamaWeights
from .safetensors_loader import load_hf_checkpoint, read_safetensors

__all__ = ["Llama", "LlamaConfig", "LlamaWeights", "load_hf_checkpoint", "read_safetensors"]
