"""Whole models built from :mod:`anekit.nn` blocks, and what running a language model needs around them.

``anekit.models.load_llm`` loads a llama GGUF file with its tokenizer and chat template (needs the ``llm`` extra);
``anekit.models.gguf_loader.load_gguf`` reads just the configuration and weights;
``anekit.models.safetensors_loader.load_hf_checkpoint`` reads Hugging Face llama checkpoint folders (numpy only).
"""

from __future__ import annotations

from .generation import CompileStats, GenerationResult
from .llama import Llama, LlamaConfig, LlamaWeights
from .llm import LLM, load_llm
from .safetensors_loader import load_hf_checkpoint, read_safetensors
from .sampling import SamplingParams
from .tokenizer import StreamDecoder, Tokenizer

__all__ = [
    "LLM",
    "CompileStats",
    "GenerationResult",
    "Llama",
    "LlamaConfig",
    "LlamaWeights",
    "SamplingParams",
    "StreamDecoder",
    "Tokenizer",
    "load_hf_checkpoint",
    "load_llm",
    "read_safetensors",
]
