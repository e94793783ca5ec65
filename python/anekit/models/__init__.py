"""Whole models built from :mod:`anekit.nn` blocks."""

from __future__ import annotations

from .llama import Llama, LlamaConfig, LlamaWeights

__all__ = ["Llama", "LlamaConfig", "LlamaWeights"]
