"""anekit.mil: build, parse, validate and write MIL programs (text + weight blobs)."""

from __future__ import annotations

from . import ops as _ops  # noqa: F401  (registers every op spec once)

# MIL core: IR, weight blobs, text emitter, parser, builder (mil-format.md).
from .blob import BlobFile, BlobWriter, read_blob, write_blobs
from .builder import Builder
from .builder_program import make_program, program
from .diagnostics import Diagnostic
from .ir import Function, Operation, Program, Var
from .parse import load, parse
from .types import DType, StateType, TensorType, dtype, tensor
from .values import BlobRef, Value

__all__ = ["DType", "StateType", "TensorType", "dtype", "tensor"]
__all__ += ["BlobFile", "BlobRef", "BlobWriter", "Builder", "Diagnostic", "Function", "Operation", "Program",
            "Value", "Var", "load", "make_program", "parse", "program", "read_blob", "write_blobs"]

# Op registry (issue 3): the ``ops`` subpackage is callable, ``anekit.mil.ops()`` lists the op names.
__all__ += ["ops"]

# Validator and summary (issue 3). ``Program.check()`` raises on errors; the function stays in
# anekit.mil.validate (``anekit.mil.check`` is the binding module).
from .summary import ProgramSummary, summarize
from .validate import validate

__all__ += ["ProgramSummary", "summarize", "validate"]
