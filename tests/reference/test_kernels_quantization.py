"""Activation quantize/dequantize kernels: rounding, saturation, per-axis parameters."""

from __future__ import annotations

import numpy as np
import pytest
from _ref_helpers import call1

from anekit.errors import MILError


def test_quantize_rounds_half_to_even_and_saturates():
    x = np.float32([-1000, -2.5, -0.5, 0.5, 1.5, 2.5, 1000, np.nan])
    got = call1("quantize", input=x, scale=np.float32(1.0), output_dtype="int8")
    assert got.dtype == np.int8
    assert got.tolist() == [-128, -2, 0, 0, 2, 2, 127, 0]
    got = call1("quantize", input=x[:7], scale=np.float32(0.5), zero_point=np.uint8(128), output_dtype="uint8")
    assert got.tolist() == [0, 123, 127, 129, 131, 133, 255]
    per = call1(
        "quantize",
        input=np.float32([[1, 1], [1, 1]]),
        scale=np.float32([1, 0.5]),
        axis=np.int32(0),
        zero_point=np.int8([0, 3]),
        output_dtype="int8",
    )
    assert per.tolist() == [[1, 1], [5, 5]]
    with pytest.raises(MILError, match="output_dtype"):
        call1("quantize", input=x, scale=np.float32(1.0), output_dtype="int16")


def test_dequantize_inverts_quantize_on_the_grid():
    q = np.int8([[-3, 0, 4]])
    got = call1("dequantize", input=q, scale=np.float32([0.5]), zero_point=np.int8([1]), axis=np.int32(0))
    assert got.tolist() == [[-2.0, -0.5, 1.5]]
    assert call1("dequantize", input=q, scale=np.float32(2.0)).tolist() == [[-6, 0, 8]]
