"""Programs shared by the runtime tests."""

from __future__ import annotations

import numpy as np
import pytest

from anekit import mil


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
