"""Op base helpers: shared default values are read-only and typed as the specs declare."""

from __future__ import annotations

import numpy as np
import pytest

from anekit.mil import Builder, tensor
from anekit.mil.ops import get_spec
from anekit.mil.ops._base import boolean, f32, i32, int32_ones, int32_zeros


@pytest.mark.parametrize("n", [0, 1, 2, 3, 6, 7, 12])
def test_int32_vectors(n: int) -> None:
    for make, fill in ((int32_ones, 1), (int32_zeros, 0)):
        v = make(n)
        assert v.dtype == np.int32 and v.shape == (n,) and (v == fill).all()
        assert not v.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            v[...] = 5


def test_small_vectors_are_shared() -> None:
    assert int32_ones(2) is int32_ones(2)
    assert int32_zeros(4) is int32_zeros(4)


def test_scalar_defaults_are_read_only() -> None:
    for v, dt in ((i32(1), np.int32), (f32(0.5), np.float32), (boolean(True), np.bool_)):
        assert v.shape == () and v.dtype == dt and not v.flags.writeable


def test_conv_defaults_do_not_leak_between_ops() -> None:
    mb = Builder("ios18", build_info=None)
    x = mb.input("x", tensor((1, 2, 4, 4), "fp16"))
    a = mb.conv(x=x, weight=np.ones((2, 2, 1, 1), np.float16))
    b = mb.conv(x=x, weight=np.ones((2, 2, 1, 1), np.float16))
    sa, sb = a.op.inputs["strides"].const_value, b.op.inputs["strides"].const_value
    assert sa.tolist() == sb.tolist() == [1, 1]
    assert not sa.flags.writeable
    spec = get_spec("conv")
    assert spec.input_spec("groups").default.flags.writeable is False
