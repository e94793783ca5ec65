"""The result file: JSON round trip, schema, validation errors, and the text and HTML views."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from _bench_fixtures import synthetic

from anekit.bench import SCHEMA, BenchFormatError, BenchResults
from anekit.bench.schema import FORMAT_VERSION, check_document


def test_json_round_trip(tmp_path: Path) -> None:
    results = synthetic(flag_second=True)
    path = tmp_path / "r.json"
    text = results.to_json(path)
    assert path.read_text(encoding="utf-8") == text
    back = BenchResults.from_json(path)
    assert back.to_dict() == results.to_dict()
    assert BenchResults.from_json(text).to_dict() == results.to_dict()  # JSON text is accepted too
    assert [r.name for _, r in back.flagged_rows()] == ["16x conv 512ch sp64"]


def test_document_matches_the_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    doc = json.loads(synthetic().to_json())
    jsonschema.validate(doc, SCHEMA)
    assert doc["version"] == FORMAT_VERSION


def test_non_finite_figures_are_written_as_null() -> None:
    results = synthetic(tflops=(float("inf"), 1.0))
    doc = json.loads(results.to_json())
    assert doc["suites"]["peak"]["rows"][0]["metrics"]["tflops"] is None


def _broken(edit) -> dict:  # type: ignore[no-untyped-def]
    doc = json.loads(synthetic().to_json())
    edit(doc)
    return doc


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.update(version=99), "format version 99 is not supported"),
        (lambda d: d.update(format="other"), "result.format must be 'anekit-bench'"),
        (lambda d: d.pop("machine"), "result lacks the field 'machine'"),
        (lambda d: d["suites"]["peak"]["rows"][0].pop("verified"), r"suites.peak.rows\[0\] lacks the field 'verified'"),
        (lambda d: d["suites"]["peak"]["rows"][1]["metrics"].update(tflops="fast"), "tflops must be of type number"),
        (lambda d: d["suites"]["peak"].update(compiles=-1), "compiles must be >= 0"),
        (lambda d: d.update(backend="gpu"), "backend must be one of"),
        (lambda d: d["suites"]["peak"]["columns"].update(ms=["only one"]), "has 1 items"),
    ],
)
def test_invalid_documents_are_rejected_with_the_location(edit, match: str) -> None:  # type: ignore[no-untyped-def]
    doc = _broken(edit)
    with pytest.raises(BenchFormatError, match=match):
        check_document(doc)
    jsonschema = pytest.importorskip("jsonschema")
    if "version 99" not in match:  # our message for a newer version; the schema rejects it as a const too
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, SCHEMA)


def test_from_json_errors(tmp_path: Path) -> None:
    with pytest.raises(BenchFormatError, match="cannot read result file"):
        BenchResults.from_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(BenchFormatError, match="is not JSON"):
        BenchResults.from_json(bad)
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(BenchFormatError, match="result must be of type object"):
        BenchResults.from_json(bad)
    with pytest.raises(TypeError, match="expected a path or JSON text"):
        BenchResults.from_json(3)  # type: ignore[arg-type]


def test_table_flags_wrong_rows_and_says_these_are_not_ane_figures() -> None:
    text = synthetic(flag_second=True).table()
    assert "NOT ANE FIGURES" in text
    wrong = [line for line in text.splitlines() if "WRONG" in line]
    assert len(wrong) == 1 and wrong[0].startswith(" ! ") and "512" in wrong[0]
    assert "FLAGGED: 1 row(s)" in text
    assert "every measured kernel's outputs matched" not in text
    # The path table is laid out as rows x paths, like ane-private-api.md §17.4.
    lines = text.splitlines()
    i = lines.index("   evaluate ms by path:")
    assert lines[i + 1].split() == ["standard"]
    assert lines[i + 2].split() == ["reference", "scale", "64x32", "0.02"]


def test_html_view() -> None:
    html = synthetic(flag_second=True)._repr_html_()
    assert "NOT ANE FIGURES" in html
    assert "WRONG" in html and "color:#b00" in html
    assert "<table>" in html


def test_ane_results_have_no_banner() -> None:
    results = synthetic()
    results.ane_figures = True
    results.backend = "ane"
    assert results.banner == "" and "NOT ANE" not in results.table()


def test_schema_document_is_not_shared_mutable_state() -> None:
    before = copy.deepcopy(SCHEMA)
    check_document(json.loads(synthetic().to_json()))
    assert before == SCHEMA
