"""anekit.fp16 and the native kernels: bit-exact with numpy on every path, over every fp16 bit pattern."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from anekit import _core, fp16

PATHS = ["scalar"] + [p for p in ("f16c+avx2", "neon") if p == _core.fp16_path()]


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    _core._fp16_force_path(request.param)
    try:
        yield request.param
    finally:
        _core._fp16_force_path("best")


ALL_HALF = np.arange(65536, dtype=np.uint32).astype(np.uint16)


def _bits16(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint16)


def _same_f16(got: np.ndarray, want: np.ndarray) -> None:
    """Bit-exact equality, reported with the first differing inputs."""
    g, w = _bits16(got), _bits16(want)
    bad = np.flatnonzero(g != w)
    assert bad.size == 0, f"{bad.size} mismatches, first at {bad[:5]}: got {g[bad[:5]]} want {w[bad[:5]]}"


def test_every_half_widens_exactly(path: str) -> None:
    got = fp16.to_fp32(ALL_HALF.view(np.float16))
    want = ALL_HALF.view(np.float16).astype(np.float32)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_every_half_roundtrips_through_fp32(path: str) -> None:
    widened = ALL_HALF.view(np.float16).astype(np.float32)
    _same_f16(fp16.to_fp16(widened), ALL_HALF.view(np.float16))


def test_ties_round_to_even(path: str) -> None:
    finite = ALL_HALF.view(np.float16)
    finite = np.sort(finite[np.isfinite(finite)].astype(np.float64))
    finite = np.unique(finite)
    mids = (finite[:-1] + finite[1:]) / 2  # exact midpoints: every one is a tie
    with np.errstate(over="ignore"):
        for arr in (mids.astype(np.float32), mids):
            _same_f16(fp16.to_fp16(arr), arr.astype(np.float16))
    # A tie just below the overflow threshold rounds to +-inf like IEEE (65520 = midpoint of 65504 and 2^16).
    assert np.isposinf(fp16.to_fp16(np.float32(65520.0)))
    assert fp16.to_fp16(np.float32(65519.99))[()] == np.float16(65504)


def test_random_fp32_bit_patterns(path: str) -> None:
    rng = np.random.default_rng(1234)
    bits = rng.integers(0, 2**32, size=2_000_000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        _same_f16(fp16.to_fp16(values), values.astype(np.float16))


def test_random_fp64_is_rounded_once(path: str) -> None:
    rng = np.random.default_rng(99)
    values = rng.standard_normal(500_000) * np.exp(rng.uniform(-45, 13, 500_000))
    # Values that double-round through fp32 differently from a direct rounding: just above an fp16 tie.
    tricky = np.array([1 + 2**-11 + 2**-40, -(1 + 2**-11 + 2**-40), 2**-24 * 1.5 + 2**-60, 65519.999999])
    with np.errstate(over="ignore"):
        for arr in (values, tricky):
            _same_f16(fp16.to_fp16(arr), arr.astype(np.float16))


def test_specials(path: str) -> None:
    sig_nan = np.array([0x7F800001, 0xFF800001, 0x7FC00000, 0x7F802000, 0x7FFFFFFF], dtype=np.uint32)
    specials = np.concatenate(
        [
            np.array([np.inf, -np.inf, 0.0, -0.0, 2**-24, 2**-25, -(2**-25), 2**-26, 1e-45, 65504, 1e10], np.float32),
            sig_nan.view(np.float32),
        ]
    )
    # Pad to several vector widths so the SIMD paths (which redo NaN blocks in scalar) see them mid-block.
    arr = np.tile(specials, 9)
    with np.errstate(over="ignore", invalid="ignore"):
        _same_f16(fp16.to_fp16(arr), arr.astype(np.float16))
    halves = fp16.to_fp16(arr)
    np.testing.assert_array_equal(fp16.to_fp32(halves).view(np.uint32), halves.astype(np.float32).view(np.uint32))


def test_round_fp16_matches_numpy_and_works_in_place(path: str) -> None:
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(100_003) * 1000).astype(np.float32)
    x[::97] = np.nan
    x[5] = 1e6
    with np.errstate(over="ignore", invalid="ignore"):
        want = x.astype(np.float16).astype(np.float32)
    got = fp16.round_fp16(x)
    np.testing.assert_array_equal(got, want)
    y = x.copy()
    assert fp16.round_fp16(y, out=y) is y
    np.testing.assert_array_equal(y, want)
    d = x.astype(np.float64) + 1e-9
    with np.errstate(over="ignore", invalid="ignore"):
        np.testing.assert_array_equal(fp16.round_fp16(d), d.astype(np.float16).astype(np.float32))


def test_layouts_and_dtypes_are_accepted() -> None:
    base = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
    for arr in (base, np.asfortranarray(base), base[:, ::2, ::-1], base.astype(np.int32), base > 1):
        got = fp16.to_fp16(arr)
        assert got.shape == arr.shape
        assert got.dtype == np.float16
        np.testing.assert_array_equal(got, np.asarray(arr).astype(np.float16))
    assert fp16.to_fp16(3.0).shape == ()
    assert fp16.round_fp16([0.1, 0.2]).dtype == np.float32


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(TypeError, match="real numeric"):
        fp16.to_fp16(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="real numeric"):
        fp16.to_fp16(np.array(["a"]))
    x = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="shape"):
        fp16.round_fp16(x, out=np.zeros(5, np.float32))
    with pytest.raises(TypeError, match="float32"):
        fp16.round_fp16(x, out=np.zeros(4, np.float64))
    with pytest.raises(ValueError, match="unknown conversion path"):
        _core._fp16_force_path("avx512")


def test_simd_path_is_reported() -> None:
    assert fp16.simd_path() in ("f16c+avx2", "neon", "scalar")
