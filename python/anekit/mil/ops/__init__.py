"""MIL op specs, one module per category; importing this package registers every op exactly once."""

from __future__ import annotations

from ._spec import OP_REGISTRY, OPSETS, InferContext, InputSpec, OpSpec, get_spec, opset_index, register_op

__all__ = ["OPSETS", "OP_REGISTRY", "InferContext", "InputSpec", "OpSpec", "get_spec", "opset_index", "register_op"]
