"""Object lifetimes through the Objective-C++ backend: compile/free cycles leave no live framework object,
IOSurface or model directory behind (the MRC/ARC rules of docs/internals/linux-objc-toolchain.md §7), and several
threads can use their own models at once (docs/internals/ane-private-api.md §21)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from _ane_samples import SHAPE, identity_mil, surface

from _helpers import run_in_threads

pytestmark = pytest.mark.objc

LIVE_KEYS = ("liveModels", "liveDescriptors", "liveRequests", "liveSurfaceObjects", "livePrograms")


def _cycles(fake: ModuleType, live: Callable[[], dict[str, int]], count: int) -> None:
    before_surfaces = fake.fake_stats()["liveIOSurfaces"]
    x, y = surface(np.ones(SHAPE, dtype=np.float32)), surface()
    blob = b"\x03" * 64
    directories: list[str] = []
    for i in range(count):
        # Distinct programs: each cycle gets its own model directory, as a training loop would. The pid keeps
        # them apart from the same test running in another process (directories are shared per user: a
        # directory another process still uses correctly outlives this process's close).
        model = fake.compile(identity_mil(tag=f"leak{os.getpid()}_{i}"), {"@model_path/weights/w.bin": blob})
        model.evaluate([x], [y])
        directories.append(model.model_dir)
        model.close()
        if i % 1000 == 0:
            changed = live()
            assert all(changed[k] == 0 for k in LIVE_KEYS), changed
    changed = live()
    assert {k: changed[k] for k in LIVE_KEYS} == dict.fromkeys(LIVE_KEYS, 0)
    stats = fake.fake_stats()
    assert stats["compiles"] == count
    assert stats["evals"] == count
    del x, y
    assert fake.fake_stats()["liveIOSurfaces"] == before_surfaces, "no IOSurface is left behind"
    # Each cycle's own directory (the root may be shared with other processes).
    assert len(set(directories)) == count
    assert not any(Path(d).exists() for d in directories), "no model directory is left behind"


def test_compile_free_cycles(fake: ModuleType, live: Callable[[], dict[str, int]]) -> None:
    _cycles(fake, live, 200)


@pytest.mark.slow
def test_ten_thousand_compile_free_cycles(fake: ModuleType, live: Callable[[], dict[str, int]]) -> None:
    _cycles(fake, live, 10_000)


def test_surfaces_are_released_with_their_last_user(fake: ModuleType) -> None:
    base = fake.fake_stats()["liveIOSurfaces"]
    x, y = surface(), surface()
    assert fake.fake_stats()["liveIOSurfaces"] == base + 2
    model = fake.compile(identity_mil(tag="life"))
    model.evaluate([x], [y])
    del x, y
    # The cached request keeps the bound surfaces alive (docs/internals/ane-private-api.md §9) ...
    assert fake.fake_stats()["liveIOSurfaces"] == base + 2
    model.close()
    # ... until the model is closed.
    assert fake.fake_stats()["liveIOSurfaces"] == base


def test_dropping_an_open_model_releases_it(fake: ModuleType, live: Callable[[], dict[str, int]]) -> None:
    model = fake.compile(identity_mil(tag="dropped"))
    directory = Path(model.model_dir)
    del model
    assert live()["liveModels"] == 0
    assert not directory.exists()


def test_four_threads_evaluate_their_own_models(fake: ModuleType) -> None:
    def worker(index: int) -> None:
        values = np.full(SHAPE, float(index), dtype=np.float32)
        x, y = surface(values), surface()
        with fake.compile(identity_mil(tag=f"t{index}")) as model:
            for _ in range(200):
                model.evaluate([x], [y])
            np.testing.assert_array_equal(y.read(), values)

    errors = run_in_threads(worker, 4, timeout=120)
    assert not errors, errors
    assert fake.fake_stats()["evals"] == 800


def test_threads_share_one_model(fake: ModuleType) -> None:
    """Evaluation is serialised per model in the backend, so sharing one model is safe too."""
    with fake.compile(identity_mil(tag="shared")) as model:

        def worker(index: int) -> None:
            values = np.full(SHAPE, float(index + 1), dtype=np.float32)
            x, y = surface(values), surface()
            for _ in range(100):
                model.evaluate([x], [y])
                np.testing.assert_array_equal(y.read(), values)

        errors = run_in_threads(worker, 4, timeout=120)
    assert not errors, errors


def test_queries_do_not_block_on_an_evaluating_model(fake_path: Path) -> None:
    """While a reference evaluation holds the model's lock and waits for the GIL, another thread holding the
    GIL may query the model: loaded/closed/repr never lock, state() releases the GIL. Run in a subprocess so
    that a regression times out instead of hanging the suite."""
    code = f"""
import threading, time
import numpy as np
from anekit import _core
ane = _core.ane
assert ane.initialize({str(fake_path)!r})[0]
def slow_evaluator(mil, weights, inputs, outputs):
    time.sleep(0.01)
    np.frombuffer(outputs["y"], dtype=np.uint8)[:] = np.frombuffer(inputs["x"], dtype=np.uint8)
ane.set_fake_evaluator(slow_evaluator)
ane.fake_configure(mode="reference")
model = ane.compile({identity_mil(tag="gil")!r})
x, y = _core.Surface((1, 4, 1, 8)), _core.Surface((1, 4, 1, 8))
done = threading.Event()
def run():
    for _ in range(20):
        model.evaluate([x], [y])
    done.set()
t = threading.Thread(target=run)
t.start()
queries = 0
while not done.is_set():
    assert model.loaded and not model.closed and "Model" in repr(model)
    assert model.state() == 3
    queries += 1
t.join()
model.close()
ane.set_fake_evaluator(None)
print("ok", queries)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
