"""Tests of ``python -m anekit check``: text and JSON output, exit status, folders and parse errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from anekit.__main__ import main

DATA = Path(__file__).resolve().parent / "data" / "mil"
EXAMPLE = DATA / "ane_examples" / "example_8_2.mil"
FLEXIBLE = DATA / "fluidaudio_transpose_flexible_ios16.mlmodelc"

GOOD = """program(1.0)
{
    func main<ios16>(tensor<fp16, [1, 64, 1, 384]> x) {
            tensor<fp16, [1, 64, 1, 384]> y = relu(x = x)[name = tensor<string, []>("r")];
        } -> (y);
}
"""
BAD_TYPE = GOOD.replace("tensor<fp16, [1, 64, 1, 384]> y", "tensor<fp16, [1, 64, 1, 385]> y")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = main(["check", *argv])
    return rc, capsys.readouterr().out


def test_clean_program_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "model.mil"
    f.write_text(GOOD)
    rc, out = _run(capsys, str(f))
    assert rc == 0
    assert ": ok" in out
    assert "func main<ios16>" in out
    assert "relu" in out
    assert "no findings" in out


def test_error_exit_status_and_grouping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.mil"
    f.write_text(BAD_TYPE)
    rc, out = _run(capsys, str(f), "--target", "any")
    assert rc == 1
    assert "FAILED" in out
    assert "1 error:" in out
    assert "[type-mismatch]" in out
    assert "line 4" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    if not FLEXIBLE.is_dir():
        pytest.skip("corpus copy absent")
    rc, out = _run(capsys, str(FLEXIBLE), "--json")
    data = json.loads(out)
    assert rc == 1
    assert data["ok"] is False
    assert data["target"] == "ane"
    prog = data["programs"][0]
    assert prog["counts"]["error"] >= 1
    assert any(d["rule"] == "ane-dynamic-shape" and d["hint"] for d in prog["diagnostics"])
    assert prog["summary"]["functions"][0]["opset"] == "ios16"
    rc_any, out_any = _run(capsys, str(FLEXIBLE), "--json", "--target", "any")
    assert rc_any == 0
    assert json.loads(out_any)["ok"] is True


def test_folder_of_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not EXAMPLE.is_file():
        pytest.skip("ANE examples absent")
    shutil.copy(EXAMPLE, tmp_path / "a.mil")
    (tmp_path / "m.mlmodelc").mkdir()
    (tmp_path / "m.mlmodelc" / "model.mil").write_text(GOOD)
    rc, out = _run(capsys, str(tmp_path), "--no-summary")
    assert rc == 0
    assert out.count("== ") == 2
    assert "op type" not in out


def test_parse_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "broken.mil"
    f.write_text(GOOD.replace("relu(x = x)", "relu(x = )"))
    rc, out = _run(capsys, str(f))
    assert rc == 1
    assert "parse error" in out
    assert "line 4" in out
    rc, out = _run(capsys, str(f), "--json")
    data = json.loads(out)
    assert rc == 1
    assert data["programs"][0]["parse_error"]["line"] == 4


def test_dialect_mix_is_checked_on_the_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "model.mil"
    f.write_text(GOOD.replace('[name = tensor<string, []>("r")]', '[name = string("r")]'))
    rc, out = _run(capsys, str(f), "--target", "any")
    assert rc == 1
    assert "[dialect-mix]" in out
    assert "line 4" in out


def test_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "error: anekit check: no MIL program" in err
    assert "hint: " in err


def test_folder_search_finds_loose_mil_files_in_subfolders_and_ends_with_a_tally(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.mil").write_text(GOOD)
    (tmp_path / "a" / "bad.mil").write_text(BAD_TYPE)
    (tmp_path / "m.mlmodelc").mkdir()
    (tmp_path / "m.mlmodelc" / "model.mil").write_text(GOOD)
    rc, out = _run(capsys, str(tmp_path), "--no-summary", "--target", "any")
    assert rc == 1
    assert out.count("== ") == 3
    assert "deep.mil" in out
    assert out.rstrip().splitlines()[-1] == "checked 3 programs: 2 ok, 1 failed; 1 error, 0 warnings, 0 infos"


def test_mlpackage_without_a_spec_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pkg = tmp_path / "Model.mlpackage"
    pkg.mkdir()
    assert main(["check", str(pkg)]) == 1
    out = capsys.readouterr().out
    assert "is not an .mlpackage folder with Data/com.apple.CoreML/model.mlmodel" in out


def test_module_entry_point(tmp_path: Path) -> None:
    f = tmp_path / "model.mil"
    f.write_text(BAD_TYPE)
    proc = subprocess.run(  # the installed anekit, as a user runs it
        [sys.executable, "-m", "anekit", "check", str(f), "--target", "any"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "[type-mismatch]" in proc.stdout


def test_list_rules(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _run(capsys, "--list-rules", "--target", "any")
    assert rc == 0
    assert "type-mismatch" in out
    assert not any(line.startswith("ane-") for line in out.splitlines())
    rc, out = _run(capsys, "--list-rules", "--json")
    listed = json.loads(out)
    assert {"ane-sdpa-mask", "undefined-var"} <= {r["id"] for r in listed}
    assert all("§" in r["source"] for r in listed)
    assert main(["check"]) == 2
    assert "error: anekit check: no PATH given" in capsys.readouterr().err


#: The 3-op MLP of issue #12 ([1, 64, 1, 32] fp16 in/out, two relu and an add): three infos, none calling for action.
MLP = """program(1.3)
{
    func main<ios18>(tensor<fp16, [1, 64, 1, 32]> x) {
            tensor<fp16, [1, 64, 1, 32]> a = relu(x = x)[name = string("a")];
            tensor<fp16, [1, 64, 1, 32]> b = relu(x = a)[name = string("b")];
            tensor<fp16, [1, 64, 1, 32]> y = add(x = a, y = b)[name = string("y")];
        } -> (y);
}
"""


def test_infos_without_action_need_verbose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "model.mil"
    f.write_text(MLP)
    rc, out = _run(capsys, str(f), "--no-summary")
    assert rc == 0
    assert "no findings\n3 infos hidden (no action needed; verbose=True or `anekit check -v` shows them)" in out
    assert "ane-min-surface" not in out
    rc, out = _run(capsys, str(f), "--no-summary", "-v")
    assert rc == 0 and "3 infos:" in out and "hidden" not in out
    assert out.count("[ane-min-surface]") == 2
    assert out.count("more: https://") == 2  # once per rule, not per finding
    assert "§" not in out and "upstream" not in out


def test_folder_tally_counts_hidden_infos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "one.mil").write_text(MLP)
    (tmp_path / "two.mil").write_text(MLP)
    rc, out = _run(capsys, str(tmp_path), "--no-summary")
    assert rc == 0
    assert out.rstrip().splitlines()[-1] == (
        "checked 2 programs: 2 ok, 0 failed; 0 errors, 0 warnings, 0 infos (6 more infos hidden, -v shows them)"
    )


def test_json_carries_links_and_hidden_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "model.mil"
    f.write_text(MLP)
    _, out = _run(capsys, str(f), "--json")
    (prog,) = json.loads(out)["programs"]
    assert prog["diagnostics"] == [] and prog["hidden"] == 3
    _, out = _run(capsys, str(f), "--json", "-v")
    (prog,) = json.loads(out)["programs"]
    assert prog["hidden"] == 0 and prog["counts"] == {"error": 0, "warning": 0, "info": 3}
    for d in prog["diagnostics"]:
        assert d["link"].endswith(f"/internals/ane-rules.html#rule-{d['rule']}")
        assert d["needs_action"] is False and d["hint"]


def test_list_rules_shows_links_not_internal_sources(capsys: pytest.CaptureFixture[str]) -> None:
    _, out = _run(capsys, "--list-rules")
    assert "§" not in out and "docs/internals" not in out
    assert "    more: https://anekit.readthedocs.io/en/latest/internals/ane-rules.html#rule-ane-io-dtype" in out
    assert "ane-min-surface [info, shown with -v, target ane]" in out
