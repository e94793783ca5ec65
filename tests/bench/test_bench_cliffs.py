"""Cliff detection on synthetic and published curves (anekit.bench.cliffs)."""

from __future__ import annotations

import numpy as np
import pytest

from anekit.bench.cliffs import detect_cliffs

# Upstream's M4 Max sram_probe sweep (reference-numbers.md §6): channels -> (MB of weights, TFLOPS).
M4_MAX_MB = [8.0, 12.5, 18.0, 24.5, 32.0, 40.5, 50.0, 72.0, 128.0]
M4_MAX_TFLOPS = [1.31, 3.53, 3.60, 3.97, 1.89, 4.83, 5.09, 5.73, 1.02]


def test_published_m4_max_curve() -> None:
    c = detect_cliffs(M4_MAX_MB, M4_MAX_TFLOPS)
    assert c.peak_efficiency == 12.5  # 282.6 GFLOPS/MB, upstream's "peak efficiency"
    assert c.first_spill == 32.0  # 1.89 after 3.97: -52%
    assert c.catastrophic_spill == 128.0  # 1.02 after 5.73: -82%


def test_rising_then_flat_curve_has_no_cliff() -> None:
    sizes = [1, 2, 4, 8, 16, 32, 64, 128]
    tflops = [0.5, 1.0, 2.0, 3.0, 3.5, 3.6, 3.6, 3.6]
    c = detect_cliffs(sizes, tflops)
    assert c.first_spill is None and c.catastrophic_spill is None
    assert c.peak_efficiency == 1  # efficiency falls once throughput saturates


@pytest.mark.parametrize("seed", range(10))
def test_noisy_cliff_free_curve_reports_no_cliff(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = np.geomspace(1, 256, 24)
    clean = 4.0 * sizes / (sizes + 4.0)  # saturating throughput, no cliff
    noisy = clean * (1 + rng.uniform(-0.15, 0.15, sizes.size))
    c = detect_cliffs(sizes, noisy)
    assert c.first_spill is None and c.catastrophic_spill is None


@pytest.mark.parametrize("seed", range(10))
def test_noisy_curve_with_cliffs_finds_them(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = np.arange(4, 132, 4, dtype=float)
    clean = np.where(sizes < 32, 4.0, np.where(sizes < 96, 2.0, 0.5))
    noisy = clean * (1 + rng.uniform(-0.1, 0.1, sizes.size))
    c = detect_cliffs(sizes, noisy)
    assert c.first_spill == 32
    assert c.catastrophic_spill == 96
    assert c.peak_efficiency == 4


def test_a_drop_within_the_measured_spread_is_not_a_cliff() -> None:
    sizes = [1, 2, 3, 4]
    tflops = [4.0, 4.0, 2.4, 4.0]  # -40%: a spill on the medians alone
    assert detect_cliffs(sizes, tflops).first_spill == 3
    # ... but the measurement's own spread at size 3 reaches 3.9: the drop cannot be told from noise.
    c = detect_cliffs(sizes, tflops, low=[3.8, 3.8, 2.0, 3.8], high=[4.2, 4.2, 3.9, 4.2])
    assert c.first_spill is None


def test_catastrophic_without_earlier_spill_is_both() -> None:
    c = detect_cliffs([1, 2, 3], [4.0, 4.0, 0.5])
    assert c.first_spill == 3 and c.catastrophic_spill == 3


def test_single_point_and_empty() -> None:
    assert detect_cliffs([5.0], [1.0]).peak_efficiency == 5.0
    assert detect_cliffs([], []).to_dict() == {"peak_efficiency": None, "first_spill": None, "catastrophic_spill": None}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sizes": [1, 2], "throughput": [1.0]}, "has 1 values, expected 2"),
        ({"sizes": [2, 1], "throughput": [1.0, 1.0]}, "strictly increasing"),
        ({"sizes": [0, 1], "throughput": [1.0, 1.0]}, "positive"),
        ({"sizes": [1, 2], "throughput": [1.0, -1.0]}, "non-negative"),
        ({"sizes": [1, 2], "throughput": [1.0, float("nan")]}, "non-finite"),
        ({"sizes": [1, 2], "throughput": ["a", 1.0]}, "sequence of numbers"),
        ({"sizes": [1, 2], "throughput": [1.0, 1.0], "spill_drop": 0.8}, "spill_drop <= catastrophic_drop"),
    ],
)
def test_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        detect_cliffs(**kwargs)
