"""fp16 behaviour of precision="ane": rounding of every op output, overflow, subnormals, deep chains, and the
native/numpy rounding paths."""

from __future__ import annotations

import numpy as np
import pytest

from anekit import mil
from anekit.reference import Executor, _fp16, run
from anekit.reference.kernels import KERNELS, KernelContext

FP16_MAX = 65504.0
SUB_MIN = 2.0**-24  # smallest fp16 subnormal (docs/internals/mil-format.md §10.10)


def _one_op(op: str, shape=(1, 8), opset: str = "ios18", **const_inputs):
    mb = mil.Builder(opset)
    x = mb.input("x", mil.tensor(shape, "fp16"))
    y = getattr(mb, op)(x=x, **const_inputs)
    return mb.build(y)


def _out(prog, x, precision="ane"):
    return next(iter(run(prog, {"x": x}, precision=precision).values()))


def test_overflow_goes_to_inf_in_ane_precision_only():
    prog = _one_op("mul", y=np.float16(300.0))
    x = np.float32([[1, 100, 218, 219, -219, 1000, 0, -1]])
    ane = _out(prog, x)
    assert ane.dtype == np.float16
    assert ane[0, 2] == 65408.0  # 218·300 = 65400 rounds to the nearest fp16 (spacing 32 here)
    assert np.isinf(ane[0, 3])
    assert ane[0, 3] > 0
    assert np.isinf(ane[0, 4])
    assert ane[0, 4] < 0
    np.testing.assert_allclose(_out(prog, x, "fp32"), x * 300)
    # exactly at the rounding boundary: 65519.99 rounds to 65504, 65520 to inf (round half to even)
    prog_add = _one_op("add", y=np.float16(65504.0))
    edge = _out(prog_add, np.float32([[0, 15.99, 16, 32, 0, 0, 0, 0]]))
    assert edge[0, :4].tolist() == [FP16_MAX, FP16_MAX, np.inf, np.inf]


def test_inputs_are_rounded_to_fp16_when_they_enter():
    prog = _one_op("identity")
    x = np.float32([[1.0001, 2049.0, 70000.0, 1e-9, 3e-8, -0.0, np.nan, 0.1]])
    out = _out(prog, x)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(out, x.astype(np.float16))
    assert np.signbit(out[0, 5])


def test_subnormals_are_kept_and_underflow_rounds_to_nearest_even():
    prog = _one_op("mul", y=np.float16(2.0**-12))
    x = np.float32([[2.0**-12, 2.0**-13, 3 * 2.0**-13, 1.5 * 2.0**-12, 2.0**-2, 1.0, -(2.0**-12), 0]])
    out = _out(prog, x).astype(np.float64)
    # 2^-24 (min subnormal) stays; 2^-25 is a tie between 0 and 2^-24 -> 0 (even); 1.5·2^-24 -> 2^-23 (even)
    assert out[0].tolist()[:7] == [SUB_MIN, 0.0, 2 * SUB_MIN, 2 * SUB_MIN, 2.0**-14, 2.0**-12, -SUB_MIN]
    assert _out(prog, x, "fp32")[0, 1] == 2.0**-25


