"""Issue #11 item 4: anekit.testing.fake_ane must not leak across scope or threads.

A kernel keeps the behaviour it was compiled with or refuses to run; leaving a nested block restores the outer
block's configuration; another thread's compile never picks the fake during a block.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import anekit
from anekit import testing
from anekit.errors import AneUnavailableError

pytestmark = pytest.mark.objc


def _identity(scale: float) -> anekit.mil.Program:
    from anekit.doctor.programs import identity_program

    return identity_program(8, 32, scale=scale)


@pytest.fixture(autouse=True)
def _needs_fake() -> None:
    try:
        testing.fake_framework_path()
    except AneUnavailableError as exc:
        pytest.skip(str(exc))


def test_kernel_refuses_to_run_after_its_block() -> None:
    with testing.fake_ane(mode="reference"):
        kernel = anekit.compile(_identity(3.0), backend="ane")
        assert np.all(kernel(x=np.ones((8, 32)))["y"] == 3.0)
    # Before the fix the fake had been reset to echo and the kernel returned its input (1.0) as the result.
    with pytest.raises(AneUnavailableError, match="fake_ane\\(\\) block that has ended"):
        kernel(x=np.ones((8, 32)))
    kernel.close()


def test_nested_block_restores_the_outer_configuration() -> None:
    x = np.ones((8, 32))
    with testing.fake_ane(mode="reference") as outer:
        outer_kernel = anekit.compile(_identity(3.0), backend="ane", cache=False)
        with testing.fake_ane(mode="echo", binding="alphabetical"):
            inner_kernel = anekit.compile(_identity(5.0), backend="ane", cache=False)
            assert np.all(inner_kernel(x=x)["y"] == 1.0)  # echo
            assert np.all(outer_kernel(x=x)["y"] == 3.0)  # compiled under reference: stays reference
        # Back in the outer block: reference mode again for new compiles, and the kernels keep their modes.
        assert outer.config.mode == "reference"
        with anekit.compile(_identity(7.0), backend="ane", cache=False) as again:
            assert np.all(again(x=x)["y"] == 7.0)
        assert np.all(outer_kernel(x=x)["y"] == 3.0)
        with pytest.raises(AneUnavailableError, match="has ended"):
            inner_kernel(x=x)
        outer_kernel.close()
        inner_kernel.close()


def test_other_threads_do_not_see_the_block() -> None:
    seen: dict[str, object] = {}
    entered = threading.Event()
    done = threading.Event()

    def other_thread() -> None:
        entered.wait(30)
        try:
            with anekit.compile(_identity(3.0)) as k:  # best backend: must not be the fake
                seen["backend"] = k.backend
                seen["y"] = k(x=np.ones((8, 32)))["y"]
            try:
                anekit.compile(_identity(4.0), backend="ane")
            except AneUnavailableError as exc:
                seen["explicit"] = str(exc)
        finally:
            done.set()

    t = threading.Thread(target=other_thread)
    t.start()
    with testing.fake_ane(mode="echo"):
        assert testing.active_fake() is not None
        entered.set()
        done.wait(60)
    t.join(60)
    assert seen["backend"] == "reference"
    assert np.all(seen["y"] == 3.0)
    assert "not inside an anekit.testing.fake_ane() block" in str(seen["explicit"])


def test_active_fake_is_per_block() -> None:
    assert testing.active_fake() is None
    with testing.fake_ane() as outer:
        assert testing.active_fake() is outer
        with testing.fake_ane() as inner:
            assert testing.active_fake() is inner
        assert testing.active_fake() is outer and not inner.active
    assert testing.active_fake() is None and not outer.active
