"""anekit: program Apple's Neural Engine directly.

``anekit.mil`` builds, parses, validates and writes MIL programs; ``anekit.Surface`` is the ANE's I/O buffer;
``anekit.fp16`` holds the native conversion kernels; ``anekit.compile`` turns a program into a :class:`Kernel`
on the ANE or the reference executor; ``anekit.verify`` checks a backend against the reference;
``anekit.info()`` says what this machine can do.

The command line is ``anekit`` (``anekit --help``). Work that takes more than a second shows progress on a
terminal or in a notebook (:mod:`anekit.progress`; ``ANEKIT_PROGRESS=0`` turns it off).
"""

from __future__ import annotations

try:
    from . import _core
except ImportError as exc:  # say what is wrong instead of a confusing error from a later import
    raise ImportError(
        f"anekit's native extension anekit._core cannot be imported ({exc}); install anekit with "
        "`pip install .` (importing the source tree's python/ directory directly has no extension)"
    ) from exc
from . import budget, doctor, fp16, mil
from ._core import Surface
from ._info import info
from .errors import (
    AnekitError,
    AneUnavailableError,
    CompileBudgetExceeded,
    CompileError,
    ConversionError,
    EvaluateError,
    MILError,
    MILParseError,
)
from .mil.importers.torch import from_torch
from .runtime import Kernel, VerifyReport, compile, verify

__version__: str = _core.__version__

__all__ = [
    "AneUnavailableError",
    "AnekitError",
    "CompileBudgetExceeded",
    "CompileError",
    "ConversionError",
    "EvaluateError",
    "Kernel",
    "MILError",
    "MILParseError",
    "Surface",
    "VerifyReport",
    "__version__",
    "budget",
    "compile",
    "doctor",
    "fp16",
    "from_torch",
    "info",
    "mil",
    "verify",
]
