"""Fixtures of the benchmark-suite tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from anekit.runtime.cache import default_cache


@pytest.fixture
def no_cached_kernels() -> Iterator[None]:
    """Programs compiled by other tests compile again, and kernels compiled here (perhaps under a simulated
    silent failure) are not served to later tests: the suites' programs are deterministic, so a cache hit
    would otherwise bypass (or leak) a simulated compile failure."""
    default_cache().evict_backend("reference")
    yield
    default_cache().evict_backend("reference")
