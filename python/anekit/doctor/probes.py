"""On-device probes that settle the open questions of docs/internals/ane-private-api.md §24 and §25.

Each probe compiles small programs with known answers straight through the framework (:mod:`.device`: no
saved setting of an earlier doctor run is applied), checks the numbers, and records a ``finding`` next to the
evidence. Probes run at the known-good size first (49,152-byte surfaces) and sweep sizes down from there;
later probes lay out their surfaces by the allocation rule the earlier ones settled in the same run
(:class:`Settled`). On Linux the same probes run against the fake framework, whose modes model every
plausible real behaviour; that is how their logic is tested.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _core
from ..errors import AnekitError
from .device import KNOWN_GOOD_BYTES, Allocation, RawRun, run_raw
from .programs import (
    GOOD_C,
    GOOD_S,
    cast_io_program,
    fanout_program,
    identity_program,
    mixed_size_program,
    weighted_sum_program,
)

__all__ = ["PROBES", "ProbeResult", "Settled", "binding_rules", "run_probe"]


@dataclass
class ProbeResult:
    """The outcome of one probe.

    Attributes:
        name: probe id.
        question: what it settles.
        status: ``"ok"`` (the probe ran and the known-answer checks were consistent), ``"failed"`` (the device
            gave an answer no hypothesis explains, or nothing worked), ``"error"`` (the probe itself could not
            run) or ``"skipped"``.
        finding: the settled value (e.g. ``"alphabetical"`` for the input binding order), or None.
        evidence: what was measured, case by case.
        seconds: wall time of the probe.
    """

    name: str
    question: str
    status: str = "ok"
    finding: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Settled:
    """What this run has settled so far, for the probes that come after (never read from a saved report).

    Attributes:
        allocation: how to size surfaces so they are accepted (starts at uniform >= 49,152 bytes, the layout
            every report so far accepts; the allocation probes refine it).
        model_attributes: for the report, the first probe program that was given its I/O names: which probe,
            the binding the backend chose (:attr:`RawRun.binding`) and the loaded model's ``modelAttributes``.
    """

    allocation: Allocation = field(default_factory=lambda: Allocation("uniform", KNOWN_GOOD_BYTES))
    model_attributes: Any = None

    def runtime_settings(self) -> dict[str, Any]:
        """:func:`anekit.config.override` fields that make the runtime lay out surfaces as settled."""
        rule = "exact" if self.allocation.rule == "exact" else "uniform"
        return {"ane_surfaces": rule, "ane_min_surface_bytes": self.allocation.minimum}

    def note(self, probe: str, run: RawRun) -> RawRun:
        if self.model_attributes is None and run.binding is not None:
            self.model_attributes = {"probe": probe, "binding": run.binding, "model_attributes": run.model_attributes}
        return run


# -- binding order ----------------------------------------------------------------------------------------------

#: Names declared in this order sort three different ways: declaration (b, C, a), bytewise (C, a, b) and
#: case-insensitive (a, b, C); Orion docs/ane_constraints.md #3/#13 reports alphabetical binding on M4 Max.
ORDER_NAMES = ("b", "C", "a")


def binding_rules(names: tuple[str, ...] | list[str]) -> dict[str, list[int]]:
    """Candidate rules -> the declared index the ``k``-th surface passed reaches under that rule."""
    idx = range(len(names))
    return {
        "declaration": list(idx),
        "alphabetical": sorted(idx, key=lambda i: names[i]),
        "alphabetical_ci": sorted(idx, key=lambda i: (names[i].lower(), names[i])),
    }


def _decode(mapping: list[int], names: tuple[str, ...]) -> str | None:
    """The rule under which surface ``k`` reaches declared ``mapping[k]``, or None."""
    return next((rule for rule, order in binding_rules(names).items() if order == mapping), None)


def _rule_of_indices(indices: dict[str, int]) -> str | None:
    """The rule under which each declared name has the symbol index ``indices[name]``, or None."""
    names = tuple(indices)
    return _decode(sorted(range(len(names)), key=lambda j: indices[names[j]]), names)


def _settle_order(result: ProbeResult, mapping: list[int]) -> bool:
    """Set the finding from the measured wiring; False (and the probe failed) when no candidate explains it."""
    result.evidence["surface_to_declared"] = mapping
    result.finding = _decode(mapping, ORDER_NAMES)
    if result.finding is None:
        result.status = "failed"
        result.evidence["decoded"] = "no candidate rule wires the surfaces this way"
    return result.finding is not None


def _check_model_attributes(result: ProbeResult, run: RawRun, side: str, verdict: str) -> None:
    """Record how the backend bound the surfaces when given the names (``verdict``: how that run's numbers
    came out), and fail the probe when the loaded model's ``modelAttributes`` contradict the measured rule or
    binding by them gave wrong numbers. Without ``modelAttributes`` the backend falls back to declaration order,
    which is right for any rule only with anekit's canonical I/O names (see :func:`_check_runtime`)."""
    if run.binding is None:
        result.evidence["named_binding"] = run.label()
        return
    indices = run.binding[side]
    from_model = run.binding["source"] == "modelAttributes"
    rule = _rule_of_indices(indices) if from_model else None
    evidence = {"source": run.binding["source"], "symbol_indices": indices, "rule": rule, "result": verdict}
    if from_model and rule != result.finding:
        evidence["problem"] = f"modelAttributes say {rule}, the surfaces showed {result.finding}"
    elif from_model and verdict != "ok":
        evidence["problem"] = "binding by modelAttributes gave wrong numbers"
    if "problem" in evidence:
        result.status = "failed"
    result.evidence["named_binding"] = evidence