@pytest.mark.parametrize(
    ("op", "kwargs"),
    [
        ("exp", {}),
        ("sqrt", {}),
        ("tanh", {}),
        ("sigmoid", {}),
        ("gelu", {"mode": "EXACT"}),
        ("softmax", {"axis": np.int32(-1)}),
        ("mul", {"y": np.float16(1.1)}),
        ("real_div", {"y": np.float16(3.0)}),
        ("layer_norm", {"axes": np.int32([1]), "epsilon": np.float16(1e-3)}),
        ("rsqrt", {"epsilon": np.float16(1e-3)}),
        ("reduce_mean", {"axes": np.int32([1]), "keep_dims": True}),
    ],
)
def test_every_op_output_is_the_fp16_rounding_of_its_fp32_result(op, kwargs):
    # "compute in fp32, store fp16": the stored value equals numpy's IEEE fp16 rounding of the kernel's fp32
    # result on the (already fp16) inputs, bit for bit.
    prog = _one_op(op, **kwargs)
    x = (np.abs(np.random.default_rng(3).standard_normal((1, 8))) + 0.1).astype(np.float16).astype(np.float32)
    got = _out(prog, x)
    ctx = KernelContext(op, float_dtype=np.dtype(np.float32))
    inputs = {
        k: (np.asarray(v, np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float16 else v)
        for k, v in kwargs.items()
    }
    fp32 = np.asarray(KERNELS[op](ctx, x=x, **inputs)[0], np.float32)
    np.testing.assert_array_equal(got.view(np.uint16), fp32.astype(np.float16).view(np.uint16))


def test_every_intermediate_of_a_program_lies_on_the_fp16_grid():
    mb = mil.Builder("ios18")
    x = mb.input("x", mil.tensor((1, 16, 1, 8), "fp16"))
    w = (np.random.default_rng(0).standard_normal((16, 16, 1, 1)) * 0.3).astype(np.float16)
    h = mb.layer_norm(x=mb.conv(x=x, weight=w), axes=np.int32([1]), epsilon=np.float16(1e-3))
    h = mb.softmax(x=mb.gelu(x=h), axis=np.int32(1))
    prog = mb.build(mb.add(x=h, y=x))
    res = run(prog, {"x": np.random.default_rng(1).standard_normal((1, 16, 1, 8))}, trace=True)
    for name, v in res.trace.items():
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            assert v.dtype == np.float16, name


def _deep_chain(n: int) -> mil.Program:
    """x -> (x·1.001 + 0.01)·0.999 ... n times: every step rounds in fp16."""
    mb = mil.Builder("ios18")
    x = mb.input("x", mil.tensor((1, 64), "fp16"))
    h = x
    for _ in range(n):
        h = mb.add(x=mb.mul(x=h, y=np.float16(1.001)), y=np.float16(0.01))
        h = mb.mul(x=h, y=np.float16(0.999))
    return mb.build(h)


def test_ane_precision_drifts_from_fp64_on_a_deep_chain_while_fp32_does_not():
    prog = _deep_chain(100)
    x = np.linspace(0.5, 2.0, 64, dtype=np.float16).astype(np.float32)[None]
    ane = _out(prog, x).astype(np.float64)
    f32 = _out(prog, x, "fp32").astype(np.float64)
    f64 = _out(prog, x, "fp64")
    err_ane = np.max(np.abs(ane - f64) / np.abs(f64))
    err_32 = np.max(np.abs(f32 - f64) / np.abs(f64))
    assert err_32 < 1e-5
    # 200 roundings of relative size <= 2^-11 each bound the drift; fp16 storage must cost visibly more
    # than fp32 (the chain is built so that rounding errors accumulate) and stay within that bound
    assert 1e-3 < err_ane < 200 * 2.0**-11
    assert err_ane > 100 * err_32


def test_fp64_precision_holds_fp16_typed_values_unrounded():
    prog = _one_op("mul", y=np.float16(1.0))
    x = np.float64([[1 / 3] * 8])
    assert _out(prog, x, "fp64")[0, 0] == 1 / 3
    assert _out(prog, x, "fp32")[0, 0] == np.float32(1 / 3)
    assert _out(prog, x)[0, 0] == np.float16(1 / 3)


def test_fp32_typed_ops_are_not_rounded_in_ane_precision():
    mb = mil.Builder("ios17")
    x = mb.input("x", mil.tensor((4,), "fp32"))
    prog = mb.build(mb.mul(x=x, y=np.float32(1.0 / 3)))
    out = next(iter(run(prog, {"x": np.ones(4, np.float32)}).values()))
    assert out.dtype == np.float32
    assert out[0] == np.float32(1 / 3)


def test_native_and_numpy_rounding_agree_bit_for_bit():
    rng = np.random.default_rng(5)
    special = np.float32(
        [
            0.0,
            -0.0,
            np.inf,
            -np.inf,
            np.nan,
            65504,
            65519.99,
            65520,
            2.0**-24,
            2.0**-25,
            3 * 2.0**-26,
            2.0**-14,
            2.0**-14 - 2.0**-26,
            1 + 2.0**-11,
            1 + 3 * 2.0**-11,
        ]
    )
    bits = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    a = np.concatenate([special, -special, bits, rng.standard_normal(10_000).astype(np.float32)])
    ref = _fp16.round_fp16_numpy(a)
    got = _fp16.round_fp16(a)
    assert got.dtype == np.float32
    assert got.shape == a.shape
    same = (got.view(np.uint32) == ref.view(np.uint32)) | (np.isnan(got) & np.isnan(ref))
    assert same.all()
    assert _fp16.round_fp16_backend() in ("native", "numpy")


def test_native_rounding_is_used_when_the_extension_imports():
    try:
        import anekit.fp16  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"native extension not importable: {exc}")
    assert _fp16.round_fp16_backend() == "native"


def test_round_fp16_handles_shapes_scalars_and_float64():
    assert _fp16.round_fp16(np.float64(1 / 3)).item() == float(np.float16(1 / 3))
    m = np.arange(12, dtype=np.float64).reshape(3, 4).T / 7  # non-contiguous float64
    np.testing.assert_array_equal(_fp16.round_fp16(m), m.astype(np.float16).astype(np.float32))


def test_executor_results_do_not_depend_on_the_rounding_backend(monkeypatch):
    prog = _deep_chain(5)
    x = np.linspace(-3, 3, 64, dtype=np.float32)[None]
    a = Executor(prog)({"x": x})
    monkeypatch.setattr(_fp16, "_resolve", lambda: ("numpy", _fp16.round_fp16_numpy))
    b = Executor(prog)({"x": x})
    for k in a:
        np.testing.assert_array_equal(a[k].view(np.uint16), b[k].view(np.uint16))


@pytest.mark.parametrize("backend", ["native", "numpy"])
def test_rank0_fp16_results_keep_rank0(backend, monkeypatch):
    # issue #11 item 2: the rounding helper turned 0-d arrays into shape (1,), so every fp16 scalar result
    # failed the declared-type check ("kernel produced shape [1] ... declares tensor<fp16, []>").
    if backend == "numpy":
        monkeypatch.setattr(_fp16, "_resolve", lambda: ("numpy", _fp16.round_fp16_numpy))
    assert _fp16.round_fp16(np.float32(3.3)).shape == ()
    mb = mil.Builder("ios17")
    x = mb.input("x", mil.tensor((4,), "fp16"))
    prog = mb.build(mb.reduce_sum(x=x, axes=[0], keep_dims=False))
    out = _out(prog, np.float16([1, 2, 3, 4.5]))
    assert out.shape == () and out.dtype == np.float16 and float(out) == 10.5
    scalar = _one_op("mul", shape=(), opset="ios17", y=np.float16(3.0))
    out = _out(scalar, np.float16(1.5))
    assert out.shape == () and float(out) == 4.5
