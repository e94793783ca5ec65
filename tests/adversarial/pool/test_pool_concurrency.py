"""Adversarial: concurrent compiles in threads and in processes through the recycling pool (threads racing for
the in-process budget: tests/runtime/test_budget.py::test_concurrent_compiles_spend_exactly_the_limit)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _pool_adversary import X, fresh, shm_segments, want

from _helpers import run_in_threads
from anekit import budget
from anekit.runtime.pool import WorkerPool


def test_threads_compiling_through_a_recycling_pool_get_their_own_results() -> None:
    """4 threads x 6 distinct compiles with a budget of 3 per worker: every result is the thread's own."""
    with budget.simulate(3), WorkerPool(per_worker=3, spread=True, max_workers=6) as pool:

        def work(i: int) -> None:
            for j in range(6):
                prog = fresh()
                with pool.compile(prog, backend="reference") as k:
                    np.testing.assert_array_equal(k(x=X)["conv_0"], want(prog), err_msg=f"thread {i} compile {j}")

        assert not run_in_threads(work, 4, timeout=300)
        assert pool.stats.compiles >= 24
        assert pool.stats.exhausted_workers == pool.stats.silent_failures == 0  # recycled before the limit


_CHILD = """
import sys
import numpy as np
import anekit
from anekit import budget, mil
from anekit.reference import run as reference_run

seed = int(sys.argv[1])
with budget.simulate(3), budget.policy("recycle"):
    for i in range(6):
        w = np.random.default_rng(seed * 100 + i).standard_normal((4, 4, 1, 1)).astype(np.float16)

        @mil.program(inputs={"x": mil.tensor((1, 4, 1, 8), "fp16")}, opset="ios18")
        def prog(mb, x):
            return mb.conv(x=x, weight=w, pad_type="valid")

        x = np.random.default_rng(i).standard_normal((1, 4, 1, 8))
        with anekit.compile(prog, backend="reference") as k:
            got = k(x=x)["conv_0"]
        np.testing.assert_array_equal(got, reference_run(prog, {"x": x})["conv_0"].astype(np.float32))
from anekit.runtime.pool import default_pool
print("ok", default_pool().snapshot().recycles)
"""


@pytest.mark.slow
def test_processes_each_recycling_at_once_all_succeed_and_clean_up(tmp_path: Path) -> None:
    """Three processes, each with its own recycling pool, compiling past a simulated limit at the same time."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(_CHILD))
    env = dict(os.environ)  # the children import the anekit this interpreter imports (installed, or PYTHONPATH)
    before = shm_segments()
    children = [
        subprocess.Popen([sys.executable, str(script), str(seed)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for seed in range(3)
    ]  # fmt: skip
    pids = [c.pid for c in children]
    for child in children:
        out, err = child.communicate(timeout=180)
        assert child.returncode == 0, err
        word, recycles = out.split()
        assert word == "ok" and int(recycles) >= 1
    # Each child unlinked its own segments at exit (segment names carry the creating pid).
    leftover = [p.name for p in Path("/dev/shm").iterdir() if any(p.name.startswith(f"anekit-{pid}-") for pid in pids)]
    assert not leftover
    assert shm_segments() == before
