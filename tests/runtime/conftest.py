"""Programs and the backend fixture shared by the runtime tests."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from _fake_modes import FAKE_MODES, REPRESENTATIVE_MODE

import anekit
from anekit import mil
from anekit.runtime import available_backends

BACKENDS = available_backends()
# Off a Mac, the ANE backend is exercised through the real Objective-C++ path against the bundled fake
# framework (reference mode) under each of FAKE_MODES, so one suite covers both backends wherever the backend
# is built.
if "ane" not in BACKENDS and anekit._core.ane.built():
    BACKENDS = [*BACKENDS, *(f"ane-fake-{name}" for name in FAKE_MODES)]


ONE_MODE_BACKENDS = [b for b in BACKENDS if not b.startswith("ane-fake-") or b == f"ane-fake-{REPRESENTATIVE_MODE}"]


def _enter(param: str) -> Iterator[str]:
    if not param.startswith("ane-fake-"):
        yield param
        return
    from anekit import testing

    with testing.fake_ane(mode="reference", **FAKE_MODES[param.removeprefix("ane-fake-")]):
        yield "ane"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """A backend name for anekit.compile; ``ane-fake-*`` params run inside the matching fake_ane block (every
    binding rule and surface rule: for tests of numbers through the ANE path)."""
    yield from _enter(request.param)


@pytest.fixture(params=ONE_MODE_BACKENDS)
def any_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Like ``backend`` with one fake mode (:data:`REPRESENTATIVE_MODE`): for tests of machinery above the
    backend (cache, checkpoints) that must hold on the ANE path too."""
    yield from _enter(request.param)


def conv_relu_program(c: int = 64, s: int = 32, seed: int = 0) -> mil.Program:
    """x[1,C,1,S] -> relu(conv1x1(x, W)) with a fixed random W (a weight blob)."""
    w = (np.random.default_rng(seed).standard_normal((c, c, 1, 1)) * 0.1).astype(np.float16)

    @mil.program(inputs={"x": mil.tensor((1, c, 1, s), "fp16")}, opset="ios18")
    def prog(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.relu(x=mb.conv(x=x, weight=w, pad_type="valid"))

    return prog


def two_in_two_out_program() -> mil.Program:
    """(a, b) -> (a + b, a * b) on [1, 8, 1, 16] fp16."""

    @mil.program(inputs={"a": mil.tensor((1, 8, 1, 16), "fp16"), "b": mil.tensor((1, 8, 1, 16), "fp16")}, opset="ios18")
    def prog(mb: mil.Builder, a: mil.Var, b: mil.Var) -> tuple[mil.Var, mil.Var]:
        return mb.add(x=a, y=b), mb.mul(x=a, y=b)

    return prog


def out_of_order_program() -> mil.Program:
    """Inputs ``zeta, Alpha, mid`` and outputs ``q, k, v``: declaration, bytewise and case-insensitive orders
    all differ, and every output depends on different inputs, so any mis-binding changes the numbers."""
    t = mil.tensor((1, 8, 1, 16), "fp16")

    @mil.program(inputs={"zeta": t, "Alpha": t, "mid": t}, opset="ios18")
    def prog(mb: mil.Builder, zeta: mil.Var, Alpha: mil.Var, mid: mil.Var) -> tuple[mil.Var, mil.Var, mil.Var]:
        q = mb.sub(x=zeta, y=mb.mul(x=Alpha, y=np.float16(2.0)))
        k = mb.add(x=mid, y=mb.mul(x=zeta, y=np.float16(3.0)))
        v = mb.sub(x=Alpha, y=mid)
        return mb.identity(x=q, name="q"), mb.identity(x=k, name="k"), mb.identity(x=v, name="v")

    return prog


@pytest.fixture
def out_of_order() -> mil.Program:
    return out_of_order_program()


@pytest.fixture
def make_conv_relu() -> object:
    """The conv_relu_program factory, for tests that need several distinct programs."""
    return conv_relu_program


@pytest.fixture
def conv_relu() -> mil.Program:
    return conv_relu_program()


@pytest.fixture
def two_io() -> mil.Program:
    return two_in_two_out_program()
