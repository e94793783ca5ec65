"""Bounded mutation fuzz of parse -> validate -> emit -> compile (reference backend) -> run (issue #11).

Seeds: the small corpus bundles (with their real weight files), the docs' ANE examples and builder programs
(:mod:`_mil_fuzz`). Each case applies one to three mutations (numbers, dtypes, ops, statements, identifiers,
outputs, opsets/headers, bracketed spans, raw characters, truncation) or corrupts a field of a weight file,
then drives the whole chain. Every case must either raise one of anekit's own error types with a message
before it is compiled, or round-trip through the emitter, compile and run with outputs of the declared shapes;
any other exception, a compiled program that fails to run, a broken invariant or a case running past its time
limit fails the test with the mutated text. Findings so far are kept in test_adv_mil_findings.py.

CI time (Debian 12 x86-64 VM, 2 cores shared with other jobs): the 10,000-case run (marked slow) took 36 s
wall / 21 s CPU at a load average of 9, and up to 100 s wall when the machine was busier; the 400-case run in
the default selection takes 1-4 s.
"""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from _mil_fuzz import Hang, mutate, picker, run_chain, seeds, time_limit

#: Per-case limit: a hang detector, not a performance assertion (a case takes milliseconds).
CASE_SECONDS = 20.0


def _fuzz(n: int, seed: int) -> Counter[str]:
    rng = random.Random(seed)
    values = np.random.default_rng(seed)
    all_seeds = seeds()
    pick = picker(all_seeds, rng)
    reached: Counter[str] = Counter()
    for i in range(n):
        origin = pick()
        text, weights = mutate(origin, rng)
        try:
            with time_limit(CASE_SECONDS):
                reached[run_chain(text, weights, values)] += 1
        except (AssertionError, Hang, Exception) as exc:
            corrupted = "" if weights is origin.weights else " (weight file corrupted)"
            raise AssertionError(
                f"fuzz case {i} (seed {seed}) from {origin.name}{corrupted}: {type(exc).__name__}: {exc}\n"
                f"--- mutated text ---\n{text[:6000]}"
            ) from exc
    return reached


def test_every_seed_runs_the_whole_chain_unmutated() -> None:
    values = np.random.default_rng(0)
    stages = {s.name: run_chain(s.text, s.weights, values) for s in seeds()}
    # Bundles without weights and the docs' fragments stop at compile; every builder program and the
    # Silero bundles with their weight files run.
    for name in ("conv_ln_ios18", "rmsnorm_ios16", "attention_ios17", "concat_scalar_ios18", "elementwise_ios15"):
        assert stages[name] == "ran", (name, stages[name])
    assert stages["silero_vad_fp16_ios15.mlmodelc"] == "ran"
    assert stages["silero_vad_int8_affine_ios16.mlmodelc"] == "ran"


def _check_reach(reached: Counter[str], n: int) -> None:
    # The mutations must keep reaching the far end of the chain, or the fuzz silently tests only the parser.
    assert sum(reached.values()) == n
    assert reached["compile"] + reached["run"] + reached["ran"] >= n // 5, reached
    assert reached["ran"] >= n // 40, reached


def test_mutation_fuzz_400() -> None:
    _check_reach(_fuzz(400, seed=11), 400)


@pytest.mark.slow
def test_mutation_fuzz_10k() -> None:
    _check_reach(_fuzz(10_000, seed=2026), 10_000)
