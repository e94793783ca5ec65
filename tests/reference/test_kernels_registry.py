"""The kernel registry against the op registry: completeness, mirrored modules, defaults, and every op spec's
sample case (tests/mil/ops/cases.py) run through its kernel with the spec's output types."""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from anekit.errors import MILError
from anekit.mil.ops import OP_REGISTRY
from anekit.mil.types import StateType, TensorType
from anekit.reference.kernels import KERNELS, KernelContext

HERE = Path(__file__).resolve().parent
CASES_FILE = HERE.parent / "mil" / "ops" / "cases.py"


def test_every_registered_op_has_exactly_one_kernel():
    assert sorted(set(OP_REGISTRY) - set(KERNELS)) == [], "ops without a reference kernel"
    assert sorted(set(KERNELS) - set(OP_REGISTRY)) == [], "kernels for unregistered ops"


def test_kernel_modules_mirror_op_spec_modules():
    for op, spec in OP_REGISTRY.items():
        assert KERNELS[op].module == spec.__module__.rsplit(".", 1)[-1], op


def test_every_registered_op_is_exercised_by_a_value_test():
    # A value test names the op as a string literal in a test module of this folder (kernel call, builder
    # method or oracle table); the shape-only case run below does not count.
    text = "\n".join(p.read_text() for p in HERE.glob("test_*.py") if p.name not in {Path(__file__).name})
    missing = [op for op in OP_REGISTRY if not re.search(rf"[\"']{re.escape(op)}[\"']", text)]
    assert missing == [], f"ops without a value test in tests/reference: {missing}"


def _plain(v):
    return v.item() if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "biuf" else v


@pytest.mark.parametrize("op", sorted(OP_REGISTRY))
def test_kernel_defaults_equal_spec_defaults(op):
    params = inspect.signature(KERNELS[op].fn).parameters
    for spec in OP_REGISTRY[op].inputs:
        if spec.name not in params or callable(spec.default) or spec.default is None:
            continue
        kd = params[spec.name].default
        assert kd is not inspect.Parameter.empty, f"{op}.{spec.name}: the spec has a default, the kernel none"
        sd = spec.default
        if isinstance(sd, np.ndarray) and sd.ndim > 0:
            assert np.array_equal(np.asarray(kd), sd), f"{op}.{spec.name}"
        elif isinstance(kd, str) or isinstance(sd, str):
            assert kd == sd, f"{op}.{spec.name}"
        else:
            assert np.isclose(float(_plain(sd)), float(kd)), f"{op}.{spec.name}: {kd} != {sd}"


def _load_cases():
    if not CASES_FILE.is_file():
        return []
    spec = importlib.util.spec_from_file_location("anekit_op_cases", CASES_FILE)
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod.CASES


_UNKNOWN = 4  # stands in for every ``?`` dim of a case


def _value(t, rng):
    if isinstance(t, StateType):
        t = t.wrapped
    shape = tuple(_UNKNOWN if d is None else d for d in t.shape)
    name = t.dtype.name
    if name == "bool":
        return rng.random(shape) < 0.5
    if t.dtype.is_float:
        return (0.25 + 0.5 * rng.random(shape)).astype(np.float32)  # inside every float op's domain
    if name == "uint1":
        return np.ones(shape, dtype=np.uint8)  # a dense sparsity mask
    return np.zeros(shape, dtype=t.dtype.np_dtype)  # a valid index for every gather/slice


def _materialise(v, rng):
    if isinstance(v, tuple):
        return tuple(_materialise(m, rng) for m in v)
    if isinstance(v, (TensorType, StateType)):
        return _value(v, rng)
    if isinstance(v, np.ndarray) and v.dtype == np.float16:
        return v.astype(np.float32)
    return v


def _fit_sparsity_masks(inputs: dict) -> None:
    """Give a generated uint1 sparsity mask exactly as many set bits as its nonzero data has values."""
    data = inputs.get("nonzero_data", inputs.get("indices_nonzero_data"))
    for name in ("mask", "data_mask", "indices_mask"):
        m = inputs.get(name)
        if data is None or not isinstance(m, np.ndarray) or m.dtype != np.uint8 or m.size < np.size(data):
            continue
        flat = np.zeros(m.size, np.uint8)
        flat[: np.size(data)] = 1
        inputs[name] = flat.reshape(m.shape)


CASES = _load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_kernel_output_types_match_the_spec_case(case):
    rng = np.random.default_rng(7)
    inputs = {k: _materialise(v, rng) for k, v in case.inputs.items()}
    inputs.update({k: _materialise(v, rng) for k, v in case.attrs.items()})
    _fit_sparsity_masks(inputs)
    ctx = KernelContext(case.op, name="case", out_types=case.expected, opset=case.opset)
    try:
        outs = KERNELS[case.op](ctx, **inputs)
    except MILError as exc:
        if any(isinstance(v, TensorType) and v.dtype.is_int for v in case.inputs.values()):
            pytest.skip(f"zero-filled run-time integer inputs are not valid here: {exc}")
        raise
    if case.op == "write_state":
        assert len(outs) == 1  # the new state value (the op has no MIL outputs)
        return
    assert len(outs) == len(case.expected)
    for out, t in zip(outs, case.expected, strict=True):
        arr = np.asarray(out)
        assert arr.ndim == t.rank, (case.id, arr.shape, t)
        for got, want in zip(arr.shape, t.shape, strict=True):
            assert want is None or got == want, (case.id, arr.shape, t)
        if t.dtype.is_float:
            assert arr.dtype.kind == "f", (case.id, arr.dtype)
        elif t.dtype.name == "bool":
            assert arr.dtype == np.bool_, (case.id, arr.dtype)
        elif t.dtype.is_int and not t.dtype.is_subbyte:
            assert arr.dtype.kind in "iub", (case.id, arr.dtype)
