"""anekit.Surface: layout, conversion on write/read, zero-copy views and input validation."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import anekit
from _helpers import run_in_threads
from anekit import _core


def test_properties_and_layout() -> None:
    s = anekit.Surface((1, 64, 1, 32))
    assert s.shape == (1, 64, 1, 32)
    assert s.dtype == "fp16"
    assert s.nbytes == 64 * 32 * 2  # exact size, no padding (docs/internals/ane-private-api.md §12.1)
    assert s.data_ptr % 64 == 0
    assert "Surface(shape=(1, 64, 1, 32)" in repr(s)
    s32 = anekit.Surface([1, 3, 1, 5], dtype="fp32")
    assert s32.nbytes == 60


def test_channel_major_layout_cS_plus_s() -> None:
    c, sp = 3, 5
    s = anekit.Surface((1, c, 1, sp))
    data = np.arange(c * sp, dtype=np.float32).reshape(c, sp)
    s.write(data)
    with s.view(write=False) as a:
        flat = np.array(a, copy=True).reshape(-1)
    for ci in range(c):
        for si in range(sp):
            assert flat[ci * sp + si] == data[ci, si]


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int32, np.int64, np.uint8, np.bool_])
def test_write_read_any_dtype(dtype: type) -> None:
    rng = np.random.default_rng(0)
    src = (rng.standard_normal((1, 8, 1, 40)) * 50).astype(dtype)
    s = anekit.Surface((1, 8, 1, 40))
    s.write(src)
    got = s.read()
    assert got.dtype == np.float32 and got.shape == (1, 8, 1, 40)
    np.testing.assert_array_equal(got, src.astype(np.float16).astype(np.float32))


def test_write_accepts_cs_fortran_strided_and_broadcast() -> None:
    s = anekit.Surface((1, 6, 1, 10))
    base = np.arange(60, dtype=np.float32).reshape(6, 10) / 3
    for arr in (base, np.asfortranarray(base), np.arange(120, dtype=np.float32).reshape(6, 20)[:, ::2] / 3):
        s.write(arr)
        np.testing.assert_array_equal(s.read().reshape(6, 10), np.asarray(arr).astype(np.float16).astype(np.float32))
    s.write(2.5)
    assert np.all(s.read() == 2.5)
    row = np.arange(10, dtype=np.float64)
    s.write(row)  # broadcasts over channels
    np.testing.assert_array_equal(s.read()[0, 3, 0], row.astype(np.float32))


def test_fp16_conversion_semantics_on_write() -> None:
    s = anekit.Surface((1, 1, 1, 6))
    s.write(np.array([70000.0, -70000.0, 2**-24, 2**-26, np.nan, 1 + 2**-11], dtype=np.float32))
    got = s.read()[0, 0, 0]
    assert np.isposinf(got[0]) and np.isneginf(got[1])
    assert got[2] == 2**-24 and got[3] == 0.0
    assert np.isnan(got[4])
    assert got[5] == 1.0  # tie rounds to even


def test_read_into_out_and_dtypes() -> None:
    s = anekit.Surface((1, 4, 1, 8))
    src = np.linspace(-3, 3, 32, dtype=np.float32).reshape(4, 8)
    s.write(src)
    out = np.empty((4, 8), np.float32)
    assert s.read(out=out) is out
    np.testing.assert_array_equal(out, src.astype(np.float16).astype(np.float32))
    assert s.read(dtype=np.float16).dtype == np.float16
    np.testing.assert_array_equal(s.read(dtype=np.float64), out.reshape(1, 4, 1, 8).astype(np.float64))


def test_fp32_surface_roundtrip() -> None:
    s = anekit.Surface((1, 2, 1, 3), dtype="fp32")
    src = np.array([[0.1, 0.2, 0.3], [1e30, -1e-30, 7.0]], np.float64)
    s.write(src)
    np.testing.assert_array_equal(s.read().reshape(2, 3), src.astype(np.float32))
    assert s.read(dtype=np.float16).dtype == np.float16


def test_bad_shapes_and_dtypes_name_the_surface() -> None:
    with pytest.raises(ValueError, match=r"positive"):
        anekit.Surface((1, 0, 1, 4))
    with pytest.raises(ValueError, match=r"1 to 5 dims"):
        anekit.Surface(())
    with pytest.raises(TypeError, match=r"sequence of ints"):
        anekit.Surface(7)
    with pytest.raises(TypeError, match=r"ints"):
        anekit.Surface((1, 2.5))
    with pytest.raises(ValueError, match=r"'fp16' or 'fp32'"):
        anekit.Surface((1, 4), dtype="int8")
    s = anekit.Surface((1, 4, 1, 8))
    with pytest.raises(ValueError, match=r"\(1, 4, 1, 8\).*\(5, 8\).*expected \(1, 4, 1, 8\), \(4, 8\)"):
        s.write(np.zeros((5, 8)))
    with pytest.raises(TypeError, match=r"Surface\(1, 4, 1, 8\)\.write.*complex"):
        s.write(np.zeros((4, 8), np.complex64))
    with pytest.raises(ValueError, match=r"out has shape \(3, 3\)"):
        s.read(out=np.zeros((3, 3), np.float32))
    with pytest.raises(TypeError, match=r"float16, float32 or float64"):
        s.read(dtype=np.int32)
    with pytest.raises(ValueError, match=r"C-contiguous"):
        s.read(out=np.zeros((8, 4), np.float32).T)


def test_view_aliases_memory_and_is_retired_after_the_block() -> None:
    s = anekit.Surface((1, 4, 1, 8))
    with s.view(write=True) as a:
        assert a.dtype == np.float16 and a.shape == (1, 4, 1, 8)
        a[...] = 1.5
        a[0, 2, 0, 3] = -2
        part = a[0, 1]
    got = s.read()
    assert got[0, 2, 0, 3] == -2 and got[0, 0, 0, 0] == 1.5
    with pytest.raises(RuntimeError, match="block has ended"):
        a[0, 0, 0, 0] = 3
    with pytest.raises(RuntimeError, match="block has ended"):
        _ = a + 1
    with pytest.raises(RuntimeError, match="block has ended"):
        repr(part)
    assert not a.flags.writeable
    # Bypassing the guard reads stale-but-valid memory, never freed memory: the array keeps the surface alive.
    raw = np.asarray(a)
    del s
    gc.collect()
    assert raw[0, 2, 0, 3] == -2
    with pytest.raises(ValueError, match="read-only"):
        raw[0, 0, 0, 0] = 1


def test_read_only_view_cannot_write() -> None:
    s = anekit.Surface((1, 2, 1, 2))
    with s.view(write=False) as a, pytest.raises(ValueError, match="read-only"):
        a[0, 0, 0, 0] = 1
    with pytest.raises(TypeError, match="bool"):
        s.view(write="yes")


def test_surfaces_are_freed() -> None:
    gc.collect()
    before = _core.live_surface_count()
    surfaces = [anekit.Surface((1, 8, 1, 8)) for _ in range(50)]
    assert _core.live_surface_count() == before + 50
    del surfaces
    gc.collect()
    assert _core.live_surface_count() == before


def test_concurrent_writes_release_the_gil() -> None:
    # 1M elements each: large enough for the GIL release and the parallel conversion pool, so concurrent
    # callers also exercise the pool's busy fallback.
    surfaces = [anekit.Surface((1, 1024, 1, 1024)) for _ in range(4)]
    data = [np.full((1024, 1024), i, np.float32) for i in range(4)]

    def work(i: int) -> None:
        for _ in range(10):
            surfaces[i].write(data[i])

    errors = run_in_threads(work, 4)
    assert not errors
    for i, s in enumerate(surfaces):
        assert np.all(s.read() == i)


@pytest.mark.parametrize("dtype", ["fp16", "fp32"])
@pytest.mark.parametrize("distance", [0, 2, 16, 48, 62, 64, 4094])
def test_same_dtype_copies_are_exact_at_any_distance_from_the_surface(dtype: str, distance: int) -> None:
    # Same-dtype write/read is a byte copy; copies whose destination lies 1-63 bytes past a 4 KiB multiple of
    # the source take a separate vector path (csrc/core/copy.h). Place the numpy side at every such distance,
    # with an odd element count so the tail after the last 64-byte block is exercised too.
    shape = (1, 37, 1, 129)
    s = anekit.Surface(shape, dtype=dtype)
    np_dtype = np.float16 if dtype == "fp16" else np.float32
    nbytes = s.nbytes
    raw = np.zeros(2 * nbytes + 3 * 4096, np.uint8)
    base = raw.ctypes.data
    src_off = (s.data_ptr - distance - base) % 4096  # write: surface - source = distance (mod 4096)
    past_src = -(-(src_off + nbytes) // 4096) * 4096  # a 4 KiB multiple past the source: no overlap
    dst_off = (s.data_ptr + distance - base) % 4096 + past_src  # read: array - surface = distance
    src = raw[src_off : src_off + nbytes].view(np_dtype).reshape(shape)
    dst = raw[dst_off : dst_off + nbytes].view(np_dtype).reshape(shape)
    src[...] = np.random.default_rng(distance).standard_normal(shape).astype(np_dtype)
    s.write(src)
    s.read(out=dst)
    np.testing.assert_array_equal(dst.view(np.uint8), src.view(np.uint8))
    assert (s.data_ptr - src.ctypes.data) % 4096 == distance
    assert (dst.ctypes.data - s.data_ptr) % 4096 == distance
