"""Issue #11 item 14: Ctrl-C (and SystemExit, and any exception) inside the fake's reference evaluation stays
itself through anekit.compile kernels; before the fix it became FrameworkError("KeyboardInterrupt: ...")."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import anekit
from anekit import _core, testing

pytestmark = pytest.mark.objc


def test_ctrl_c_during_evaluation_is_a_keyboard_interrupt(fake: testing.FakeAne) -> None:
    from anekit.doctor.programs import identity_program

    reference = testing._ReferenceEvaluator()

    def interrupted(*args: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Python runs the handler at the next bytecode, inside this call
        for _ in range(1000):
            pass
        reference(*args)

    with anekit.compile(identity_program(8, 32, scale=2.0), backend="ane", cache=False) as k:
        _core.ane.set_fake_evaluator(interrupted)
        try:
            with pytest.raises(KeyboardInterrupt):
                k(x=np.ones((8, 32)))
        finally:
            _core.ane.set_fake_evaluator(reference)
        assert np.all(k(x=np.ones((8, 32)))["y"] == 2.0)  # and the kernel still works afterwards


@pytest.mark.parametrize("error", [SystemExit, MemoryError, LookupError])
def test_other_exceptions_in_the_evaluator_stay_themselves(fake: testing.FakeAne, error: type[BaseException]) -> None:
    from anekit.doctor.programs import identity_program

    reference = testing._ReferenceEvaluator()

    def failing(*_: object) -> None:
        raise error("raised inside the evaluator")

    with anekit.compile(identity_program(8, 32, scale=3.0), backend="ane", cache=False) as k:
        _core.ane.set_fake_evaluator(failing)
        try:
            with pytest.raises(error, match="raised inside the evaluator"):
                k(x=np.ones((8, 32)))
        finally:
            _core.ane.set_fake_evaluator(reference)
