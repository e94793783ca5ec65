"""The builder's op methods: keyword-only inputs visible to help() and tab completion; positional calls explained."""

from __future__ import annotations

import inspect

import pytest

from anekit import mil
from anekit.errors import MILError


def _builder() -> tuple[mil.Builder, mil.Var]:
    mb = mil.Builder("ios18")
    return mb, mb.input("x", mil.tensor((1, 4, 1, 8), "fp16"))


def test_positional_input_says_ops_take_keywords() -> None:
    mb, x = _builder()
    with pytest.raises(MILError, match=r"mb\.relu\(\) takes its inputs as keyword arguments .* mb\.relu\(x=\.\.\.\)"):
        mb.relu(x)
    assert len(mb.build(mb.relu(x=x)).main.operations) == 1  # the failed call left nothing behind


def test_signature_lists_the_inputs_for_completion_and_help() -> None:
    mb, _ = _builder()
    sig = inspect.signature(mb.conv)
    assert list(sig.parameters)[:3] == ["x", "weight", "bias"]
    assert all(p.kind is p.KEYWORD_ONLY for p in sig.parameters.values())
    assert sig.parameters["x"].default is inspect.Parameter.empty  # required
    assert sig.parameters["bias"].default is None  # optional
    assert {"name", "out_names"} <= set(sig.parameters)
    doc = mb.conv.__doc__ or ""
    assert "Inputs:" in doc and "    weight: required" in doc
    assert mb.conv.__name__ == "conv"
