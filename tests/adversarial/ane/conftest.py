"""Fixtures of the ANE adversarial tests."""

from __future__ import annotations

import pytest

from anekit import testing


@pytest.fixture
def fake(fake_ane_ref: testing.FakeAne) -> testing.FakeAne:
    """The fake framework in reference mode (tests/conftest.py's ``fake_ane_ref``: skips when it is not built)."""
    return fake_ane_ref
