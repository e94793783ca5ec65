"""anekit.verify and `python -m anekit verify`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import anekit
from anekit import mil
from anekit.runtime.verify import _compare, random_inputs

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "mil"


def test_reference_backend_is_compared_with_fp64_not_itself(conv_relu: mil.Program) -> None:
    report = anekit.verify(conv_relu, backend="reference")
    assert report.baseline == "fp64"
    assert report.compared == ("reference backend, ANE fp16 semantics", "reference executor, fp64")
    (out,) = report.outputs
    # fp16 rounding shows against fp64: comparing the reference with itself always gave exactly 0 and 1.0.
    assert 0 < out.max_abs_error < 0.05 and 0.999 < out.cosine < 1.0
    assert report.passed
    assert "reference backend, ANE fp16 semantics vs reference executor, fp64" in report.format()


def test_verify_defaults_to_the_best_usable_backend(conv_relu: mil.Program) -> None:
    report = anekit.verify(conv_relu)  # no backend: like anekit.compile, never AneUnavailableError
    assert report.backend == anekit.info()["default_backend"]


def test_explicit_baseline(conv_relu: mil.Program) -> None:
    same = anekit.verify(conv_relu, backend="reference", baseline="ane")
    (out,) = same.outputs
    assert out.max_abs_error == 0 and same.compared[1] == "reference executor, ANE fp16 semantics"
    with pytest.raises(ValueError, match="baseline must be one of"):
        anekit.verify(conv_relu, baseline="fp32")


@pytest.mark.objc
def test_device_backend_is_compared_with_the_fp16_reference(conv_relu: mil.Program, fake_ane_ref: object) -> None:
    report = anekit.verify(conv_relu, backend="ane")
    assert report.backend == "ane" and report.baseline == "ane"
    assert report.compared == ("ane backend", "reference executor, ANE fp16 semantics")


def test_report_displays(conv_relu: mil.Program) -> None:
    report = anekit.verify(conv_relu, backend="reference")
    assert repr(report) == str(report) == report.format()
    assert "OutputComparison(" not in repr(report)
    lines = report.format().splitlines()
    assert lines[0].startswith("verify PASS:")
    assert lines[2].split() == ["output", "shape", "max", "abs", "max", "rel", "cosine", "outside", "tol"]
    html = report._repr_html_()
    assert html.count("<tr>") == 1 + len(report.outputs) and "verify PASS" in html
    data = json.loads(json.dumps(report.to_dict()))
    assert data["compared"] == list(report.compared) and data["outputs"][0]["passed"] is True


def test_report_html_is_escaped() -> None:
    from anekit.runtime.verify import OutputComparison, VerifyReport

    bad = OutputComparison("<script>", (2,), 1.0, 1.0, 0.5, 2, False, False)
    html = VerifyReport("reference", [bad], 2**-7, 2**-9, 0.999)._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "verify FAIL" in html


def test_verify_rejects_a_non_program() -> None:
    with pytest.raises(TypeError, match=r"anekit.verify: expected an anekit.mil.Program, got builtins.str; .*mil.load"):
        anekit.verify("model.mil")  # type: ignore[arg-type]


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
    assert "verify PASS: reference backend, ANE fp16 semantics vs reference executor, fp64" in res.stdout
    assert any(line.split()[:2] == ["PASS", "vad_output"] for line in res.stdout.splitlines())


def test_help_explains_tolerances_without_pointing_at_a_hidden_module() -> None:
    doc = anekit.verify.__doc__ or ""
    assert "module docstring" not in doc
    assert "|got - expected| <= atol * scale + rtol * |expected|" in doc
    assert "docs/guide/verify.md" in doc


def test_verify_passes_on_every_backend_and_fake_mode(backend: str, out_of_order: mil.Program) -> None:
    # Three inputs and three outputs declared out of alphabetical order: a mis-bound surface changes numbers.
    report = anekit.verify(out_of_order, backend=backend)
    assert report.passed, report.format()
    assert [o.name for o in report.outputs] == ["q", "k", "v"]


def test_verify_takes_every_input_form_a_kernel_takes(conv_relu: mil.Program) -> None:
    # (C, S), a per-channel (C, 1) column and the full shape: the forms Surface.write and Kernel accept.
    col = np.linspace(-1, 1, 64, dtype=np.float32).reshape(64, 1)
    for x in (np.tile(col, (1, 32)), col, np.broadcast_to(col.reshape(1, 64, 1, 1), (1, 64, 1, 32))):
        assert anekit.verify(conv_relu, inputs={"x": x}, backend="reference").passed
    with pytest.raises(ValueError, match=r"input 'x' has shape \(3, 5\); expected \(1, 64, 1, 32\), \(64, 32\)"):
        anekit.verify(conv_relu, inputs={"x": np.zeros((3, 5))}, backend="reference")
