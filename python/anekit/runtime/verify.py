"""``anekit.verify``: run a program on a backend and on a baseline, and compare every output.

The reference executor (``precision="ane"``) is the definition of what a program means; a device result is
correct when it matches it within fp16 tolerances. So on the ANE the baseline is the reference's ANE fp16
semantics. When the backend checked *is* the reference executor (off a Mac), comparing it with itself would
always report zero error; the baseline is then the same program run in fp64, so the report measures what fp16
costs this program. :attr:`VerifyReport.compared` says which two things were compared.

Tolerances, per output element, with ``ref`` the baseline value and ``scale = max(|ref|)`` over the output:

    |got - ref| <= atol * scale + rtol * |ref|      (defaults: rtol = 2**-7, atol = 2**-9)

``2**-7`` is eight fp16 ulps at any magnitude, room for a handful of differently-ordered fp16 roundings; the
``atol`` term (relative to the output's scale) absorbs cancellation near zero. An output also fails when its
cosine similarity with the reference is below ``min_cosine`` (0.999) or its non-finite values differ.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..mil.ir import Program
from ..progress import progress
from ..reference.executor import Executor
from .compile import compile as compile_program
from .compile import not_a_program
from .signature import conform, function_io

__all__ = ["BASELINES", "OutputComparison", "VerifyReport", "random_inputs", "verify"]

#: What a backend can be compared with: the reference executor's ANE fp16 semantics, or an fp64 run.
BASELINES: dict[str, str] = {
    "ane": "reference executor, ANE fp16 semantics",
    "fp64": "reference executor, fp64",
}


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
    """The result of :func:`verify`; truthy when every output passed.

    Attributes:
        backend: the backend that ran the program (``"ane"`` or ``"reference"``).
        outputs: one comparison per output.
        rtol, atol, min_cosine: the tolerances applied (module docstring).
        run_seconds: wall time of the backend's run.
        reference_seconds: wall time of the baseline's run.
        inputs: the inputs both runs used.
        baseline: what the backend was compared with: a key of :data:`BASELINES` (``"ane"`` or ``"fp64"``).
    """

    backend: str
    outputs: list[OutputComparison]
    rtol: float
    atol: float
    min_cosine: float
    run_seconds: float | None = None
    reference_seconds: float | None = None
    inputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    baseline: str = "ane"

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)

    @property
    def compared(self) -> tuple[str, str]:
        """``(what ran, what it was compared with)``, in words."""
        ran = f"{self.backend} backend" + (", ANE fp16 semantics" if self.backend == "reference" else "")
        return ran, BASELINES[self.baseline]

    def __bool__(self) -> bool:
        return self.passed

    def _tolerances(self) -> str:
        return f"|error| <= {self.atol:g} x scale + {self.rtol:g} x |expected|, cosine >= {self.min_cosine:g}"

    def format(self) -> str:
        """A readable table: the verdict, what was compared, and one row per output."""
        ran, base = self.compared
        verdict = "PASS" if self.passed else "FAIL"
        lines = [f"verify {verdict}: {ran} vs {base}", f"  tolerance: {self._tolerances()}"]
        rows = [("", "output", "shape", "max abs", "max rel", "cosine", "outside tol")]
        rows += [
            (
                "PASS" if o.passed else "FAIL",
                o.name,
                "x".join(map(str, o.shape)) or "scalar",
                f"{o.max_abs_error:.3g}",
                f"{o.max_rel_error:.3g}",
                f"{o.cosine:.6f}",
                str(o.mismatched) + (" (non-finite differ)" if o.nonfinite_mismatch else ""),
            )
            for o in self.outputs
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        times = [
            f"{label} {sec * 1e3:.1f} ms"
            for label, sec in (("run", self.run_seconds), ("baseline", self.reference_seconds))
            if sec is not None
        ]
        if times:
            lines.append("  time: " + ", ".join(times))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return self.format()

    def _repr_html_(self) -> str:
        e = html.escape
        ran, base = self.compared
        color = "#1a7f37" if self.passed else "#cf222e"
        head = "".join(
            f"<th>{e(h)}</th>" for h in ("", "output", "shape", "max abs", "max rel", "cosine", "outside tol")
        )
        body = "".join(
            f"<tr><td style='color:{'#1a7f37' if o.passed else '#cf222e'}'><b>{'PASS' if o.passed else 'FAIL'}</b>"
            f"</td><td><code>{e(o.name)}</code></td><td>{e(str(list(o.shape)))}</td>"
            f"<td>{o.max_abs_error:.3g}</td><td>{o.max_rel_error:.3g}</td><td>{o.cosine:.6f}</td>"
            f"<td>{o.mismatched}{' (non-finite differ)' if o.nonfinite_mismatch else ''}</td></tr>"
            for o in self.outputs
        )
        return (
            f"<div><b style='color:{color}'>verify {'PASS' if self.passed else 'FAIL'}</b>: "
            f"{e(ran)} vs {e(base)}<br><small>{e(self._tolerances())}</small>"
            f"<table><tr>{head}</tr>{body}</table></div>"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable data (the inputs are left out)."""
        ran, base = self.compared
        return {
            "passed": self.passed,
            "backend": self.backend,
            "baseline": self.baseline,
            "compared": [ran, base],
            "rtol": self.rtol,
            "atol": self.atol,
            "min_cosine": self.min_cosine,
            "run_seconds": self.run_seconds,
            "reference_seconds": self.reference_seconds,
            "outputs": [{**asdict(o), "shape": list(o.shape)} for o in self.outputs],
        }


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
    backend: str | None = None,
    baseline: str | None = None,
    function: str = "main",
    rtol: float = 2**-7,
    atol: float = 2**-9,
    min_cosine: float = 0.999,
    seed: int = 0,
) -> VerifyReport:
    """Run ``program`` on ``backend`` and on a baseline with the same inputs, and compare every output.

    An output passes when every element satisfies ``|got - expected| <= atol * scale + rtol * |expected|``
    (``scale`` is the output's largest finite ``|expected|``), its cosine similarity with the baseline is at
    least ``min_cosine``, and its NaN/inf positions match. ``2**-7`` is eight fp16 ulps at any magnitude, room
    for a handful of differently ordered fp16 roundings; the ``atol`` term absorbs cancellation near zero.
    The user guide's page "Verifying against the reference" (``docs/guide/verify.md``) has worked examples.

    Args:
        program: the program to check.
        inputs: input name -> array; random inputs (:func:`random_inputs`) when omitted.
        backend: ``"ane"``, ``"reference"``, or None (default) for the best usable backend, as in
            :func:`anekit.compile`.
        baseline: ``"ane"``: the reference executor's ANE fp16 semantics (the definition a device result must
            match); ``"fp64"``: the program run in float64. Default: ``"ane"``, except when the backend is
            the reference executor itself, where it is ``"fp64"`` (comparing it with itself proves nothing).
        function: the function to run.
        rtol: relative tolerance per element (default 2**-7: eight fp16 ulps).
        atol: absolute tolerance per element, as a fraction of the output's largest magnitude (2**-9).
        min_cosine: lowest cosine similarity with the baseline an output may have (0.999).
        seed: seed of the random inputs.

    Returns:
        A :class:`VerifyReport`; truthy when every output passed. ``report.compared`` names the two sides.

    Raises:
        TypeError: ``program`` is not a Program.
        AneUnavailableError: ``backend="ane"`` where the ANE cannot be used.
        ValueError: bad inputs, tolerances, baseline or function name.
    """
    if not isinstance(program, Program):
        raise TypeError(not_a_program("anekit.verify", program))
    for label, v in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(v, (int, float)) and v >= 0):
            raise ValueError(f"{label} must be a non-negative number, got {v!r}")
    if not 0 <= min_cosine <= 1:
        raise ValueError(f"min_cosine must be in [0, 1], got {min_cosine!r}")
    if baseline is not None and baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {sorted(BASELINES)} or None, got {baseline!r}")
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

    with compile_program(program, backend=backend, function=function) as kernel:
        t0 = time.perf_counter()
        with progress(f"verify: run of {function} on the {kernel.backend} backend"):
            got = kernel(feeds)
        run_s = time.perf_counter() - t0
        used = kernel.backend
    chosen = baseline or ("fp64" if used == "reference" else "ane")
    n_ops = len(program.functions[function].operations)
    t0 = time.perf_counter()
    with progress(f"verify: baseline run of {function} ({n_ops} ops, {BASELINES[chosen]})"):
        ref = Executor(program, function=function, precision=chosen)(feeds)
    ref_s = time.perf_counter() - t0
    comparisons = [_compare(name, got[name], ref[name], rtol, atol, min_cosine) for name in ref]
    return VerifyReport(used, comparisons, rtol, atol, min_cosine, run_s, ref_s, feeds, chosen)
