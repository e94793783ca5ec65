"""The ``anekit`` command line as a whole: --version, usage, option help, and every error path ending in
``error: ...`` / ``hint: ...`` with exit status 2 instead of a traceback."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import anekit
from anekit import config
from anekit.__main__ import build_parser, main

DATA = Path(__file__).resolve().parent / "data" / "mil"
ADD = DATA / "coremltools_add_ios16.mlmodelc"  # x * y on two [1, 10] fp16 inputs, no weights
FLEXIBLE = DATA / "fluidaudio_transpose_flexible_ios16.mlmodelc"
SILERO = DATA / "silero_vad_fp16_ios15.mlmodelc"


def _fails_with(capsys: pytest.CaptureFixture[str], argv: list[str], *expected: str) -> str:
    """Run ``argv``; assert exit 2, an error line and a hint line on stderr, and no traceback."""
    rc = main(argv)
    captured = capsys.readouterr()
    assert rc == 2, captured
    assert captured.err.startswith(f"error: anekit {argv[0]}: "), captured.err
    assert "\nhint: " in captured.err
    assert "Traceback" not in captured.err + captured.out
    for text in expected:
        assert text in captured.err
    return captured.err


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"test data {path.name} absent")
    return path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"anekit {anekit.__version__}"


def test_usage_names_the_console_script() -> None:
    usage = build_parser().format_usage()
    assert usage.startswith("usage: anekit ")
    assert "python -m" not in usage


def _all_parsers() -> list[argparse.ArgumentParser]:
    parser = build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [parser, *subs[0].choices.values()]


def test_every_option_and_command_has_help() -> None:
    parsers = _all_parsers()
    commands = {p.prog.split()[-1] for p in parsers[1:]}
    assert commands == {"info", "demo", "check", "explain", "verify", "run", "doctor", "bench", "generate"}
    for p in parsers:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(c.help for c in action._choices_actions), p.prog
            else:
                assert action.help, f"{p.prog} {action.option_strings or action.dest} has no help"


def test_verify_flexible_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    _fails_with(capsys, ["verify", str(_need(FLEXIBLE))], "dynamic shape", "anekit check")


def test_verify_weightless_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(_need(SILERO) / "model.mil", tmp_path / "model.mil")
    _fails_with(capsys, ["verify", str(tmp_path)], "no weights/ folder", "copy the whole .mlmodelc")


def test_verify_ane_backend_where_unusable(capsys: pytest.CaptureFixture[str]) -> None:
    with config.override(ane_framework="/nonexistent/AppleNeuralEngine"):
        _fails_with(capsys, ["verify", str(_need(ADD)), "--backend", "ane"], "not usable", "--backend reference")


def test_verify_unknown_function(capsys: pytest.CaptureFixture[str]) -> None:
    _fails_with(capsys, ["verify", str(_need(ADD)), "--function", "foo"], "no function 'foo'", "['main']")


def test_verify_missing_path_and_mlpackage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails_with(capsys, ["verify", str(tmp_path / "nope.mil")], "does not exist")
    _fails_with(capsys, ["verify", str(tmp_path / "M.mlpackage")], "does not exist", "mlpackage")
    _fails_with(capsys, ["verify", str(tmp_path)], "folder without model.mil")


def test_verify_reports_what_was_compared(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(_need(ADD)), "--backend", "reference"]) == 0
    out = capsys.readouterr().out
    assert "verify PASS: reference backend, ANE fp16 semantics vs reference executor, fp64" in out


def test_demo_bad_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    _fails_with(capsys, ["demo", "--d", "100", "--heads", "3"], "--heads 3 does not divide --d 100", "--heads 2")
    _fails_with(capsys, ["demo", "--runs", "0"], "--runs must be positive")


def test_doctor_failure_is_reported(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import anekit.doctor as doctor_module

    def broken(**_: object) -> None:
        raise anekit.AneUnavailableError("the ANE backend was not built into this anekit")

    monkeypatch.setattr(doctor_module, "run", broken)
    _fails_with(capsys, ["doctor", "--no-save"], "was not built", "anekit info")


def test_internal_error_asks_for_a_report_and_traceback_shows_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import anekit._info as info_module

    def broken() -> dict[str, object]:
        raise KeyError("surprise")

    monkeypatch.setattr(info_module, "info", broken)
    _fails_with(capsys, ["info"], "internal error: KeyError", "--traceback")
    with pytest.raises(KeyError):
        main(["--traceback", "info"])
    with pytest.raises(KeyError):
        main(["info", "--traceback"])  # also after the command


def test_run_writes_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = np.arange(10, dtype=np.float32).reshape(1, 10)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", 2 * x)
    rc = main(
        ["run", str(_need(ADD)), "-i", f"x={tmp_path / 'x.npy'}", "--input", f"y={tmp_path / 'y.npy'}",
         "--output", str(tmp_path / "out"), "--backend", "reference"]
    )  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    assert "ran main on the reference backend" in out
    (written,) = sorted((tmp_path / "out").glob("*.npy"))
    np.testing.assert_array_equal(np.load(written), x * (2 * x))


def test_run_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = str(_need(ADD))
    _fails_with(capsys, ["run", model], "takes inputs (x: tensor<fp16, [1, 10]>", "missing ['x', 'y']")
    _fails_with(capsys, ["run", model, "--input", "x.npy"], "is not NAME=FILE")
    (tmp_path / "x.npy").write_text("not numpy")
    _fails_with(
        capsys,
        ["run", model, "-i", f"x={tmp_path / 'x.npy'}", "-i", f"y={tmp_path / 'y.npy'}"],
        "not a numeric .npy array",
    )
    np.save(tmp_path / "x.npy", np.zeros((1, 10)))
    x_arg = f"x={tmp_path / 'x.npy'}"
    _fails_with(capsys, ["run", model, "-i", x_arg, "-i", f"y={tmp_path / 'y.npy'}"], "does not exist")
    _fails_with(capsys, ["run", model, "-i", x_arg, "-i", f"z={tmp_path / 'x.npy'}"], "unexpected ['z']")
    _fails_with(capsys, ["run", model, "-i", x_arg, "-i", x_arg], "given twice")


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(  # a fresh interpreter, as a user runs it
        [sys.executable, "-m", "anekit", "verify", str(tmp_path / "missing.mil")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: anekit verify:")
    assert "Traceback" not in proc.stderr


@pytest.mark.objc
def test_demo_on_a_device_backend_checks_fp16_semantics_and_shows_the_fp16_cost(
    fake_ane_ref: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--backend", "ane", "--d", "32", "--heads", "2", "--seq", "16", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "verify PASS: ane backend vs reference executor, ANE fp16 semantics" in out
    assert "fp16 cost: max |device result - fp64 result| = " in out


def test_demo_on_the_reference_compares_with_fp64(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--backend", "reference", "--d", "32", "--heads", "2", "--seq", "16", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "verify PASS: reference backend, ANE fp16 semantics vs reference executor, fp64" in out
    assert "fp16 cost" not in out  # the verify table above is that comparison


def test_shapes_option_pins_flexible_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(FLEXIBLE), "--backend", "reference", "--shapes", "x=1,3,5"]) == 0
    assert "x" in capsys.readouterr().out
    _fails_with(capsys, ["verify", str(FLEXIBLE), "--shapes", "x=1,2,4096"], "outside the bundle's range")
    _fails_with(capsys, ["verify", str(FLEXIBLE), "--shapes", "x=1,a"], "--shapes: cannot read 'x=1,a'")
    assert main(["check", str(FLEXIBLE), "--shapes", "default", "--no-summary"]) == 0
    assert "ane-dynamic-shape" not in capsys.readouterr().out
    main(["check", str(FLEXIBLE), "--no-summary"])
    assert "ane-dynamic-shape" in capsys.readouterr().out


def test_check_and_verify_read_core_ml_packages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    ct = pytest.importorskip("coremltools")
    module = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU()).eval()
    model = ct.convert(
        torch.jit.trace(module, torch.randn(1, 8)),
        inputs=[ct.TensorType(name="x", shape=(1, 8))],
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS16,
    )
    pkg = tmp_path / "m.mlpackage"
    model.save(str(pkg))
    assert main(["check", str(pkg), "--target", "any"]) == 0
    assert "m.mlpackage" in capsys.readouterr().out
    assert main(["verify", str(pkg), "--backend", "reference"]) == 0
