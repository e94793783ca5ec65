"""``anekit.verify``: run a program on a backend and on the reference executor, and compare every output.

The reference executor (``precision="ane"``) is the definition of what a program means; a device result is
correct when it matches it within fp16 tolerances. Tolerances, per output element, with ``ref`` the reference
value and ``scale = max(|ref|)`` over the output:

    |got - ref| <= atol * scale + rtol * |ref|      (defaults: rtol = 2**-7, atol = 2**-9)

``2**-7`` is eight fp16 ulps at any magnitude, room for a handful of differently-ordered fp16 roundings; the
``atol`` term (relative to the output's scale) absorbs cancellation near zero. An output also fails when its
cosine similarity with the reference is below ``min_cosine`` (0.999) or its non-finite values differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..mil.ir import Program
from ..reference.executor import Executor
from .compile import compile as compile_program
from .signature import conform, function_io

__all__ = ["OutputComparison", "VerifyReport", "random_inputs", "verify"]


@dataclass(frozen=True)
class OutputComparison:
    """How one output of the backend compares with the reference."""

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    cosine: float
    mismatched: int
    nonfinite_mismatch: bool
    passed: bool


@dataclass(frozen=True)
class VerifyReport:
    """The result of :func:`verify`; truthy when every output passed."""

    backend: str
    outputs: list[OutputComparison]
    rtol: float
    atol: float
    min_cosine: float
    run_seconds: float | None = None
    reference_seconds: float | None = None
    inputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)

    def __bool__(self) -> bool:
        return self.passed

    def format(self) -> str:
        """A readable table."""
        lines = [f"verify on {self.backend} (rtol {self.rtol:g}, atol {self.atol:g} x scale, cos >= {self.min_cosine})"]
        for o in self.outputs:
            verdict = "PASS" if o.passed else "FAIL"
            lines.append(
                f"  {verdict} {o.name} {list(o.shape)}: max abs {o.max_abs_error:.3g}, max rel {o.max_rel_error:.3g},"
                f" cosine {o.cosine:.6f}, {o.mismatched} elements outside tolerance"
            )
        return "\n".join(lines)


def random_inputs(program: Program, function: str = "main", seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic random inputs for every input of ``function``: N(0, 1) floats, ints in [0, 8), random bools."""
    rng = np.random.default_rng(seed)
    specs, _ = function_io(program, function)
    result: dict[str, np.ndarray] = {}
    for s in specs:
        shape = tuple(int(d) for d in s.type.shape if d is not None)
        dt = s.type.dtype
        if dt.is_float:
            result[s.name] = rng.standard_normal(shape).astype(np.float32)
        elif dt.kind == "bool":
            result[s.name] = rng.integers(0, 2, size=shape).astype(bool)
        else:
            result[s.name] = rng.integers(0, 8, size=shape).astype(dt.np_dtype)
    return result


def _compare(name: str, got: np.ndarray, ref: np.ndarray, rtol: float, atol: float, min_cos: float) -> OutputComparison:
    g = np.asarray(got, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    if g.shape != r.shape:
        return OutputComparison(name, tuple(r.shape), np.inf, np.inf, 0.0, int(r.size), False, False)
    finite = np.isfinite(r)
    nonfinite_mismatch = bool(np.any(np.isfinite(g) != finite)) or bool(
        np.any((~finite) & ~np.isnan(r) & (g != r))  # +-inf must match exactly
    )
    gf, rf = np.where(finite, g, 0.0), np.where(finite, r, 0.0)
    err = np.abs(gf - rf)
    scale = float(np.max(np.abs(rf))) if rf.size else 0.0
    tol = atol * scale + rtol * np.abs(rf)
    mismatched = int(np.count_nonzero(err > tol))
    denom = np.maximum(np.abs(rf), atol * scale if scale > 0 else 1e-30)
    max_rel = float(np.max(err / denom)) if err.size else 0.0
    norm = float(np.linalg.norm(gf) * np.linalg.norm(rf))
    cosine = float(np.dot(gf.ravel(), rf.ravel()) / norm) if norm > 0 else (1.0 if not np.any(err) else 0.0)
    passed = mismatched == 0 and not nonfinite_mismatch and cosine >= min_cos
    return OutputComparison(
        name,
        tuple(r.shape),
        float(np.max(err)) if err.size else 0.0,
        max_rel,
        cosine,
        mismatched,
        nonfinite_mismatch,
        passed,
    )


def verify(
    program: Program,
    inputs: Mapping[str, Any] | None = None,
    *,
    backend: str | None = "ane",
    function: str = "main",
    rtol: float = 2**-7,
    atol: float = 2**-9,
    min_cosine: float = 0.999,
    seed: int = 0,
) -> VerifyReport:
    """Run ``program`` on ``backend`` and on the reference executor with the same inputs and compare.

    Args:
        program: the program to check.
        inputs: input name -> array; random inputs (:func:`random_inputs`) when omitted.
        backend: ``"ane"`` (default), ``"reference"``, or None for the best usable backend.
        function: the function to run.
        rtol, atol, min_cosine: tolerances (module docstring).
        seed: seed of the random inputs.

    Raises:
        AneUnavailableError: ``backend="ane"`` where the ANE cannot be used.
        ValueError: bad inputs or tolerances.
    """
    for label, v in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(v, (int, float)) and v >= 0):
            raise ValueError(f"{label} must be a non-negative number, got {v!r}")
    if not 0 <= min_cosine <= 1:
        raise ValueError(f"min_cosine must be in [0, 1], got {min_cosine!r}")
    if inputs is None:
        feeds = random_inputs(program, function, seed)
    else:
        specs, _ = function_io(program, function)
        given = dict(inputs)
        missing = [s.name for s in specs if s.name not in given]
        extra = sorted(set(given) - {s.name for s in specs})
        if missing or extra:
            raise ValueError(
                f"verify: {function} takes inputs {[s.name for s in specs]}; missing {missing}, unexpected {extra}"
            )
        feeds = {s.name: conform(s, given[s.name]) for s in specs}
    import time

    with compile_program(program, backend=backend, function=function) as kernel:
        t0 = time.perf_counter()
        got = kernel(feeds)
        run_s = time.perf_counter() - t0
        used = kernel.backend
    t0 = time.perf_counter()
    ref = Executor(program, function=function, precision="ane")(feeds)
    ref_s = time.perf_counter() - t0
    comparisons = [_compare(name, got[name], ref[name], rtol, atol, min_cosine) for name in ref]
    return VerifyReport(used, comparisons, rtol, atol, min_cosine, run_s, ref_s, feeds)
