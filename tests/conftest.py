"""Shared test configuration: hardware-need markers and their skip rules (docs/internals/architecture.md §11)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The shared corpus, beside the repository (CI clones it next to ../shared).
SHARED_CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "mil"


@pytest.fixture(autouse=True)
def _fresh_compile_budget() -> Iterator[None]:
    """Give every test the default compile budget on top of what earlier tests spent in this process.

    The compile counter is per process and never goes down (docs/internals/ane-private-api.md §16), so without this a
    test that compiles thousands of programs (the fake framework's leak test) would exhaust the budget of every
    test after it. Tests of the budget itself set their own limits relative to ``budget.used()``.
    """
    from anekit import _core, budget, config

    with config.override(compile_limit=int(_core.compile_count()) + config.DEFAULT_COMPILE_LIMIT):
        yield
    if budget.observed_limit() is not None:
        # A test met a (simulated or fake) end of the budget and anekit learned that limit for the process;
        # set_limit forgets it, so later tests start from the configured limit again.
        budget.set_limit(None)


def _ane_skip_reason() -> str | None:
    """None when a real ANE is usable, else why not (shown on every skipped `ane` test)."""
    try:
        from anekit._info import ane_status
    except ImportError as exc:  # the extension failed to import: say so rather than hide it
        return f"anekit extension not importable: {exc}"
    usable, why = ane_status()
    if not usable:
        return f"no usable Apple Neural Engine: {why}"
    from anekit import _core

    if _core.ane.runtime_info().get("is_fake"):
        return "the loaded framework is anekit's fake, not a Neural Engine"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # get_closest_marker, not `"ane" in item.keywords`: keywords also hold directory names, so a checkout in a
    # folder named "ane" would mark every test as hardware-only.
    needs_ane = [item for item in items if item.get_closest_marker("ane") is not None]
    if not needs_ane:
        return
    reason = _ane_skip_reason()
    if reason is None:
        return
    for item in needs_ane:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def fake_ane_ref():
    """anekit.testing.fake_ane(mode="reference"), or a skip saying why the fake is not available."""
    from anekit import testing
    from anekit.errors import AneUnavailableError

    try:
        ctx = testing.fake_ane(mode="reference")
        handle = ctx.__enter__()
    except AneUnavailableError as exc:
        pytest.skip(str(exc))
    try:
        yield handle
    finally:
        ctx.__exit__(None, None, None)
