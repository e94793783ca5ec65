"""Adversarial inputs for every conversion entry point: byte order, layout, broadcast, overlap.

Every entry point that takes an array (``fp16.to_fp16``/``to_fp16_bits``/``to_fp32``/``round_fp16``,
``Surface.write``, ``Kernel.__call__`` on float and integer kernels) must give exactly what numpy's ``astype``
gives for the *values* of the array, whatever its byte order, strides, broadcast or alignment: never a
reinterpretation of its bytes (issue #11 items 3, 5, 17).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

import anekit
from anekit import _core, fp16, mil

RNG = np.random.default_rng(11)
#: Values that exercise rounding, overflow to inf, subnormals and signs once converted to fp16.
BASE = np.concatenate([RNG.standard_normal(3000) * 300, [65519.0, 65520.0, -1e6, 6e-8, -0.0, 0.0]])

FLOAT_ORDERS = [">f2", ">f4", ">f8", "<f2", "<f4", "<f8"]
INT_ORDERS = [">i2", ">i4", ">i8", ">u2", ">u4", ">u8", "<i8", "|i1", "|u1"]


def _values(dtype: str, n: int = 12000) -> np.ndarray:
    dt = np.dtype(dtype)
    base = np.resize(BASE, n)
    with np.errstate(over="ignore", invalid="ignore"):
        if dt.kind == "f":
            return base.astype(dt)
        info = np.iinfo(dt)
        return np.clip(base * 100, info.min, info.max).astype(dt)


def _fp16_bits(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.asarray(values).astype(np.float16).view(np.uint16)


def _layouts(a: np.ndarray) -> dict[str, np.ndarray]:
    """The same dtype in hostile layouts, all of shape (60, 50) (2-D: rows, columns and broadcasts differ)."""
    m = a[:3000].reshape(60, 50)
    raw = b"\0" + m.tobytes()  # one byte in: every element misaligned
    return {
        "contiguous": m,
        "transposed": a[:3000].reshape(50, 60).T,
        "reversed": m[::-1, ::-1],
        "strided": a[:12000].reshape(120, 100)[::2, 1::2],
        "fortran": np.asfortranarray(m),
        "row-broadcast": np.broadcast_to(m[:1], (60, 50)),
        "column-broadcast": np.broadcast_to(m[:, :1], (60, 50)),
        "scalar-broadcast": np.broadcast_to(m[0, 0], (60, 50)),
        "misaligned": np.frombuffer(raw, dtype=m.dtype, offset=1).reshape(60, 50),
    }


CONVERTERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "to_fp16": lambda a: fp16.to_fp16(a).view(np.uint16),
    "to_fp16_bits": fp16.to_fp16_bits if hasattr(fp16, "to_fp16_bits") else _core.to_fp16_bits,
    "to_fp32": lambda a: fp16.to_fp32(a).view(np.uint32),
    "round_fp16": lambda a: fp16.round_fp16(a).view(np.uint32),
}


def _expected(name: str, a: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        if name in ("to_fp16", "to_fp16_bits"):
            return _fp16_bits(a)
        if name == "to_fp32":
            return np.asarray(a).astype(np.float32).view(np.uint32)
        return np.asarray(a).astype(np.float16).astype(np.float32).view(np.uint32)


@pytest.mark.parametrize("dtype", FLOAT_ORDERS + INT_ORDERS)
@pytest.mark.parametrize("converter", sorted(CONVERTERS))
def test_every_converter_reads_values_not_bytes(converter: str, dtype: str) -> None:
    for layout, a in _layouts(_values(dtype)).items():
        got = CONVERTERS[converter](a)
        assert got.shape == a.shape, layout
        want = _expected(converter, a)
        assert np.array_equal(got, want), f"{converter} of {dtype} {layout}: {np.flatnonzero(got != want)[:5]}"


EMPTY = {
    "(0, 5)": np.zeros((0, 5)),
    "(5, 0).T": np.zeros((5, 0)).T,
    "(40, 0).T": np.zeros((40, 0), np.float32).T,
    "(3, 0, 4) big-endian": np.zeros((3, 0, 4), ">f4"),
    "(0,) int8": np.zeros(0, np.int8),
    "broadcast (0, 100)": np.broadcast_to(np.float32(1), (0, 100)),
}


@pytest.mark.parametrize("name", sorted(EMPTY))
def test_empty_inputs_convert_to_empty_outputs(name: str) -> None:
    a = EMPTY[name]
    for convert in CONVERTERS.values():
        assert convert(a).shape == a.shape
    out = np.zeros(a.shape, np.float32)
    assert fp16.round_fp16(a, out=out) is out


@pytest.mark.parametrize("path", ["scalar", "best"])
def test_large_layouts_split_over_threads_are_exact(path: str) -> None:
    # Above the parallel threshold (2**16 elements) each thread walks its own part of a strided source.
    m = RNG.standard_normal((700, 517)) * 1000
    cases = [m.T, m[::3, 5:400:2], m.astype(">f4")[:, ::-1], m.astype(">f2"), m.astype(np.int64),
             np.broadcast_to(m[:, :1], (700, 4000)), np.broadcast_to(np.float32(3.3), (2, 3, 90000)),
             # Transposed 2-D sources are read in tiles: odd edges, reversed axes, every staged type.
             m[::-1].T, m[:, ::-1].T.astype(">f2"), np.asfortranarray(m[:, :17]), m[:, :17].T.copy().T,
             m.astype(np.int16).T, m.T[5:-3, 7:]]
    _core._fp16_force_path(path)
    try:
        for a in cases:
            for name, convert in CONVERTERS.items():
                assert np.array_equal(convert(a), _expected(name, a)), (name, a.dtype, a.strides)
    finally:
        _core._fp16_force_path("best")


@pytest.mark.parametrize("dtype", FLOAT_ORDERS + INT_ORDERS)
@pytest.mark.parametrize("surface_dtype", ["fp16", "fp32"])
def test_surface_write_reads_values_in_every_layout(surface_dtype: str, dtype: str) -> None:
    s = anekit.Surface((1, 60, 1, 50), dtype=surface_dtype)
    want_type = np.float16 if surface_dtype == "fp16" else np.float32
    for layout, a in _layouts(_values(dtype)).items():
        s.write(a)
        with np.errstate(over="ignore"):
            want = np.asarray(a).astype(want_type).reshape(1, 60, 1, 50)
        got = s.read(dtype=want_type)
        assert np.array_equal(got.view(f"u{got.itemsize}"), want.view(f"u{want.itemsize}")), f"{dtype} {layout}"


@pytest.mark.parametrize("dtype", [">f2", ">f4", ">f8"])
def test_surface_read_into_the_other_byte_order_gives_values(dtype: str) -> None:
    s = anekit.Surface((1, 3, 1, 5))
    values = (np.arange(15) * 1.25 - 7).reshape(3, 5)
    s.write(values)
    got = s.read(dtype=dtype)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.reshape(3, 5), values)
    out = np.zeros((3, 5), dtype)
    assert s.read(out=out) is out
    np.testing.assert_array_equal(out, values)


def test_surface_write_broadcasts_per_channel_and_from_cs() -> None:
    s = anekit.Surface((1, 4, 1, 6))
    per_channel = np.arange(4, dtype=">f8").reshape(4, 1)
    s.write(per_channel)
    np.testing.assert_array_equal(s.read()[0, :, 0, :], np.broadcast_to(per_channel, (4, 6)))
    s.write(np.arange(6, dtype=">i4"))
    np.testing.assert_array_equal(s.read()[0, :, 0, :], np.broadcast_to(np.arange(6), (4, 6)))
    with pytest.raises(ValueError, match=r"shape \(3,\); expected \(1, 4, 1, 6\), \(4, 6\)"):
        s.write(np.zeros(3))


# -- overlapping destinations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [1, -1, 3, -5])
def test_round_fp16_out_partially_overlapping_the_input(shift: int) -> None:
    base = (np.arange(40, dtype=np.float32) + 0.1) * 1000.5
    src = slice(max(0, -shift), 30 + max(0, -shift))
    dst = slice(src.start + shift, src.stop + shift)
    b = base.copy()
    want = base[src].astype(np.float16).astype(np.float32)
    got = fp16.round_fp16(b[src], out=b[dst])
    assert got is not None
    np.testing.assert_array_equal(b[dst], want)


def test_round_fp16_out_overlapping_as_another_dtype_or_layout() -> None:
    b = np.arange(64, dtype=np.float32) * 1.001
    want = b[::-1].astype(np.float16).astype(np.float32)
    fp16.round_fp16(b[::-1], out=b)  # reversed over itself
    np.testing.assert_array_equal(b, want)
    # float16 values stored in the first half of the float32 output's own bytes.
    c = np.zeros(5000, dtype=np.float32)
    halves = c.view(np.float16)[:5000]
    halves[:] = np.arange(5000) % 1000 + 0.5
    want_c = halves.astype(np.float32)
    fp16.round_fp16(halves, out=c)
    np.testing.assert_array_equal(c, want_c)


def test_round_fp16_in_place_stays_in_place() -> None:
    b = np.linspace(-70000, 70000, 100001, dtype=np.float32)
    with np.errstate(over="ignore"):
        want = b.astype(np.float16).astype(np.float32)
    assert fp16.round_fp16(b, out=b) is b
    np.testing.assert_array_equal(b, want)


def test_surface_write_from_a_view_of_itself() -> None:
    s = anekit.Surface((1, 8, 1, 300))
    a = RNG.standard_normal((8, 300)).astype(np.float32)
    s.write(a)
    with s.view() as v:
        s.write(v[..., ::-1])  # every element moves: reading in place would read overwritten values
    np.testing.assert_array_equal(s.read()[0, :, 0], a[:, ::-1].astype(np.float16).astype(np.float32))
    with s.view() as v:
        s.write(v)  # element for element in place: allowed and a no-op
        assert s.read(out=v.view(np.ndarray)) is not None
    np.testing.assert_array_equal(s.read()[0, :, 0], a[:, ::-1].astype(np.float16).astype(np.float32))


def test_surface_read_refuses_out_overlapping_its_memory_differently() -> None:
    s = anekit.Surface((1, 4, 1, 64), dtype="fp32")
    s.write(np.arange(256, dtype=np.float32).reshape(4, 64))
    with s.view() as v:
        # The surface's own bytes seen as float16: twice as many elements, so the reads would overrun the
        # writes; it must be refused, not half-overwritten.
        as_half = v.view(np.ndarray).reshape(-1).view(np.float16)[:256].reshape(1, 4, 1, 64)
        with pytest.raises(ValueError, match="overlaps this surface's own memory"):
            s.read(out=as_half)
    np.testing.assert_array_equal(s.read().ravel(), np.arange(256, dtype=np.float32))


# -- kernels: float surfaces and integer arrays take the same forms ------------------------------------------


@pytest.fixture(scope="module")
def int_kernel() -> anekit.Kernel:
    @mil.program(inputs={"i": mil.tensor((1, 4, 1, 8), "int32"), "s": mil.tensor((), "fp16")}, opset="ios18")
    def shifted(mb: mil.Builder, i: mil.Var, s: mil.Var) -> mil.Var:
        return mb.add(x=mb.cast(x=i, dtype="fp16"), y=s)

    return anekit.compile(shifted, backend="reference")


@pytest.fixture(scope="module")
def float_kernel() -> anekit.Kernel:
    @mil.program(inputs={"x": mil.tensor((1, 4, 1, 8), "fp16")}, opset="ios18")
    def doubled(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.add(x=x, y=x)

    return anekit.compile(doubled, backend="reference")


FORMS = {
    "declared": np.arange(32).reshape(1, 4, 1, 8),
    "(C, S)": np.arange(32).reshape(4, 8),
    "row broadcast": np.arange(8),
    "channel broadcast (C, 1)": np.arange(4).reshape(4, 1),
    "scalar": np.array(3),
    "big-endian": np.arange(32, dtype=">i8").reshape(4, 8),
    "transposed": np.arange(32).reshape(8, 4).T,
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_integer_and_float_kernels_accept_the_same_input_forms(
    form: str, int_kernel: anekit.Kernel, float_kernel: anekit.Kernel
) -> None:
    value = FORMS[form]
    cs = np.broadcast_to(value, (4, 8)) if value.ndim <= 2 else value.reshape(4, 8)
    want = cs.astype(np.float32).reshape(1, 4, 1, 8)
    (got_int,) = int_kernel(i=value, s=np.array(1, dtype=">f4")).values()
    np.testing.assert_array_equal(got_int, want + 1)
    (got_float,) = float_kernel(x=value.astype(value.dtype.newbyteorder(">"))).values()
    np.testing.assert_array_equal(got_float, 2 * want)
    (got_swapped,) = float_kernel(x=value, dtype=">f8").values()  # outputs in the other byte order: values
    np.testing.assert_array_equal(got_swapped, 2 * want)


def test_integer_kernel_refuses_unbroadcastable_shapes_naming_the_input(int_kernel: anekit.Kernel) -> None:
    with pytest.raises(ValueError, match=r"input 'i' .* shape \(3,\); expected \(1, 4, 1, 8\), \(4, 8\)"):
        int_kernel(i=np.arange(3), s=0)
    with pytest.raises(ValueError, match=r"input 's' .* shape \(2,\)"):
        int_kernel(i=0, s=np.zeros(2))


@pytest.fixture(params=["reference", "ane-fake"])
def any_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "reference":
        yield "reference"
        return
    if not _core.ane.built():
        pytest.skip("the Objective-C++ backend and its fake framework are not part of this build")
    from anekit import testing

    with testing.fake_ane(mode="reference"):
        yield "ane"


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "reversed", "strided", "column-broadcast"])
@pytest.mark.parametrize("dtype", [">f2", ">f4", ">f8", ">i4"])
def test_kernel_call_reads_values_on_every_backend(any_backend: str, dtype: str, layout: str) -> None:
    @mil.program(inputs={"x": mil.tensor((1, 60, 1, 50), "fp16")}, opset="ios18")
    def negated(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.mul(x=x, y=np.float16(-1))

    a = _layouts(_values(dtype))[layout]
    with np.errstate(over="ignore"):
        want = -np.asarray(a).astype(np.float16).astype(np.float32).reshape(1, 60, 1, 50)
    with anekit.compile(negated, backend=any_backend) as k:
        (got,) = k(x=a).values()
        (got_be,) = k(x=a, dtype=">f4").values()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_be, want)
