"""On-device probes that settle the open questions of ane-private-api.md §15 and §24.

Each probe compiles a small program with a known answer through the ANE backend, runs it, and checks the
numbers; what it finds is recorded as a ``finding`` next to the evidence. The same probes run against the fake
framework on Linux, which is how their logic is tested.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _core
from ..errors import AnekitError, CompileBudgetExceeded
from ..runtime import compile as compile_program
from .programs import cast_io_program, identity_program, weighted_sum_program

__all__ = ["PROBES", "ProbeResult", "run_probe"]


@dataclass
class ProbeResult:
    """The outcome of one probe.

    Attributes:
        name: probe id.
        question: what it settles.
        status: ``"ok"`` (the probe ran and the known-answer checks were consistent), ``"failed"`` (the device
            gave an answer no hypothesis explains), or ``"error"`` (the probe itself could not run).
        finding: the settled value (e.g. ``"declaration"`` for the input order), or None.
        evidence: what was measured, case by case.
        seconds: wall time of the probe.
    """

    name: str
    question: str
    status: str
    finding: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _attempt(program: Any, feeds: dict[str, np.ndarray], expected: np.ndarray, path: str = "standard") -> str:
    """Compile + run once; ``"ok"``, ``"wrong"`` (ran, wrong numbers), ``"zeros"`` or ``"error: ..."``."""
    try:
        with compile_program(program, backend="ane", path=path, cache=False) as kernel:
            for name, value in feeds.items():
                kernel.inputs[name].write(value)
            try:
                kernel.run(path=path)
            except CompileBudgetExceeded:
                # The ANE backend detected a loaded program that outputs only zeros (the silent budget end).
                return "zeros"
            got = kernel.outputs["y"].read()
    except (AnekitError, RuntimeError, ValueError) as exc:
        return f"error: {type(exc).__name__}: {str(exc)[:200]}"
    if np.array_equal(got, expected.astype(np.float32)):
        return "ok"
    if not np.any(got):
        return "zeros"
    return "wrong"


def probe_input_order() -> ProbeResult:
    """How request input surfaces are matched to MIL inputs: declaration, name or size order (§13, §15)."""
    s = 32
    result = ProbeResult("input_order", "how input surfaces are matched to MIL inputs", "ok")
    hypotheses: dict[str, list[int]] = {}
    # Equal sizes, declared z, a, m: declaration order and name order differ.
    names = ["z", "a", "m"]
    program = weighted_sum_program(names, [1, 1, 1], s)
    surfaces_values = [1.0, 2.0, 3.0]  # surface k (in the order we pass them) holds k+1
    observed = _wiring(program, names, [1, 1, 1], s, surfaces_values)
    hypotheses["declaration"] = [0, 1, 2]
    hypotheses["name"] = [names.index(n) for n in sorted(names)]  # surface k goes to the k-th name alphabetically
    # Different sizes, declared big then small: declaration order and size order differ.
    names2 = ["p", "q"]
    program2 = weighted_sum_program(names2, [4, 2], s)
    observed2 = _wiring(program2, names2, [4, 2], s, [1.0, 2.0])
    result.evidence = {"equal_sizes": observed, "different_sizes": observed2}
    if observed == "declaration" and observed2 == "declaration":
        result.finding = "declaration"
    elif observed == "name":
        result.finding = "name"
    elif observed2 == "size":
        result.finding = "size"
    else:
        result.status = "failed"
    return result


def _wiring(program: Any, names: list[str], channels: list[int], s: int, fills: list[float]) -> str:
    """Run with surface k filled with ``fills[k]`` and decode which order the device used."""
    try:
        with compile_program(program, backend="ane", cache=False) as kernel:
            for surface, value in zip(kernel.inputs.values(), fills, strict=True):
                surface.write(np.full(surface.shape, value, np.float32))
            kernel.run()
            y = float(kernel.outputs["y"].read()[0, 0, 0, 0])
    except (AnekitError, RuntimeError, ValueError) as exc:
        return f"error: {type(exc).__name__}: {str(exc)[:200]}"
    orders = {
        "declaration": list(range(len(names))),
        "name": sorted(range(len(names)), key=lambda i: names[i]),
        "size": sorted(range(len(names)), key=lambda i: channels[i]),
    }
    for label, order in orders.items():
        # Under `order`, the k-th surface we pass reaches declared input order[k].
        total = 0.0
        for k, declared in enumerate(order):
            total += fills[k] * channels[declared] * 10.0**declared
        if total == y:
            return label
    return f"unexplained (y = {y})"


def probe_spatial_sizes() -> ProbeResult:
    """Which spatial sizes S of ``[1, C, 1, S]`` I/O give correct results (minimum surface, multiples, §15)."""
    result = ProbeResult("spatial_sizes", "which spatial sizes S work for [1, C, 1, S] I/O", "ok")
    outcomes = {}
    rng = np.random.default_rng(0)
    for s in (1, 2, 8, 16, 24, 31, 32, 33, 48, 64):
        x = rng.standard_normal((1, 16, 1, s)).astype(np.float16)
        outcomes[s] = _attempt(identity_program(16, s), {"x": x}, x)
    result.evidence = {str(k): v for k, v in outcomes.items()}
    working = [s for s, v in outcomes.items() if v == "ok"]
    if not working:
        result.status = "failed"
        return result
    multiple = next((m for m in (1, 2, 8, 16, 32) if all((s % m == 0) == (s in working) for s in outcomes)), None)
    result.finding = {"min_spatial": min(working), "spatial_multiple": multiple, "working": working}
    return result


def probe_multi_input() -> ProbeResult:
    """How many inputs a program may take (1 to 4 tried)."""
    result = ProbeResult("multi_input", "how many inputs one program can take", "ok")
    best = 0
    for n in range(1, 5):
        names = [f"in{i}" for i in range(n)]
        program = weighted_sum_program(names, [1] * n, 32)
        feeds = {name: np.full((1, 1, 1, 32), 1.0, np.float32) for name in names}
        expected = np.full((1, 1, 1, 32), sum(10.0**i for i in range(n)), np.float32)
        outcome = _attempt(program, feeds, expected)
        result.evidence[str(n)] = outcome
        if outcome == "ok":
            best = n
    result.finding = {"max_inputs_tested_ok": best}
    if best == 0:
        result.status = "failed"
    return result


def probe_fp32_io() -> ProbeResult:
    """Whether fp32 function inputs/outputs with casts inside work (§14)."""
    result = ProbeResult("fp32_io", "whether fp32 I/O with casts inside works", "ok")
    x = np.random.default_rng(1).standard_normal((1, 16, 1, 32)).astype(np.float32)
    expected = (x.astype(np.float16) * np.float16(2)).astype(np.float32)
    outcome = _attempt(cast_io_program(16, 32), {"x": x}, expected)
    result.evidence["cast_io"] = outcome
    result.finding = outcome == "ok"
    return result


def probe_execution_paths() -> ProbeResult:
    """Which execution paths (§17) evaluate correctly."""
    result = ProbeResult("execution_paths", "which execution paths work", "ok")
    x = np.random.default_rng(2).standard_normal((1, 16, 1, 32)).astype(np.float16)
    info = _core.ane.runtime_info()
    advertised = list(info.get("execution_paths", []))
    working = []
    for path in _core.ane.EXECUTION_PATHS:
        if path not in advertised:
            result.evidence[path] = "not available: " + ("selector missing" if info.get("available") else "backend")
            continue
        outcome = _attempt(identity_program(16, 32), {"x": x}, x, path=path)
        result.evidence[path] = outcome
        if outcome == "ok":
            working.append(path)
    result.finding = working
    if "standard" not in working:
        result.status = "failed"
    return result


def probe_perf_stats() -> ProbeResult:
    """Whether _ANEPerformanceStats reports a hardware execution time (§18)."""
    result = ProbeResult("perf_stats", "whether hardware execution time is reported", "ok")
    try:
        with compile_program(identity_program(16, 32), backend="ane", perf_stats=True, cache=False) as kernel:
            kernel.inputs["x"].write(1.0)
            hw = kernel.run()
    except (AnekitError, RuntimeError, ValueError) as exc:
        result.status = "error"
        result.evidence["error"] = f"{type(exc).__name__}: {exc}"
        return result
    result.evidence["hw_time_s"] = hw
    result.finding = hw is not None
    return result


def probe_compile_budget(limit: int = 400) -> ProbeResult:
    """How many compiles this process gets before the compiler fails (§16). Spends the process's budget."""
    result = ProbeResult("compile_budget", "how many compiles one process gets", "ok")
    x = np.ones((1, 16, 1, 32), np.float16)
    for i in range(limit):
        scale = float(2 + i % 1000)  # exact in fp16; each compile is a new program
        outcome = _attempt(identity_program(16, 32, scale=scale), {"x": x}, x * np.float16(scale))
        if outcome != "ok":
            # "zeros" is the silent failure mode reported on real machines: the compile "succeeds".
            result.finding = {"compiles_ok": i, "limit_reached": True, "failure": outcome}
            return result
    result.finding = {"compiles_ok": limit, "limit_reached": False}
    return result


#: Probes run by default, in order; ``compile_budget`` only with ``budget=True``.
PROBES: dict[str, Callable[[], ProbeResult]] = {
    "input_order": probe_input_order,
    "spatial_sizes": probe_spatial_sizes,
    "multi_input": probe_multi_input,
    "fp32_io": probe_fp32_io,
    "execution_paths": probe_execution_paths,
    "perf_stats": probe_perf_stats,
}


def run_probe(name: str, fn: Callable[[], ProbeResult]) -> ProbeResult:
    """Run one probe, timing it and turning an unexpected exception into an ``error`` result."""
    t0 = time.perf_counter()
    try:
        result = fn()
    except Exception as exc:  # a probe must never take the whole doctor down; the error is reported
        result = ProbeResult(name, fn.__doc__ or name, "error", evidence={"error": f"{type(exc).__name__}: {exc}"})
    result.seconds = time.perf_counter() - t0
    return result
