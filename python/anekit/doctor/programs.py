"""Small MIL programs with known answers, used by the doctor's probes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import mil

__all__ = ["cast_io_program", "identity_program", "weighted_sum_program"]


def identity_program(c: int, s: int, *, scale: float = 1.0, opset: str = "ios18") -> mil.Program:
    """``y = x * scale`` on ``[1, c, 1, s]`` fp16 (an op is needed: a bare ``-> (x)`` compiles to nothing).

    Distinct scales give distinct programs, so no cache can answer for a compile.
    """

    @mil.program(inputs={"x": mil.tensor((1, c, 1, s), "fp16")}, opset=opset)
    def prog(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        return {"y": mb.mul(x=x, y=np.float16(scale))}

    return prog


def weighted_sum_program(names: Sequence[str], channels: Sequence[int], s: int, *, opset: str = "ios18") -> mil.Program:
    """``y[1, 1, 1, s] = sum_i 10**i * reduce_sum(input_i, axis=1)`` with inputs declared in the given order.

    Filling input ``j``'s surface with a constant tells, from ``y``, which declared input each surface reached.
    """
    if len(names) != len(channels) or not names:
        raise ValueError("weighted_sum_program: names and channels must be non-empty and of equal length")
    inputs = {n: mil.tensor((1, c, 1, s), "fp16") for n, c in zip(names, channels, strict=True)}

    def body(mb: mil.Builder, *xs: mil.Var) -> dict[str, mil.Var]:
        total = None
        for i, x in enumerate(xs):
            term = mb.mul(x=mb.reduce_sum(x=x, axes=np.array([1], np.int32), keep_dims=True), y=np.float16(10.0**i))
            total = term if total is None else mb.add(x=total, y=term)
        return {"y": total}

    return mil.program(inputs=inputs, opset=opset)(body)


def cast_io_program(c: int, s: int, *, opset: str = "ios18") -> mil.Program:
    """fp32 in and out, fp16 inside: ``y = fp32(fp16(x) * 2)`` (ane-private-api.md §14)."""

    @mil.program(inputs={"x": mil.tensor((1, c, 1, s), "fp32")}, opset=opset)
    def prog(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        h = mb.cast(x=x, dtype="fp16")
        return {"y": mb.cast(x=mb.mul(x=h, y=np.float16(2)), dtype="fp32")}

    return prog
