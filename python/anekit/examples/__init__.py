"""Ready-made MIL programs used by the demo, the benchmarks and the tests."""

from __future__ import annotations

from .transformer import transformer_block

__all__ = ["transformer_block"]
