"""Fixtures for the MIL-core tests: the minimal op registry (paths are in _corpus.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _mini_specs import MINI_SPECS

from anekit.mil.ops._spec import OP_REGISTRY, register_op


@pytest.fixture
def mini_ops() -> Iterator[dict[str, type]]:
    """Register the minimal specs for ops the real registry lacks; remove exactly those afterwards."""
    added = []
    for name, spec in MINI_SPECS.items():
        if name not in OP_REGISTRY:
            register_op(name, category="test")(spec)
            added.append(name)
    try:
        yield {name: OP_REGISTRY[name] for name in MINI_SPECS}
    finally:
        for name in added:
            if OP_REGISTRY.get(name) is MINI_SPECS[name]:
                del OP_REGISTRY[name]
