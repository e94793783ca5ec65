"""Checkpoint and exec-restart helpers (anekit.budget.restart_if_needed & co.), including a real re-exec."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _fake_modes import FAKE_MODES, REPRESENTATIVE_MODE

import anekit
from anekit import budget
from anekit.runtime.canary import canary_program
from anekit.runtime.checkpoint import RESTARTS_KEY, RESUME_ENV


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    budget.set_limit(None)
    budget.set_safety_margin(None)
    os.environ.pop(RESUME_ENV, None)


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as s:
        yield s


def test_no_restart_where_no_limit_applies(tmp_path: Path) -> None:
    """Off the ANE (reference executor, nothing simulated) there is no budget to run out of (issue #12)."""
    budget.set_limit(budget.used() + 1)
    assert not budget.applies("reference")
    assert budget.restart_if_needed({"s": 1}, tmp_path / "ck.npz", needed=1, exec_fn=lambda *a: None) is False


def test_roundtrip_keeps_arrays_and_metadata(tmp_path: Path) -> None:
    state = {
        "w": np.arange(12, dtype=np.float16).reshape(3, 4),
        "ids": np.array([1, 2, 3], dtype=np.int64),
        "step": 7,
        "lr": 1e-3,
        "meta": {"name": "run", "dims": [1, 2]},
    }
    path = budget.save_checkpoint(tmp_path / "sub" / "ck.npz", state)
    back = budget.load_checkpoint(path)
    assert back.keys() == state.keys()
    np.testing.assert_array_equal(back["w"], state["w"])
    assert back["w"].dtype == np.float16
    assert back["ids"].dtype == np.int64
    assert (back["step"], back["lr"], back["meta"]) == (7, 1e-3, {"name": "run", "dims": [1, 2]})
    assert [p.name for p in path.parent.iterdir()] == ["ck.npz"]  # no temporary file left behind


def test_bad_states_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="neither a numpy array nor JSON"):
        budget.save_checkpoint(tmp_path / "a.npz", {"s": {1, 2}})
    with pytest.raises(TypeError, match="dtype object"):
        budget.save_checkpoint(tmp_path / "a.npz", {"o": np.array([None])})
    with pytest.raises(TypeError, match="keys must be str"):
        budget.save_checkpoint(tmp_path / "a.npz", {1: 2})
    with pytest.raises(TypeError, match="mapping"):
        budget.save_checkpoint(tmp_path / "a.npz", [1, 2])  # type: ignore[arg-type]
    np.savez(tmp_path / "plain.npz", x=np.zeros(2))
    with pytest.raises(ValueError, match="not an anekit checkpoint"):
        budget.load_checkpoint(tmp_path / "plain.npz")


def test_restart_happens_only_when_the_budget_is_short(tmp_path: Path, stack: contextlib.ExitStack) -> None:
    calls: list[tuple[str, list[str]]] = []
    anekit.compile(canary_program(), backend="reference", cache=False).close()  # used() >= 1
    budget.set_safety_margin(0)
    budget.set_limit(budget.used() + 10)
    stack.enter_context(budget.simulate(budget.used() + 100))  # a limit applies (off the ANE none does)
    made: list[int] = []

    def state() -> dict[str, object]:
        made.append(1)
        return {"step": 3, "w": np.ones(2)}

    assert budget.restart_if_needed(state, tmp_path / "ck.npz", needed=10, exec_fn=lambda *a: calls.append(a)) is False
    assert not calls
    assert not made
    assert budget.restart_if_needed(
        state, tmp_path / "ck.npz", needed=11, argv=["x.py", "--n", "2"], exec_fn=lambda *a: calls.append(a)
    )
    assert calls == [(sys.executable, ["x.py", "--n", "2"])]
    assert os.environ[RESUME_ENV] == str((tmp_path / "ck.npz").resolve())
    resumed = budget.resume_state()
    assert resumed is not None
    assert resumed["step"] == 3
    assert resumed[RESTARTS_KEY] == 1
    assert budget.resume_state() is None  # the flag is consumed
    # exec_fn is always a recorder here: a real exec would restart the whole test session.
    budget.set_limit(100)
    with pytest.raises(ValueError, match="needed must be a positive int"):
        budget.restart_if_needed({}, tmp_path / "ck.npz", needed=0, exec_fn=lambda *a: calls.append(a))
    with pytest.raises(ValueError, match="a fresh process may compile only"):
        budget.restart_if_needed({}, tmp_path / "ck.npz", needed=10_000, exec_fn=lambda *a: calls.append(a))
    assert len(calls) == 1


SCRIPT = """
import numpy as np
import anekit
from anekit import mil

def step_program(step, k):
    w = np.full((4, 4, 1, 1), 0.0, np.float16)
    w[k % 4, k % 4] = step + 1

    @mil.program(inputs={"x": mil.tensor((1, 4, 1, 8), "fp16")}, opset="ios18")
    def prog(mb, x):
        return mb.conv(x=x, weight=w, pad_type="valid")
    return prog

import contextlib
import anekit.testing
framework = anekit.testing.fake_ane(mode="reference", **FAKE) if FAKE is not None else contextlib.nullcontext()
with framework:
    state = anekit.budget.resume_state() or {"step": 0, "acc": np.zeros((1, 4, 1, 8), np.float32)}
    while state["step"] < 6:
        anekit.budget.restart_if_needed(lambda: state, CKPT, needed=2)
        for k in range(2):
            with anekit.compile(step_program(state["step"], k), backend=BACKEND) as kernel:
                state["acc"] = state["acc"] + kernel(x=np.ones((1, 4, 1, 8)))["conv_0"]
        state["step"] += 1
print("restarts", state.get("anekit_restarts", 0), "sum", float(state["acc"].sum()))
"""


@pytest.mark.slow
@pytest.mark.parametrize("where", ["reference", "ane-fake"])
def test_a_script_restarts_itself_and_finishes(tmp_path: Path, where: str) -> None:
    fake = None
    if where == "ane-fake":  # the ANE path, against the fake in the suite's representative mode
        if not anekit._core.ane.built():
            pytest.skip("the ANE backend is not built here")
        fake = FAKE_MODES[REPRESENTATIVE_MODE]
    script = tmp_path / "train.py"
    head = f"CKPT = {str(tmp_path / 'ck.npz')!r}\nFAKE = {fake!r}\nBACKEND = {where.split('-')[0]!r}\n"
    script.write_text(head + textwrap.dedent(SCRIPT))
    # The installed anekit, as a user's script sees it, with a simulated budget of 5 compiles per process (off
    # the ANE no limit applies otherwise) and no safety margin.
    env = dict(
        os.environ, ANEKIT_COMPILE_LIMIT="5", ANEKIT_SIMULATE_COMPILE_LIMIT="5", ANEKIT_COMPILE_SAFETY_MARGIN="0"
    )
    env.pop(RESUME_ENV, None)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # 12 compiles at 5 per process, 2 per step -> a restart every 2 steps; each step adds 8*(step+1) twice.
    assert done.stdout.split() == ["restarts", "2", "sum", str(float(sum(16 * (s + 1) for s in range(6))))]
