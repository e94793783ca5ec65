"""ANE-friendly neural-network blocks emitting MIL in the ``[1, C, 1, S]`` fp16 layout.

Every block takes the :class:`~anekit.mil.Builder` and input Vars and returns Vars, so blocks compose inside one
``@mil.program``. The ANE rules of :mod:`anekit.nn.rules` are applied by construction.
"""

from __future__ import annotations

from .attention import attention, causal_mask
from .decoder import DecoderDims, DecoderWeights, KVCache, decoder_block
from .ffn import gelu_ffn, swiglu
from .linear import dynamic_linear, linear, linear_chunks, pack_dynamic_input, weight_input_shape
from .norm import layer_norm, rms_norm, rms_norm_trainable
from .quant import QUANTIZED_FORMATS, QuantizedWeight
from .rope import apply_rope, rope_tables
from .rules import MASK_VALUE, MAX_CHANNELS, SAFE_SPATIAL, channel_chunks, pad_spatial
from .weights import state_dict_arrays

__all__ = [
    "MASK_VALUE",
    "MAX_CHANNELS",
    "QUANTIZED_FORMATS",
    "SAFE_SPATIAL",
    "DecoderDims",
    "DecoderWeights",
    "KVCache",
    "QuantizedWeight",
    "apply_rope",
    "attention",
    "causal_mask",
    "channel_chunks",
    "decoder_block",
    "dynamic_linear",
    "gelu_ffn",
    "layer_norm",
    "linear",
    "linear_chunks",
    "pack_dynamic_input",
    "pad_spatial",
    "rms_norm",
    "rms_norm_trainable",
    "rope_tables",
    "state_dict_arrays",
    "swiglu",
    "weight_input_shape",
]
