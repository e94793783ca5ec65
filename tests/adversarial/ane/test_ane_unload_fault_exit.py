"""Issue #11 item 11: leaving a fake_ane(faults=["unload"]) block cleans up every cached model.

Before the fix the first eviction raised the injected unload failure, the other cached models (their folders
and surfaces) were left behind, and the next block was served a stale model without compiling.
"""

from __future__ import annotations

import os

import pytest

import anekit
from anekit import _core, testing
from anekit.errors import AneUnavailableError

pytestmark = pytest.mark.objc


def test_unload_fault_block_exit_evicts_everything() -> None:
    from anekit.doctor.programs import identity_program

    try:
        testing.fake_framework_path()
    except AneUnavailableError as exc:
        pytest.skip(str(exc))
    dirs = []
    with testing.fake_ane(faults=["unload"]) as fake:
        for scale in (2.0, 3.0, 4.0):
            kernel = anekit.compile(identity_program(8, 32, scale=scale), backend="ane")
            dirs.append(kernel._exe._entry.executable._model.model_dir)  # the cache keeps it loaded
            kernel.close()
        assert fake.stats()["liveModels"] == 3
    # Leaving the block raised nothing and left nothing behind.
    stats = _core.ane.fake_stats()
    assert stats["liveModels"] == 0
    assert not any(os.path.exists(d) for d in dirs)
    with testing.fake_ane() as fake:
        anekit.compile(identity_program(8, 32, scale=2.0), backend="ane").close()
        assert fake.stats()["compiles"] == 1  # compiled afresh, not served from a stale cache entry