def _check_runtime(
    result: ProbeResult, settled: Settled, program: Any, feeds: dict[str, np.ndarray], expected: dict[str, Any]
) -> None:
    """Run ``program`` the way users do (``anekit.compile``: canonical I/O names; surfaces laid out as settled)
    and fail the probe when the numbers are wrong: anekit's own binding must hold whatever rule was measured."""
    from .. import config
    from ..runtime import compile as compile_program

    layout = config.override(**settled.runtime_settings())
    try:
        with layout, compile_program(program, backend="ane", cache=False) as kernel:
            got = kernel(feeds)
        outcome = "ok" if all(np.all(got[name] == np.float32(v)) for name, v in expected.items()) else "wrong"
    except (AnekitError, RuntimeError, ValueError) as exc:
        outcome = f"error: {type(exc).__name__}: {str(exc)[:200]}"
    result.evidence["anekit_runtime"] = outcome
    if outcome != "ok":
        result.status = "failed"


def probe_input_order(settled: Settled) -> ProbeResult:
    """How input surfaces are matched to MIL inputs: declaration order, bytewise or case-insensitive names."""
    result = ProbeResult("input_order", "which MIL input each input surface reaches")
    program = weighted_sum_program(list(ORDER_NAMES))
    feeds = [np.full((1, GOOD_C, 1, GOOD_S), k + 1.0, np.float16) for k in range(len(ORDER_NAMES))]
    run = run_raw(program, feeds, allocation=settled.allocation)
    result.evidence["declared"] = list(ORDER_NAMES)
    if not run.ran:
        result.status, result.evidence["run"] = "failed", run.label()
        return result
    y = int(run.outputs[0].reshape(-1)[0])
    digits = [(y // 10**i) % 10 for i in range(len(ORDER_NAMES))]  # digit i: the fill that reached input i
    result.evidence["y"] = y
    if sorted(digits) != [1, 2, 3] or not np.all(run.outputs[0] == y):
        result.status = "failed"
        result.evidence["decoded"] = f"unexplained output {y}"
        return result
    if not _settle_order(result, [digits.index(k + 1) for k in range(len(ORDER_NAMES))]):
        return result
    named = settled.note(result.name, run_raw(program, feeds, allocation=settled.allocation, names=True))
    _check_model_attributes(result, named, "inputs", named.verdict(321.0))  # fill k + 1 reached input k
    _check_runtime(result, settled, program, dict(zip(ORDER_NAMES, feeds, strict=True)), {"y": 321.0})
    return result


def probe_output_order(settled: Settled) -> ProbeResult:
    """How output surfaces are matched to MIL outputs (three outputs named out of alphabetical order)."""
    result = ProbeResult("output_order", "which MIL output each output surface receives")
    program = fanout_program(list(ORDER_NAMES))
    x = np.ones((1, GOOD_C, 1, GOOD_S), np.float16)
    run = run_raw(program, [x], allocation=settled.allocation)
    result.evidence["declared"] = list(ORDER_NAMES)
    if not run.ran:
        result.status, result.evidence["run"] = "failed", run.label()
        return result
    values = [float(out.reshape(-1)[0]) for out in run.outputs]
    result.evidence["surface_values"] = values
    uniform = all(np.all(out == v) for out, v in zip(run.outputs, values, strict=True))
    if not uniform or sorted(values) != [1.0, 2.0, 3.0]:
        result.status = "failed"
        return result
    if not _settle_order(result, [int(v) - 1 for v in values]):  # output i holds x * (i + 1)
        return result
    named = settled.note(result.name, run_raw(program, [x], allocation=settled.allocation, names=True))
    _check_model_attributes(result, named, "outputs", named.verdict(1.0, 2.0, 3.0))
    _check_runtime(result, settled, program, {"x": x}, {name: i + 1.0 for i, name in enumerate(ORDER_NAMES)})
    return result


# -- surfaces ----------------------------------------------------------------------------------------------------


#: Channel counts of the size sweep ([1, C, 1, 32] fp16 is 64 C bytes): the known-good 768 (49,152 bytes)
#: first, then down; the larger ones only when the known-good size itself is refused.
SWEEP_CHANNELS = (768, 384, 192, 64, 16, 1)
LARGER_CHANNELS = (1536, 3072)


def _identity_case(c: int, allocation: Allocation, rng: np.random.Generator) -> str:
    x = rng.integers(-8, 8, (1, c, 1, GOOD_S)).astype(np.float16)
    return run_raw(identity_program(c, GOOD_S, scale=2.0), [x], allocation=allocation).verdict(x * np.float16(2))


def probe_min_surface(settled: Settled) -> ProbeResult:
    """The smallest surface the device accepts (one input, one output, each exactly its tensor's size),
    sweeping down from 49,152 bytes; whether padding a smaller tensor's surface to that size (data packed at
    offset 0) makes it work. Runs first: the later probes size their surfaces by what it finds."""
    result = ProbeResult("min_surface", "smallest accepted surface, and whether padding small tensors helps")
    rng = np.random.default_rng(4)
    outcomes: dict[int, str] = {}
    for c in SWEEP_CHANNELS[:1] + LARGER_CHANNELS + SWEEP_CHANNELS[1:]:
        if c in LARGER_CHANNELS and outcomes[2 * SWEEP_CHANNELS[0] * GOOD_S] == "ok":
            continue  # the known-good size worked: no need to go up
        outcomes[2 * c * GOOD_S] = _identity_case(c, Allocation("exact"), rng)
        result.evidence[f"{2 * c * GOOD_S} B exact"] = outcomes[2 * c * GOOD_S]
    working = [n for n, v in outcomes.items() if v == "ok"]
    failing = [n for n, v in outcomes.items() if v != "ok"]
    if not working:
        result.status = "failed"
        return result
    smallest_ok = min(working)
    padded_ok = {}
    for nbytes in (n for n in failing if n < smallest_ok):
        outcome = _identity_case(nbytes // (2 * GOOD_S), Allocation("exact", smallest_ok), rng)
        result.evidence[f"{nbytes} B padded to {smallest_ok}"] = outcome
        padded_ok[nbytes] = outcome == "ok"
    consistent = all(n < smallest_ok for n in failing)
    result.finding = {
        # None: no minimum down to the smallest size tried; else the smallest size accepted (the threshold
        # lies above the largest size refused).
        "min_surface_bytes": None if not failing else (smallest_ok if consistent else None),
        "largest_refused": max(failing, default=None),
        "tried_down_to": min(outcomes),
        "padding_helps": bool(padded_ok) and all(padded_ok.values()),
    }
    if not consistent:
        result.status = "failed"  # sizes fail out of order: no threshold explains it
    settled.allocation = Allocation(settled.allocation.rule, smallest_ok if failing else 0)
    return result


def _mixed_case(c: int, allocation: Allocation) -> str:
    """Run the mixed-size program under ``allocation``; ``"ok"``, ``"wrong"`` or the error."""
    rng = np.random.default_rng(3)
    a = rng.integers(-8, 8, (1, c, 1, GOOD_S)).astype(np.float16)
    b = rng.integers(-8, 8, (1, c, 1, 2 * GOOD_S)).astype(np.float16)
    run = run_raw(mixed_size_program(c), [a, b], allocation=allocation)
    return run.verdict(a + b[..., :GOOD_S], b * np.float16(2))


def probe_allocation(settled: Settled) -> ProbeResult:
    """Whether the surfaces of one side must share one allocation size (``"uniform"``, Orion #2/#12), must each
    have exactly their tensor's size (``"exact"``), or either works (``"any"``).

    Every surface is at least the minimum the size sweep found, so only the sharing rule differs.
    """
    result = ProbeResult("allocation", "surface allocation rule: one size per side, exact sizes, or either")
    c = max(GOOD_C, -(-settled.allocation.minimum // (2 * GOOD_S)))  # the smaller tensor >= the minimum
    result.evidence["shapes"] = f"[1, {c}, 1, {GOOD_S}] and [1, {c}, 1, {2 * GOOD_S}] per side"
    outcomes = {rule: _mixed_case(c, Allocation(rule)) for rule in ("exact", "uniform")}
    result.evidence.update(outcomes)
    working = [rule for rule, outcome in outcomes.items() if outcome == "ok"]
    if not working:
        result.status = "failed"
        return result
    result.finding = working[0] if len(working) == 1 else "any"
    # Uniform padding is what anekit uses by default; keep it unless only exact sizes are accepted.
    settled.allocation = Allocation("exact" if result.finding == "exact" else "uniform", settled.allocation.minimum)
    return result


#: Sequence lengths of decode-style shapes [1, 768, 1, S] (Orion docs/ane_constraints.md #4 uses a bucket of 16).
SEQ_BUCKETS = (1, 16, 32)


def probe_seq_bucket(settled: Settled) -> ProbeResult:
    """Whether a decode-style ``[1, 768, 1, 1]`` tensor works, exactly sized and padded, or needs a bucket."""
    result = ProbeResult("seq_bucket", "does S = 1 work for [1, 768, 1, S] or is a sequence bucket needed")
    working: dict[str, list[int]] = {"exact": [], "padded": []}
    padded = Allocation("exact", max(KNOWN_GOOD_BYTES, settled.allocation.minimum))
    for s in SEQ_BUCKETS:
        x = (np.arange(GOOD_C * s, dtype=np.float32).reshape(1, GOOD_C, 1, s) % 17).astype(np.float16)
        expected = (x * np.float16(3)).astype(np.float32)
        program = identity_program(GOOD_C, s, scale=3.0)
        for layout, alloc in (("exact", Allocation("exact")), ("padded", padded)):
            label = run_raw(program, [x], allocation=alloc).verdict(expected)
            result.evidence[f"S={s} {layout}"] = label
            if label == "ok":
                working[layout].append(s)
    if not working["exact"] and not working["padded"]:
        result.status = "failed"
        return result
    result.finding = {
        "s1_exact": 1 in working["exact"],
        "s1_padded": 1 in working["padded"],
        "smallest_exact_seq": min(working["exact"], default=None),
    }
    return result


def probe_spatial_sizes(settled: Settled) -> ProbeResult:
    """Which spatial sizes S of ``[1, C, 1, S]`` give correct results, surfaces laid out as settled."""
    result = ProbeResult("spatial_sizes", "which spatial sizes S work for [1, C, 1, S] I/O")
    result.evidence["allocation"] = settled.allocation.describe()
    outcomes: dict[int, str] = {}
    rng = np.random.default_rng(0)
    for s in (32, 64, 48, 33, 31, 24, 16, 8, 2, 1):  # the known-good 32 first, then the others
        x = rng.integers(-8, 8, (1, GOOD_C, 1, s)).astype(np.float16)
        run = run_raw(identity_program(GOOD_C, s, scale=2.0), [x], allocation=settled.allocation)
        outcomes[s] = run.verdict(x * np.float16(2))
        result.evidence[str(s)] = outcomes[s]
    working = sorted(s for s, v in outcomes.items() if v == "ok")
    if not working:
        result.status = "failed"
        return result
    multiple = next((m for m in (1, 2, 8, 16, 32) if all((s % m == 0) == (s in working) for s in outcomes)), None)
    result.finding = {"min_spatial": min(working), "spatial_multiple": multiple, "working": working}
    return result


# -- program features ------------------------------------------------------------------------------------------


def probe_dialect(settled: Settled) -> ProbeResult:
    """Which MIL dialect compiles: ``program(1.3)`` with ``ios18`` shorthand or ``program(1.0)`` / ``ios16``."""
    result = ProbeResult("dialect", "which MIL dialect compiles (docs/internals/ane-private-api.md §24 #1)")
    x = np.ones((1, GOOD_C, 1, GOOD_S), np.float16)
    working = []
    for opset in ("ios18", "ios16"):
        run = run_raw(identity_program(opset=opset, scale=5.0), [x], allocation=settled.allocation)
        result.evidence[opset] = run.verdict(5.0)
        if result.evidence[opset] == "ok":
            working.append(opset)
    result.finding = working
    if not working:
        result.status = "failed"
    return result


def probe_multi_input(settled: Settled) -> ProbeResult:
    """How many inputs a program may take (1 to 4 tried, names in declaration = alphabetical order)."""
    result = ProbeResult("multi_input", "how many inputs one program can take")
    best = 0
    for n in range(1, 5):
        names = [f"in{i}" for i in range(n)]  # sorted every way, so binding order cannot spoil the answer
        feeds = [np.full((1, GOOD_C, 1, GOOD_S), 1.0, np.float16) for _ in names]
        run = run_raw(weighted_sum_program(names), feeds, allocation=settled.allocation)
        result.evidence[str(n)] = run.verdict(sum(10.0**i for i in range(n)))
        if result.evidence[str(n)] == "ok":
            best = n
    result.finding = {"max_inputs_tested_ok": best}
    if best == 0:
        result.status = "failed"
    return result


def probe_fp32_io(settled: Settled) -> ProbeResult:
    """Whether fp32 function inputs/outputs with casts inside work (§14)."""
    result = ProbeResult("fp32_io", "whether fp32 I/O with casts inside works")
    x = np.random.default_rng(1).standard_normal((1, GOOD_C, 1, GOOD_S)).astype(np.float32)
    expected = (x.astype(np.float16) * np.float16(2)).astype(np.float32)
    result.evidence["cast_io"] = run_raw(cast_io_program(), [x], allocation=settled.allocation).verdict(expected)
    result.finding = result.evidence["cast_io"] == "ok"
    return result


def probe_execution_paths(settled: Settled) -> ProbeResult:
    """Which execution paths (§17) evaluate correctly."""
    result = ProbeResult("execution_paths", "which execution paths work")
    x = np.random.default_rng(2).integers(-8, 8, (1, GOOD_C, 1, GOOD_S)).astype(np.float16)
    info = _core.ane.runtime_info()
    advertised = list(info.get("execution_paths", []))
    working = []
    for path in _core.ane.EXECUTION_PATHS:
        if path not in advertised:
            result.evidence[path] = "not available: selector missing"
            continue
        result.evidence[path] = run_raw(identity_program(), [x], allocation=settled.allocation, path=path).verdict(x)
        if result.evidence[path] == "ok":
            working.append(path)
    result.finding = working
    if "standard" not in working:
        result.status = "failed"
    return result


def probe_perf_stats(settled: Settled) -> ProbeResult:
    """Whether the framework reports a hardware execution time (§18)."""
    result = ProbeResult("perf_stats", "whether hardware execution time is reported")
    x = np.ones((1, GOOD_C, 1, GOOD_S), np.float16)
    run = run_raw(identity_program(), [x], allocation=settled.allocation, perf_stats=True)
    if not run.ran:
        result.status, result.evidence["run"] = "error", run.label()
        return result
    result.evidence["hw_time_s"] = None if run.hw_ns is None else run.hw_ns * 1e-9
    result.finding = run.hw_ns is not None
    return result


Probe = Callable[[Settled], ProbeResult]

#: Probes run by default, in order: surface sizes first (the later probes lay out surfaces by them).
PROBES: dict[str, Probe] = {
    "min_surface": probe_min_surface,
    "allocation": probe_allocation,
    "input_order": probe_input_order,
    "output_order": probe_output_order,
    "seq_bucket": probe_seq_bucket,
    "spatial_sizes": probe_spatial_sizes,
    "dialect": probe_dialect,
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
        result = ProbeResult(name, name, "error", evidence={"error": f"{type(exc).__name__}: {exc}"})
    result.seconds = time.perf_counter() - t0
    return result
