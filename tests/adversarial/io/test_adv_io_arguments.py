"""Bad arguments to the conversion and surface bindings get anekit's own clear errors (issue #11 item 16).

Every case must raise TypeError or ValueError naming the argument, never pybind11's "Unable to cast ..." or
"incompatible function arguments" signature listing, and never crash.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import anekit
from anekit import _core, fp16, mil
from anekit.errors import AneUnavailableError, MILParseError

PYBIND_DUMPS = ("Unable to cast", "incompatible", "Invoked with", "(self:", "argument types are supported")


def _surface() -> Any:
    return anekit.Surface((1, 2, 1, 4))


def _readonly() -> np.ndarray:
    a = np.zeros((1, 2, 1, 4), np.float32)
    a.flags.writeable = False
    return a


CASES: dict[str, tuple[Callable[[], object], type[Exception] | tuple[type[Exception], ...], str]] = {
    # Surface construction: shapes beyond int64, negative, zero, too large, not ints; dtype not a name.
    "shape 2**64": (lambda: anekit.Surface((2**64,)), ValueError, r"shape \(18446744073709551616,\).*int64"),
    "shape -2**70": (lambda: anekit.Surface((1, -(2**70))), ValueError, "outside the int64 range"),
    "shape negative": (lambda: anekit.Surface((1, -4, 1, 8)), ValueError, "every dim must be positive"),
    "shape zero": (lambda: anekit.Surface((1, 0, 1, 8)), ValueError, "every dim must be positive"),
    "shape huge product": (lambda: anekit.Surface((2**40, 2**40)), ValueError, "too large"),
    "shape float": (lambda: anekit.Surface((1, 2.0)), TypeError, r"shape entries must be ints, got 2\.0"),
    "shape bool": (lambda: anekit.Surface((1, True)), TypeError, "shape entries must be ints"),
    "shape str": (lambda: anekit.Surface("1x4"), TypeError, "shape must be a sequence of ints"),
    "shape None": (lambda: anekit.Surface(None), TypeError, "shape must be a sequence of ints"),
    # A wrong type or an unknown name: either error is clear (dtype spellings such as np.float16 are accepted).
    "dtype int": (lambda: anekit.Surface((4,), dtype=3), (TypeError, ValueError), "dtype must be 'fp16' or 'fp32'"),
    "dtype name": (lambda: anekit.Surface((4,), dtype="int8"), ValueError, "dtype must be 'fp16' or 'fp32'"),
    # Surface methods.
    "view write": (lambda: _surface().view(write="yes"), TypeError, "write must be a bool"),
    "lock write": (lambda: _surface()._lock_array(1), TypeError, r"_lock_array: write must be a bool, got 1"),
    "unlock write": (lambda: _surface()._unlock("x"), TypeError, r"_unlock: write must be a bool"),
    "read dtype name": (lambda: _surface().read(dtype="bogus"), TypeError, r"read: dtype must be float16.*bogus"),
    "read dtype int": (lambda: _surface().read(dtype=np.int32), TypeError, r"read: dtype must be float16"),
    "read out list": (lambda: _surface().read(out=[0.0] * 8), TypeError, "out must be a numpy array"),
    "read dtype complex": (lambda: _surface().read(dtype=np.complex64), TypeError, r"read: dtype must be float16"),
    "read out int": (lambda: _surface().read(out=np.zeros((1, 2, 1, 4), np.int16)), TypeError, "out must be float"),
    "read out shape": (lambda: _surface().read(out=np.zeros(8, np.float32)), ValueError, "out has shape"),
    "read out and dtype differ": (
        lambda: _surface().read(out=np.zeros((1, 2, 1, 4), np.float16), dtype=np.float32),
        ValueError,
        "differs from out's dtype float16",
    ),
    "read out read-only": (lambda: _surface().read(out=_readonly()), ValueError, "writeable"),
    "write str": (lambda: _surface().write("abc"), TypeError, r"write: expected a real numeric array"),
    "write complex": (lambda: _surface().write(np.zeros(8, complex)), TypeError, "got dtype complex128"),
    "write longdouble": (lambda: _surface().write(np.zeros(8, np.longdouble)), TypeError, "got dtype float128"),
    "write object": (lambda: _surface().write(np.array([object()] * 8)), TypeError, "got dtype object"),
    "write shape": (lambda: _surface().write(np.zeros(3)), ValueError, r"cannot write an array of shape \(3,\)"),
    # fp16 functions.
    "to_fp16 str": (lambda: fp16.to_fp16(np.array(["a"])), TypeError, "to_fp16: expected a real numeric array"),
    "to_fp32 object": (lambda: fp16.to_fp32(object()), TypeError, "to_fp32: expected a real numeric array"),
    "round out list": (lambda: fp16.round_fp16(np.zeros(4), out=[0.0] * 4), TypeError, "out must be a numpy"),
    "round out float64": (lambda: fp16.round_fp16(np.zeros(4), out=np.zeros(4)), TypeError, "out must have dtype"),
    "round out big-endian": (
        lambda: fp16.round_fp16(np.zeros(4), out=np.zeros(4, ">f4")),
        TypeError,
        "native byte order",
    ),
    "round out shape": (lambda: fp16.round_fp16(np.zeros(4), out=np.zeros(5, np.float32)), ValueError, "shape"),
    "round out strided": (
        lambda: fp16.round_fp16(np.zeros(4), out=np.zeros(8, np.float32)[::2]),
        ValueError,
        "C-contiguous",
    ),
    "force path int": (lambda: _core._fp16_force_path(3), TypeError, "name must be a str"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_arguments_are_named_without_binding_dumps(case: str) -> None:
    call, exc_type, pattern = CASES[case]
    with pytest.raises(exc_type, match=pattern) as info:
        call()
    text = str(info.value)
    assert not any(dump in text for dump in PYBIND_DUMPS), text


@pytest.mark.parametrize("convert", [fp16.to_fp16, fp16.to_fp32, fp16.round_fp16], ids=lambda f: f.__name__)
def test_conversion_of_an_impossibly_large_broadcast_fails_cleanly(convert: Callable[[object], object]) -> None:
    # 2**60 elements: the output is beyond any address space (so even an always-overcommitting kernel refuses).
    huge = np.broadcast_to(np.float32(1), (2**60,))
    with pytest.raises((MemoryError, ValueError), match=r"Unable to allocate|too big"):
        convert(huge)


@pytest.fixture(scope="module")
def kernel() -> anekit.Kernel:
    @mil.program(inputs={"x": mil.tensor((1, 4, 1, 8), "fp16")}, opset="ios18")
    def doubled(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.add(x=x, y=x)

    return anekit.compile(doubled, backend="reference")


@pytest.mark.parametrize(
    ("attr", "value", "exc_type", "pattern"),
    [
        ("qos", "x", TypeError, r"qos must be an int in 0\.\.63"),
        ("qos", 999, ValueError, r"qos must be an int in 0\.\.63 .* got 999"),
        ("qos", -1, ValueError, "qos must be an int"),
        ("qos", True, TypeError, "qos must be an int"),
        ("qos", 2**70, ValueError, "qos must be an int"),
        ("path", 3, TypeError, "path must be a str"),
        ("path", "warp", ValueError, "unknown execution path 'warp'"),
        ("path", "realtime", AneUnavailableError, "not available on the reference backend"),
    ],
)
def test_kernel_settings_are_checked_on_assignment(
    kernel: anekit.Kernel, attr: str, value: object, exc_type: type[Exception], pattern: str
) -> None:
    before = getattr(kernel, attr)
    with pytest.raises(exc_type, match=pattern):
        setattr(kernel, attr, value)
    assert getattr(kernel, attr) == before  # a refused value is not kept
    (y,) = kernel(x=np.ones((4, 8))).values()  # and the kernel still runs with its previous setting
    np.testing.assert_array_equal(y, 2)


def test_kernel_settings_accept_numpy_ints(kernel: anekit.Kernel) -> None:
    kernel.qos = np.int64(9)
    assert kernel.qos == 9 and type(kernel.qos) is int
    kernel.qos = 21


@pytest.mark.parametrize(
    ("kwargs", "exc_type", "pattern"),
    [
        ({"perf_stats_ns": -1}, ValueError, "perf_stats_ns must be in 0.."),
        ({"perf_stats_ns": 2**64}, ValueError, "perf_stats_ns must be in 0.."),
        ({"perf_stats_ns": "1"}, TypeError, "perf_stats_ns must be an int"),
        ({"compile_budget": 2**70}, ValueError, "compile_budget must be"),
        ({"faults": "unload"}, TypeError, "faults must be an iterable of str"),
        ({"disabled_selectors": [1]}, TypeError, "disabled_selectors must be an iterable of str"),
    ],
)
def test_fake_configuration_is_checked(kwargs: dict[str, object], exc_type: type[Exception], pattern: str) -> None:
    from anekit.testing import fake_ane

    if not _core.ane.built():
        pytest.skip("the Objective-C++ backend and its fake framework are not part of this build")
    with pytest.raises(exc_type, match=pattern) as info, fake_ane(**kwargs):  # type: ignore[arg-type]
        pass
    assert not any(dump in str(info.value) for dump in PYBIND_DUMPS)


NOT_UTF8 = b'program(1.0)\n[buildInfo = dict<string, string>({{"a", "\xff\xfe"}})]\n'


def test_non_utf8_model_mil_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "model.mil").write_bytes(NOT_UTF8)
    with pytest.raises(MILParseError, match=r"model\.mil is not UTF-8 text \(byte 0xff at offset \d+\)") as info:
        mil.load(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert (info.value.line, info.value.col) == (2, NOT_UTF8.split(b"\n")[1].index(b"\xff") + 1)
    with pytest.raises(MILParseError, match="not UTF-8"):
        mil.load(tmp_path / "model.mil")


@pytest.mark.parametrize("command", ["check", "verify"])
def test_cli_names_a_non_utf8_file(tmp_path: Path, command: str) -> None:
    path = tmp_path / "model.mil"
    path.write_bytes(NOT_UTF8)
    proc = subprocess.run(
        [sys.executable, "-m", "anekit", command, str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0
    assert f"{path} is not UTF-8 text" in proc.stdout + proc.stderr
    assert "UnicodeDecodeError" not in proc.stdout + proc.stderr
