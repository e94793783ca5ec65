"""anekit.runtime: compile MIL programs into kernels on a backend, run them, verify them."""

from __future__ import annotations

from .backend import BACKENDS, available_backends, get_backend
from .compile import compile
from .kernel import Kernel
from .verify import OutputComparison, VerifyReport, random_inputs, verify

__all__ = [
    "BACKENDS",
    "Kernel",
    "OutputComparison",
    "VerifyReport",
    "available_backends",
    "compile",
    "get_backend",
    "random_inputs",
    "verify",
]
