"""``anekit bench``: arguments, bad input (clear ``error: ...``, exit 2, before anything runs), outputs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from _bench_fixtures import synthetic

import anekit
from anekit.__main__ import main
from anekit.bench import SCHEMA
from anekit.bench.schema import check_document


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(["bench", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error: " in err
    return err


def test_unknown_suite(capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["peak", "gpu-stuff", "--quick"], capsys)
    assert "unknown suite(s) gpu-stuff; expected some of io, dispatch, peak" in err


def test_unwritable_json_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "does not exist" in _fails(["io", "--json", str(tmp_path / "no" / "r.json")], capsys)
    assert "is a directory" in _fails(["io", "--json", str(tmp_path)], capsys)
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert "not writable" in _fails(["io", "--json", str(locked / "r.json")], capsys)


def test_plots_dir_that_cannot_be_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    assert "cannot create the directory" in _fails(["io", "--plots", str(blocker / "plots")], capsys)


def test_malformed_compare_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "anekit-bench", "version": 1}', encoding="utf-8")
    err = _fails(["io", "--compare", str(bad)], capsys)
    assert f"--compare: {bad}: result lacks the field 'created'" in err
    bad.write_text("not json", encoding="utf-8")
    assert "is not JSON" in _fails(["io", "--compare", str(bad)], capsys)
    assert "cannot read result file" in _fails(["io", "--compare", str(tmp_path / "missing.json")], capsys)


def test_every_problem_is_reported_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _fails(["nope", "--json", str(tmp_path / "x" / "r.json")], capsys)
    assert "unknown suite(s) nope" in err and "does not exist" in err


def test_ane_backend_where_unusable(capsys: pytest.CaptureFixture[str]) -> None:
    if anekit.info()["ane_usable"]:
        pytest.skip("an ANE framework is usable in this process")
    assert "the ANE backend is not usable here" in _fails(["io", "--backend", "ane", "--quick"], capsys)


def test_bad_backend_choice(capsys: pytest.CaptureFixture[str]) -> None:
    assert "invalid choice: 'gpu'" in _fails(["--backend", "gpu"], capsys)


def test_schema_flag_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--schema"]) == 0
    assert json.loads(capsys.readouterr().out) == SCHEMA


def test_run_json_plots_and_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    saved = tmp_path / "saved.json"
    synthetic().to_json(saved)
    out_json, plots = tmp_path / "r.json", tmp_path / "plots"
    status = main(
        ["bench", "sram", "--quick", "--quiet", "--json", str(out_json), "--plots", str(plots), "--compare", str(saved)]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "NOT ANE FIGURES" in out and "== sram:" in out
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    check_document(doc)
    assert doc["quick"] is True and list(doc["suites"]) == ["sram"]
    assert sorted(p.name for p in plots.iterdir()) == ["roofline.png", "sram_curve.png"]
    assert all(p.stat().st_size > 1000 for p in plots.iterdir())
    assert "comparison: this run" in out and "only in this run: suite sram" in out


@pytest.mark.usefixtures("no_cached_kernels")
def test_flagged_rows_give_exit_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    from anekit import budget

    with budget.simulate(limit=budget.used(), failure="silent"):
        assert main(["bench", "peak", "--quick", "--quiet"]) == 1
    assert "FLAGGED" in capsys.readouterr().out


def test_plots_without_matplotlib(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    assert "plots need matplotlib: pip install 'anekit[bench]'" in _fails(["io", "--plots", "somewhere"], capsys)
