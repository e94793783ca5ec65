"""Whole models built from :mod:`anekit.nn` blocks.

``anekit.models.gguf_loader.load_gguf`` reads llama GGUF files (needs the ``llm`` extra).
"""

from __future__ import annotations

from .llama import Llama, LlamaConfig, LlamaWeights

__all__ = ["Llama", "LlamaConfig", "LlamaWeights"]
