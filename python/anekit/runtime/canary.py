"""The known-answer canary: tells an exhausted compile budget from a genuinely invalid program.

After a compile fails in a process (or pool worker) that has compiled before, the failure may be the program's
or the end of the per-process budget, which the framework reports with an ordinary compile error, returns as
zeros, or ends with a crash (docs/internals/ane-private-api.md §16.1). Compiling and running a program known to work
answers
it: an identity 1x1 convolution (the self-test of docs/internals/ane-private-api.md §11.4) must give its input back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import mil
from ..errors import CompileBudgetExceeded, CompileError
from .kernel import Kernel

if TYPE_CHECKING:
    from .backend import Backend

__all__ = ["canary_passes", "canary_program"]


def canary_program(c: int = 8, s: int = 8) -> mil.Program:
    """An identity 1x1 convolution on ``[1, C, 1, S]`` fp16 (docs/internals/ane-private-api.md §11.4)."""
    eye = np.eye(c, dtype=np.float16).reshape(c, c, 1, 1)

    @mil.program(inputs={"x": mil.tensor((1, c, 1, s), "fp16")}, opset="ios18")
    def canary(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.conv(x=x, weight=eye, pad_type="valid")

    return canary


def canary_passes(backend: Backend) -> bool:
    """Compile the canary on ``backend`` (spending one compile, never cached) and check its answer.

    Returns:
        True when it compiled and returned its input exactly; False when the compile failed or the output is
        wrong (zeros, the silent end of the budget).
    """
    try:
        executable = backend.compile(canary_program(), function="main", options={})
    except CompileError:
        return False
    with Kernel(executable, backend=backend.name, paths=backend.paths) as kernel:
        # Multiples of 1/8 below 8: exact in fp16, so the identity must reproduce them bit for bit.
        x = np.arange(64, dtype=np.float32).reshape(1, 8, 1, 8) / 8
        try:
            (y,) = kernel(x=x).values()
        except CompileBudgetExceeded:  # the ANE backend saw all-zero outputs: the silent end of the budget
            return False
    return bool(np.array_equal(y, x))
