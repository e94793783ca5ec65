"""Issue #11 item 15: corrupt weight files are refused before the framework sees them.

Before the fix the ANE backend copied the weight files to the framework as bytes: the compile "succeeded" and
the first run failed with a half-cut Python stack in a FrameworkError. The ANE backend now reads every blob
the way the reference backend does, so both refuse the same files at compile with a MILError.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import anekit
from anekit import mil, testing
from anekit.errors import AneUnavailableError, MILError

pytestmark = pytest.mark.objc


def _saved_conv(tmp_path: Path) -> Path:
    w = (np.random.default_rng(0).standard_normal((16, 16, 1, 1)) * 0.1).astype(np.float16)

    @mil.program(inputs={"x": mil.tensor((1, 16, 1, 32), "fp16")}, opset="ios18")
    def prog(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.conv(x=x, weight=w, pad_type="valid")

    return prog.save(tmp_path / "model")


def _weight_file(model: Path) -> Path:
    (path,) = (model / "weights").glob("*.bin")
    return path


def _truncate(data: bytearray) -> bytes:
    return bytes(data[: len(data) // 2])


def _bad_sentinel(data: bytearray) -> bytes:
    data[64:68] = b"\x00\x00\x00\x00"  # the first record's sentinel (docs/internals/mil-format.md §9.4)
    return bytes(data)


def _bad_data_offset(data: bytearray) -> bytes:
    # The record's data offset (u64 at record + 16) pointing past the end of the file.
    struct.pack_into("<Q", data, 64 + 16, len(data) * 4)
    return bytes(data)


def _bad_dtype(data: bytearray) -> bytes:
    struct.pack_into("<I", data, 64 + 4, 250)  # an unknown dtype code
    return bytes(data)


@pytest.mark.parametrize("corrupt", [_truncate, _bad_sentinel, _bad_data_offset, _bad_dtype])
def test_corrupt_weights_are_refused_at_compile(tmp_path: Path, corrupt: Callable[[bytearray], bytes]) -> None:
    model = _saved_conv(tmp_path)
    weights = _weight_file(model)
    weights.write_bytes(corrupt(bytearray(weights.read_bytes())))
    try:
        with testing.fake_ane(mode="reference") as fake:
            with pytest.raises(MILError) as on_ane:
                anekit.compile(mil.load(model), backend="ane", cache=False)
            assert fake.stats()["compileAttempts"] == 0  # the framework never saw it
    except AneUnavailableError as exc:
        pytest.skip(str(exc))
    with pytest.raises(MILError) as on_reference:
        anekit.compile(mil.load(model), backend="reference", cache=False)
    assert type(on_ane.value) is type(on_reference.value)
