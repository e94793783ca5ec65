"""Small MIL programs with known answers, used by the doctor's probes.

Shapes default to the known-good probe size ``[1, 768, 1, 32]`` fp16 (49,152 bytes, Orion
docs/ane_constraints.md #4); sweeps pass smaller ones explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import mil

__all__ = [
    "GOOD_C",
    "GOOD_S",
    "cast_io_program",
    "fanout_program",
    "identity_program",
    "mixed_size_program",
    "weighted_sum_program",
]

#: The known-good probe shape: 768 channels x 32 positions of fp16 = 49,152 bytes.
GOOD_C, GOOD_S = 768, 32


def identity_program(c: int = GOOD_C, s: int = GOOD_S, *, scale: float = 1.0, opset: str = "ios18") -> mil.Program:
    """``y = x * scale`` on ``[1, c, 1, s]`` fp16 (an op is needed: a bare ``-> (x)`` compiles to nothing).

    Distinct scales give distinct programs, so no cache can answer for a compile.
    """

    @mil.program(inputs={"x": mil.tensor((1, c, 1, s), "fp16")}, opset=opset)
    def prog(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        return {"y": mb.mul(x=x, y=np.float16(scale))}

    return prog


def weighted_sum_program(names: Sequence[str], c: int = GOOD_C, s: int = GOOD_S) -> mil.Program:
    """``y = sum_i 10**i * input_i`` (elementwise, equal shapes) with inputs declared in the given order.

    Filling the ``k``-th surface passed with ``k + 1`` tells, from any element of ``y``, which declared input
    each surface reached (digit ``i`` of ``y`` is the fill that reached input ``i``; at most 4 inputs keep
    ``y`` exact in fp16).
    """
    if not names or len(names) > 4 or len(set(names)) != len(names):
        raise ValueError(f"weighted_sum_program: 1 to 4 distinct input names, got {list(names)}")
    inputs = {n: mil.tensor((1, c, 1, s), "fp16") for n in names}

    def body(mb: mil.Builder, *xs: mil.Var) -> dict[str, mil.Var]:
        total = mb.mul(x=xs[0], y=np.float16(1))
        for i, x in enumerate(xs[1:], start=1):
            total = mb.add(x=total, y=mb.mul(x=x, y=np.float16(10.0**i)))
        return {"y": total}

    return mil.program(inputs=inputs, opset="ios18")(body)


def fanout_program(names: Sequence[str], c: int = GOOD_C, s: int = GOOD_S) -> mil.Program:
    """One input ``x``; output ``names[i]`` (declared in the given order) is ``x * (i + 1)``.

    With ``x = 1``, the value found in the ``k``-th output surface passed says which declared output it got.
    """
    if not names or len(set(names)) != len(names) or "x" in names:
        raise ValueError(f"fanout_program: distinct output names other than 'x', got {list(names)}")

    @mil.program(inputs={"x": mil.tensor((1, c, 1, s), "fp16")}, opset="ios18")
    def prog(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        return {n: mb.mul(x=x, y=np.float16(i + 1)) for i, n in enumerate(names)}

    return prog


def mixed_size_program(c: int = GOOD_C, s: int = GOOD_S) -> mil.Program:
    """Inputs ``a [1, c, 1, s]`` and ``b [1, c, 1, 2s]``; outputs ``y = a + b[..., :s]`` and ``z = 2 b``.

    Two inputs and two outputs of different sizes: whether they need one shared allocation size per side
    (Orion docs/ane_constraints.md #2/#12) or each their exact size.
    """

    @mil.program(inputs={"a": mil.tensor((1, c, 1, s), "fp16"), "b": mil.tensor((1, c, 1, 2 * s), "fp16")})
    def prog(mb: mil.Builder, a: mil.Var, b: mil.Var) -> dict[str, mil.Var]:
        head = mb.slice_by_size(x=b, begin=np.array([0, 0, 0, 0], np.int32), size=np.array([1, c, 1, s], np.int32))
        return {"y": mb.add(x=a, y=head), "z": mb.mul(x=b, y=np.float16(2))}

    return prog


def cast_io_program(c: int = GOOD_C, s: int = GOOD_S) -> mil.Program:
    """fp32 in and out, fp16 inside: ``y = fp32(fp16(x) * 2)`` (docs/internals/ane-private-api.md §14)."""

    @mil.program(inputs={"x": mil.tensor((1, c, 1, s), "fp32")}, opset="ios18")
    def prog(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        h = mb.cast(x=x, dtype="fp16")
        return {"y": mb.cast(x=mb.mul(x=h, y=np.float16(2)), dtype="fp32")}

    return prog
