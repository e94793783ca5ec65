"""Reading a program without running it: ``summary`` (op counts, parameters, weight bytes), ``flops``
(estimated FLOPs per op) and ``compare`` (structural difference of two programs).
"""

from __future__ import annotations

from .summary import ProgramSummary, summarize

__all__ = ["ProgramSummary", "summarize"]
