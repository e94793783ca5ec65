"""anekit: program Apple's Neural Engine directly."""

from __future__ import annotations

from .errors import (
    AneUnavailableError,
    AnekitError,
    CompileBudgetExceeded,
    CompileError,
    EvaluateError,
    MILError,
    MILParseError,
)

__version__ = "0.1.0"

__all__ = [
    "AneUnavailableError",
    "AnekitError",
    "CompileBudgetExceeded",
    "CompileError",
    "EvaluateError",
    "MILError",
    "MILParseError",
    "__version__",
]
