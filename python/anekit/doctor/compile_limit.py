"""The compile-limit probe: how many compiles one process gets, and how the limit ends.

The limit may end in an error, in compiles that "succeed" but return zeros (docs/internals/ane-private-api.md §16), or
in a crash (libane, src/runtime/ane_runtime.mm, reports SIGSEGV near the end of the budget), and it spends the
whole process's budget. So the probe runs in a child process (``python -m anekit.doctor.compile_limit``)
with anekit's own limit raised past anything the device allows and the ``"warn"`` policy, so anekit never
stops the count itself; the child compiles straight through the framework (:mod:`.device`, so no runtime
check turns a silent end into an error before it is seen) and reports each compile on one line of its stdout
as it goes, which tells the parent how far it got even when it dies.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .probes import ProbeResult

__all__ = ["classify", "probe_compile_limit"]

#: anekit's own limit in the child: far above the ~119 reported (§16), so the device's limit is what ends it.
RAISED_LIMIT = 100_000


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])  # the child imports this very anekit
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    env["ANEKIT_BUDGET_POLICY"] = "warn"
    env["ANEKIT_COMPILE_LIMIT"] = str(RAISED_LIMIT)
    env.pop("ANEKIT_SIMULATE_COMPILE_LIMIT", None)  # the device's limit is measured, not anekit's simulation
    return env


def classify(returncode: int, lines: Sequence[str], limit: int) -> dict[str, Any]:
    """The finding from the child's exit status and its per-compile lines (``ok I``, ``zeros I``,
    ``error I MESSAGE``)."""
    ok = 0
    end: dict[str, Any] | None = None
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "ok":
            ok += 1
        elif kind in ("zeros", "error"):
            index, _, message = rest.partition(" ")
            end = {"ended_by": kind, "at_compile": int(index) + 1}
            if message:
                end["message"] = message
            break
    if end is None and returncode < 0:
        end = {"ended_by": "crash", "at_compile": ok + 1, "signal": -returncode}
    elif end is None and returncode != 0:
        end = {"ended_by": "crash", "at_compile": ok + 1, "exit_status": returncode}
    finding: dict[str, Any] = {"compiles_ok": ok, "limit_reached": end is not None, "tried": limit}
    if end is not None:
        finding.update(end)
    return finding


def probe_compile_limit(
    limit: int = 400, *, fake: Mapping[str, Any] | None = None, minimum: int = 0, timeout: float = 900.0
) -> ProbeResult:
    """Count compiles in a child process until the device refuses, up to ``limit``.

    Args:
        limit: most compiles to try.
        fake: run the child on the fake framework with these :func:`anekit.testing.fake_ane` arguments.
        minimum: pad the probe's 49,152-byte surfaces to at least this many bytes (the settled minimum).
        timeout: seconds the child may take.
    """
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"probe_compile_limit: limit must be a positive int, got {limit!r}")
    result = ProbeResult("compile_limit", "how many compiles one process gets and how the limit ends")
    spec = json.dumps({"limit": limit, "fake": None if fake is None else dict(fake), "minimum": int(minimum)})
    try:
        done = subprocess.run(
            [sys.executable, "-m", "anekit.doctor.compile_limit", spec],
            env=_child_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        result.status = "error"
        result.evidence = {"error": f"the child did not finish in {timeout} s", "lines": out.splitlines()[-3:]}
        return result
    lines = done.stdout.splitlines()
    result.finding = classify(done.returncode, lines, limit)
    result.evidence = {"returncode": done.returncode, "last_lines": lines[-3:], "stderr_tail": done.stderr[-600:]}
    if done.returncode not in (0,) and result.finding.get("ended_by") != "crash":
        result.status = "error"
    return result


def _child(limit: int, fake: Mapping[str, Any] | None, minimum: int) -> int:
    """Compile distinct programs straight through the framework until one fails; one line per compile."""
    from .device import Allocation, run_raw
    from .programs import GOOD_C, GOOD_S, identity_program

    framework: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if fake is not None:
        from ..testing import fake_ane

        framework = fake_ane(**fake)
    x = np.ones((1, GOOD_C, 1, GOOD_S), np.float16)  # the known-good size: only the budget can end it
    warnings.simplefilter("ignore")  # CompileBudgetWarning past the configured limit is the point here
    with framework:
        for i in range(limit):
            scale = float(2 + i % 1000)  # exact in fp16; every compile is a new program
            run = run_raw(identity_program(scale=scale), [x], allocation=Allocation("exact", minimum))
            if not run.ran:
                print(f"error {i} {' '.join(run.label().split())[:300]}", flush=True)
                return 0
            if not np.any(run.outputs[0]):
                print(f"zeros {i}", flush=True)  # the compile "succeeded": the silent end of §16
                return 0
            if run.verdict(x * np.float16(scale)) != "ok":
                print(f"error {i} wrong numbers", flush=True)
                return 0
            print(f"ok {i}", flush=True)
    return 0


if __name__ == "__main__":
    _spec = json.loads(sys.argv[1])
    sys.exit(_child(int(_spec["limit"]), _spec.get("fake"), int(_spec.get("minimum", 0))))
