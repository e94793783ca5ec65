"""Robustness: every spec answers random (mostly invalid) inputs with output types or a prefixed MILError.

A seeded random search over dtypes (from each input's per-opset domain), ranks, unknown dims, const values,
tuple sizes and attribute-only operands. Any other exception type is a bug in a spec.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from anekit.errors import MILError
from anekit.mil.ops import OP_REGISTRY, OPSETS, StaticContext
from anekit.mil.types import StateType, TensorType, dtype

TRIALS = 60
_STRINGS = [
    "valid",
    "same",
    "custom",
    "same_lower",
    "EXACT",
    "int32",
    "fp16",
    "uint16",
    "int8",
    "constant",
    "reflect",
    "forward",
    "bidirectional",
    "tanh",
    "add",
    "LINEAR",
    "DEFAULT",
    "ij,jk->ik",
    "fp32",
    "?",
]


def _value(rng: random.Random, np_rng: np.random.Generator, dt: str, shape: tuple) -> object:
    if any(d is None for d in shape):
        return None
    if dt == "string":
        return rng.choice(_STRINGS)
    if dt == "bool":
        return np_rng.random(shape) > 0.5
    d = dtype(dt)
    if d.is_float:
        return np_rng.standard_normal(shape).astype(d.np_dtype)
    return np_rng.integers(-2, 6, size=shape).astype(d.np_dtype)


def _random_context(name: str, rng: random.Random, np_rng: np.random.Generator) -> StaticContext:
    spec = OP_REGISTRY[name]
    opset = rng.choice(OPSETS)
    types: dict[str, object] = {}
    values: dict[str, object] = {}
    for i in spec.inputs:
        if i.optional and rng.random() < 0.4:
            continue
        domain = spec.allowed_dtypes(i.name, opset) or ("fp16", "fp32", "int32")
        dt = rng.choice(domain)
        if dt == "string":
            shape: tuple = ()
        else:
            rank = rng.choice(i.rank) if i.rank else rng.choice([0, 1, 2, 3, 4])
            shape = tuple(rng.choice([1, 2, 3, 4, 8, None]) for _ in range(rank))
        t = TensorType(dtype(dt), shape)
        if i.is_tuple:
            types[i.name] = tuple(t for _ in range(rng.choice([1, 2, 3])))
            continue
        if i.name in spec.state_inputs:
            types[i.name] = StateType(t)
            continue
        types[i.name] = t
        if i.const or rng.random() < 0.3:
            v = _value(rng, np_rng, dt, shape)
            if v is not None:
                values[i.name] = v
    attrs: dict[str, object] = {}
    if spec.attrs_as_inputs and rng.random() < 0.5:
        attrs = dict(values)
        for k in attrs:
            types.pop(k, None)
            values.pop(k, None)
    return StaticContext(name, "f", opset, types, values, attrs)


@pytest.mark.parametrize("name", sorted(OP_REGISTRY))
def test_random_inputs_never_crash(name: str) -> None:
    rng = random.Random(name)
    np_rng = np.random.default_rng(sum(map(ord, name)))
    for _ in range(TRIALS):
        ctx = _random_context(name, rng, np_rng)
        outcome = _run(name, ctx)
        if isinstance(outcome, MILError):
            assert str(outcome).startswith(f"[{name} 'f'] "), str(outcome)
        else:
            assert all(isinstance(t, TensorType) for t in outcome), outcome


def _run(name: str, ctx: StaticContext) -> list | MILError:
    """The spec's output types, or the MILError it raised (any other exception propagates: a bug)."""
    try:
        return list(OP_REGISTRY[name].infer(ctx))
    except MILError as exc:
        return exc
