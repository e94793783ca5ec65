"""MIL text in and out: ``lexer`` -> ``parse_values`` / ``literals`` -> ``parser`` (text -> Program, then
``parse_check`` types it) and ``emitter`` (Program -> text + weight layout).
"""

from __future__ import annotations

from .emitter import emit, layout_weights
from .parser import load, parse, read_mil_text

__all__ = ["emit", "layout_weights", "load", "parse", "read_mil_text"]
