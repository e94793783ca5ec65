"""anekit.mil: build, parse, validate and write MIL programs (text + weight blobs).

``anekit.mil.ops()`` lists the registered ops (the ``ops`` subpackage is callable); ``validate`` checks a
program (``Program.check()`` raises on errors); ``summarize`` counts ops, parameters, weights and FLOPs.
"""

from __future__ import annotations

from . import ops as _ops  # noqa: F401  (registers every op spec once)
from . import passes
from .analysis import ProgramSummary, summarize
from .blob import BlobFile, BlobWriter, read_blob, write_blobs
from .builder import Builder, make_program, program
from .diagnostics import Diagnostic
from .importers import load
from .ir import Function, Operation, Program, Var
from .text import parse
from .types import DType, StateType, TensorType, dtype, tensor
from .validate import validate
from .values import BlobRef, Value

__all__ = [
    "BlobFile",
    "BlobRef",
    "BlobWriter",
    "Builder",
    "DType",
    "Diagnostic",
    "Function",
    "Operation",
    "Program",
    "ProgramSummary",
    "StateType",
    "TensorType",
    "Value",
    "Var",
    "dtype",
    "load",
    "make_program",
    "ops",
    "parse",
    "passes",
    "program",
    "read_blob",
    "summarize",
    "tensor",
    "validate",
    "write_blobs",
]
