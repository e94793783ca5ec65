"""anekit.models.sampling: greedy, temperature, top-k, top-p, min-p and repetition penalty, reproducible by seed."""

from __future__ import annotations

import numpy as np
import pytest

from anekit.models.sampling import Sampler, SamplingParams

LOGITS = np.log(np.array([0.05, 0.5, 0.2, 0.15, 0.1]))  # probabilities at temperature 1


def test_greedy_is_the_argmax_whatever_the_other_settings() -> None:
    assert Sampler()(LOGITS) == 1
    assert Sampler(SamplingParams(top_k=3, top_p=0.5, seed=1))(LOGITS) == 1
    assert np.array_equal(Sampler().probabilities(LOGITS), np.eye(5)[1])


def test_temperature_one_is_the_softmax_and_draws_follow_it() -> None:
    s = Sampler(SamplingParams(temperature=1.0, seed=0))
    np.testing.assert_allclose(s.probabilities(LOGITS), np.exp(LOGITS), rtol=1e-12)
    counts = np.bincount([s(LOGITS) for _ in range(20000)], minlength=5) / 20000
    # Binomial standard deviation is at most 0.0036 here: 5 sigma.
    np.testing.assert_allclose(counts, np.exp(LOGITS), atol=0.018)


def test_temperature_sharpens_and_flattens() -> None:
    cold = Sampler(SamplingParams(temperature=0.5)).probabilities(LOGITS)
    hot = Sampler(SamplingParams(temperature=2.0)).probabilities(LOGITS)
    assert cold[1] > np.exp(LOGITS[1]) > hot[1]
    np.testing.assert_allclose(cold, np.exp(2 * LOGITS) / np.exp(2 * LOGITS).sum())


def test_top_k_top_p_and_min_p_keep_the_right_tokens() -> None:
    def kept(**kw: float) -> list[int]:
        return list(np.flatnonzero(Sampler(SamplingParams(temperature=1.0, **kw)).probabilities(LOGITS)))

    assert kept(top_k=2) == [1, 2]
    # top_p: the smallest set of most likely tokens whose mass reaches top_p (0.5 reaches 0.45; 0.5 + 0.2, 0.65).
    assert kept(top_p=0.45) == [1]
    assert kept(top_p=0.65) == [1, 2]
    assert kept(top_p=0.01) == [1]  # never empty
    assert kept(min_p=0.3) == [1, 2, 3]  # >= 0.3 * 0.5
    p = Sampler(SamplingParams(temperature=1.0, top_k=3)).probabilities(LOGITS)
    np.testing.assert_allclose(p[[1, 2, 3]], np.array([0.5, 0.2, 0.15]) / 0.85)


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits() -> None:
    logits = np.array([2.0, 1.9, -1.0, 0.5])
    s = Sampler(SamplingParams(repetition_penalty=2.0))
    assert s(logits) == 0
    assert s(logits, history=[0]) == 1  # 2.0 / 2 = 1.0 < 1.9
    z = s._penalized(logits, [0, 2, 2])
    np.testing.assert_array_equal(z, [1.0, 1.9, -2.0, 0.5])


def test_a_seed_reproduces_the_draws() -> None:
    params = SamplingParams(temperature=1.0, seed=123)
    a, b, c = Sampler(params), Sampler(params), Sampler(SamplingParams(temperature=1.0, seed=124))
    draws = [a(LOGITS) for _ in range(50)]
    assert draws == [b(LOGITS) for _ in range(50)]
    assert draws != [c(LOGITS) for _ in range(50)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": -1}, "temperature must be >= 0"),
        ({"temperature": float("nan")}, "temperature must be a finite number"),
        ({"top_k": -1}, "top_k must be an int"),
        ({"top_k": 2.5}, "top_k must be an int"),
        ({"top_p": 0}, r"top_p must be in \(0, 1\]"),
        ({"min_p": 1}, r"min_p must be in \[0, 1\)"),
        ({"repetition_penalty": 0}, "repetition_penalty must be > 0"),
        ({"seed": -3}, "seed must be None or an int"),
        ({"seed": True}, "seed must be None or an int"),
        ({"seed": np.bool_(True)}, "seed must be None or an int"),
        ({"top_k": np.float64(3)}, "top_k must be an int"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SamplingParams(**kwargs)


def test_numpy_integers_are_ints() -> None:
    """Before: ``seed=np.int64(3)`` (a seed drawn or computed with numpy) was refused as "not an int"."""
    p = SamplingParams(temperature=0.7, top_k=np.int32(5), seed=np.int64(3))
    assert p == SamplingParams(temperature=0.7, top_k=5, seed=3) and type(p.seed) is int and type(p.top_k) is int


def test_bad_logits_are_refused() -> None:
    with pytest.raises(ValueError, match="1-D"):
        Sampler()(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        Sampler()(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="history ids"):
        Sampler(SamplingParams(repetition_penalty=1.2))(LOGITS, history=[7])
