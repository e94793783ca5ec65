"""anekit.verify and `python -m anekit verify`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import anekit
from anekit import mil
from anekit.runtime.verify import _compare, random_inputs

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "mil"


def test_reference_verifies_against_itself(conv_relu: mil.Program) -> None:
    report = anekit.verify(conv_relu, backend="reference")
    assert report and report.passed
    (out,) = report.outputs
    assert out.max_abs_error == 0 and out.cosine == pytest.approx(1.0)
    assert "PASS" in report.format()


def test_random_inputs_follow_the_signature(two_io: mil.Program) -> None:
    feeds = random_inputs(two_io, seed=3)
    assert set(feeds) == {"a", "b"}
    assert feeds["a"].shape == (1, 8, 1, 16)
    np.testing.assert_array_equal(feeds["a"], random_inputs(two_io, seed=3)["a"])


def test_compare_flags_errors_beyond_fp16_tolerance() -> None:
    ref = np.linspace(-4, 4, 1000)
    ok = _compare("y", ref * (1 + 2**-9), ref, 2**-7, 2**-9, 0.999)
    assert ok.passed and ok.mismatched == 0
    bad = _compare("y", ref * (1 + 2**-5), ref, 2**-7, 2**-9, 0.999)
    assert not bad.passed and bad.mismatched > 0
    inf_ref = np.array([1.0, np.inf])
    assert not _compare("y", np.array([1.0, 65504.0]), inf_ref, 2**-7, 2**-9, 0.999).passed
    assert not _compare("y", np.zeros(3), np.zeros(4), 2**-7, 2**-9, 0.999).passed


def test_verify_rejects_bad_tolerances(conv_relu: mil.Program) -> None:
    with pytest.raises(ValueError, match="rtol"):
        anekit.verify(conv_relu, backend="reference", rtol=-1)
    with pytest.raises(ValueError, match="min_cosine"):
        anekit.verify(conv_relu, backend="reference", min_cosine=2)


@pytest.mark.skipif(not CORPUS.exists(), reason=f"shared corpus not found at {CORPUS}")
def test_cli_verify_on_a_corpus_bundle() -> None:
    bundle = CORPUS / "silero_vad_fp16_ios15.mlmodelc"
    res = subprocess.run(
        [sys.executable, "-m", "anekit", "verify", str(bundle), "--backend", "reference"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "PASS vad_output" in res.stdout
