"""Issue #11 item 9: model directories (NSTemporaryDirectory()/<hex id>) shared by threads and processes.

The directory of a program is the same for every process of the user that compiles it, and the framework
itself writes model.mil there (-[_ANEInMemoryModel saveModelFiles]). Before the fix, 8 threads or several
processes compiling the same program at once failed about 20% of the time ("File exists", "model.mil is
missing", "writing model.mil failed") because one process deleted the directory another was using.
"""

from __future__ import annotations

import contextvars
import os
import subprocess
import sys
import textwrap

import pytest

import anekit
from _helpers import run_in_threads
from anekit import testing

pytestmark = pytest.mark.objc


def _model_dir(kernel: anekit.Kernel) -> str:
    return kernel._exe._entry.executable._model.model_dir


def _program(scale: float = 2.0) -> anekit.mil.Program:
    from anekit.doctor.programs import identity_program

    return identity_program(8, 32, scale=scale)


def test_threads_compiling_one_program(fake: testing.FakeAne) -> None:
    program = _program()
    dirs: set[str] = set()

    def rounds() -> None:
        for _round in range(10):
            with anekit.compile(program, backend="ane", cache=False) as k:
                dirs.add(_model_dir(k))
                assert float(k(x=1.0)["y"].flat[0]) == 2.0

    # Each thread joins the block explicitly (a block never leaks into other threads on its own).
    context = contextvars.copy_context()
    errors = run_in_threads(lambda _: context.copy().run(rounds), 8, timeout=300)
    assert not errors, errors[0]
    assert len(dirs) == 1
    (d,) = dirs
    assert not os.path.exists(d) and not os.path.exists(d + ".anekit-lock")  # the last user removed both


_CHILD = textwrap.dedent(
    """
    import sys
    import anekit
    from anekit import testing
    from anekit.doctor.programs import identity_program
    failures = 0
    with testing.fake_ane(mode="reference"):
        program = identity_program(8, 32, scale=2.0)
        for _ in range(int(sys.argv[1])):
            try:
                with anekit.compile(program, backend="ane", cache=False) as k:
                    if float(k(x=1.0)["y"].flat[0]) != 2.0:
                        failures += 1
            except Exception as exc:
                failures += 1
                print(type(exc).__name__, exc, file=sys.stderr)
    print("failures", failures)
    """
)


def test_processes_compiling_one_program(fake: testing.FakeAne) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, "25"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(3)
    ]
    # This process holds the program too, so the directory must survive every child's close.
    with anekit.compile(_program(), backend="ane", cache=False) as mine:
        outputs = [c.communicate(timeout=300) for c in children]
        directory = _model_dir(mine)
        assert os.path.exists(os.path.join(directory, "model.mil"))
        assert float(mine(x=1.0)["y"].flat[0]) == 2.0
    for child, (out, err) in zip(children, outputs, strict=True):
        if "AneUnavailableError" in err:
            pytest.skip(err.strip().splitlines()[-1])
        assert child.returncode == 0 and "failures 0" in out, err[-2000:]
    assert not os.path.exists(directory) and not os.path.exists(directory + ".anekit-lock")
