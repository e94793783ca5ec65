"""Fixtures for the doctor tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from anekit import config


@pytest.fixture
def cache_dir(tmp_path: Path) -> Iterator[Path]:
    """A private ANEKIT_CACHE_DIR: no test reads or writes another's saved doctor report."""
    with config.override(cache_dir=str(tmp_path)):
        yield tmp_path
