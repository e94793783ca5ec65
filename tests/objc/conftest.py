"""Fixtures for the Objective-C++ backend tests: the extension's ``ane`` submodule driven against the fake
AppleNeuralEngine framework that a Linux ``ANEKIT_BUILD_ANE=ON`` build ships in ``anekit/_fake``.

Every test here is marked ``objc`` and skips with the reason when the backend or the fake is not built.
The framework is loaded once per process (classes cannot be unloaded, docs/internals/ane-private-api.md §3.1), so the
``fake`` fixture initialises the fake once and resets its configuration and counters around each test.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from _ane_samples import FAKE_NAME, fake_library


def _ane_module() -> ModuleType:
    try:
        from anekit import _core
    except ImportError as exc:
        pytest.skip(f"anekit extension not importable: {exc}")
    if not _core.ane.built():
        pytest.skip("anekit._core.ane was not built (configure with -Ccmake.define.ANEKIT_BUILD_ANE=ON)")
    return _core.ane


@pytest.fixture(scope="session")
def ane() -> ModuleType:
    """``anekit._core.ane`` (skips when the Objective-C++ backend was not built)."""
    return _ane_module()


@pytest.fixture(scope="session")
def fake_path(ane: ModuleType) -> Path:
    """The bundled fake framework (skips when absent, e.g. a macOS build)."""
    path = fake_library()
    if path is None:
        pytest.skip(f"the fake framework {FAKE_NAME} is not part of this build (Linux ANEKIT_BUILD_ANE=ON only)")
    return path


@pytest.fixture
def fake(ane: ModuleType, fake_path: Path) -> Iterator[ModuleType]:
    """The ``ane`` module with the fake loaded, in its default configuration (echo mode, no faults)."""
    usable, why = ane.initialize(str(fake_path))
    if not usable:
        pytest.fail(f"the fake framework did not load: {why}")
    if not ane.runtime_info()["is_fake"]:
        pytest.skip(f"another ANE framework is loaded in this process: {ane.runtime_info()['framework_path']}")
    ane.fake_reset()
    ane.set_fake_evaluator(None)
    ane.set_fake_compile_checker(None)
    yield ane
    ane.set_fake_evaluator(None)
    ane.set_fake_compile_checker(None)
    ane.fake_reset()


@pytest.fixture
def live(fake: ModuleType) -> Callable[[], dict[str, int]]:
    """Change of the fake's live-object counters (``live*``) since the start of the test.

    Deltas, not absolute values, so objects other tests of the process still hold do not matter.
    """
    gc.collect()
    start = {k: v for k, v in fake.fake_stats().items() if k.startswith("live")}

    def delta() -> dict[str, int]:
        now = fake.fake_stats()
        return {k: now[k] - start[k] for k in start}

    return delta
