"""const / read_state / write_state kernels (the executor's state handling is tested in test_executor.py)."""

from __future__ import annotations

import numpy as np
import pytest
from _ref_helpers import call1

from anekit.errors import MILError


def test_const_returns_its_value():
    v = np.float32([1.5, -2.0])
    np.testing.assert_array_equal(call1("const", val=v), v)
    assert call1("const", val="valid") == "valid"


def test_read_state_copies_and_write_state_checks_the_shape():
    state = np.zeros((1, 4), np.float32)
    got = call1("read_state", input=state)
    got[0, 0] = 5.0
    assert state[0, 0] == 0.0  # a copy: later writes never alias the state
    new = np.ones((1, 4), np.float32)
    np.testing.assert_array_equal(call1("write_state", input=state, data=new), new)
    with pytest.raises(MILError, match="state shape"):
        call1("write_state", input=state, data=np.ones((4,), np.float32))
