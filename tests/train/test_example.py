"""``python -m anekit.examples.train``: the printed run, the PyTorch verdict, and a killed run resumed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import anekit
from anekit.examples.train import main
from anekit.runtime.checkpoint import load_checkpoint

SMALL_ARGS = ["--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--hidden", "128", "--seq", "32"]
STEP_LINE = re.compile(r"^step\s+(\d+)\s+loss (\d+\.\d+)", re.MULTILINE)


def _losses(text: str) -> dict[int, str]:
    return {int(m.group(1)): m.group(2) for m in STEP_LINE.finditer(text)}


def test_example_compares_with_torch_and_reports_the_largest_difference(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    assert main([*SMALL_ARGS, "--steps", "3", "--compare-torch", "--assert-no-compile-after-first"]) == 0
    out = capsys.readouterr().out
    assert len(_losses(out)) == 3 and out.count(" torch ") == 3
    assert "compiles after the first step: 0 over 2 steps" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("max |anekit - torch| loss difference:") and "within tolerance" in last
    # A tolerance nothing can meet makes the run fail.
    assert main([*SMALL_ARGS, "--steps", "3", "--compare-torch", "--tolerance", "0"]) == 1
    assert "DIVERGED" in capsys.readouterr().out.strip().splitlines()[-1]


def test_example_draws_the_loss_curve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    assert main([*SMALL_ARGS, "--steps", "2", "--plot", str(tmp_path / "loss.png")]) == 0
    assert (tmp_path / "loss.png").stat().st_size > 1000
    assert "loss curve:" in capsys.readouterr().out


@pytest.mark.slow
def test_a_killed_run_resumes_with_the_same_losses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    steps, kill_after = 6, 3
    assert main([*SMALL_ARGS, "--steps", str(steps)]) == 0
    want = _losses(capsys.readouterr().out)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(anekit.__file__).parents[1]), env.get("PYTHONPATH", "")])
    ck = tmp_path / "run.ckpt.npz"
    cmd = [sys.executable, "-m", "anekit.examples.train", *SMALL_ARGS, "--checkpoint", str(ck)]
    with subprocess.Popen([*cmd, "--steps", str(steps)], stdout=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stdout is not None
        seen = ""
        for line in proc.stdout:
            seen += line
            if kill_after in _losses(line):
                proc.kill()  # SIGKILL: no cleanup, as a crash or an OOM kill
                break
        proc.wait(timeout=60)
    assert proc.returncode != 0 and max(_losses(seen)) == kill_after
    # The child may have finished another step between printing step 3 and the kill: resume from what it saved.
    saved_at = load_checkpoint(ck)["step"]
    assert kill_after <= saved_at < steps
    resumed = subprocess.run(
        [*cmd, "--resume", str(ck), "--steps", str(steps)], capture_output=True, text=True, env=env, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    got = _losses(resumed.stdout)
    assert sorted(got) == list(range(saved_at + 1, steps + 1))
    assert got == {k: v for k, v in want.items() if k > saved_at}
