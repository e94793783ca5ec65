"""anekit.reference: run any MIL program on the CPU with the ANE's fp16 semantics.

The reference executor is the living definition of what every MIL op means (docs/internals/architecture.md §1, §7): the
ANE backend is judged against it, it is the default device where no ANE exists, and it lets programs be developed
and unit-tested on Linux. Pure Python + numpy; it never imports the native extension at import time.

    >>> outputs = anekit.reference.run(program, {"x": x}, precision="ane")
"""

from __future__ import annotations

from ._storage import PRECISIONS
from .compare import TOLERANCES, assert_close, compare_outputs
from .executor import Executor, RunResult, run
from .kernels import KERNELS, KernelContext

__all__ = [
    "KERNELS",
    "PRECISIONS",
    "TOLERANCES",
    "Executor",
    "KernelContext",
    "RunResult",
    "assert_close",
    "compare_outputs",
    "run",
]
