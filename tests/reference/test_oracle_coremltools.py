"""Kernels against coremltools' own numpy ``value_inference`` (docs/internals/mil-format.md §10.9), an oracle nobody
here wrote. coremltools computes in float64 and casts at the end, so the comparison uses float32 tolerances.

Skipped when coremltools is not installed (``pip install coremltools==9.0``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from _ref_helpers import call, randn

F = np.float32
I32 = np.int32
X = randn(2, 3, 4, seed=1)
P = np.abs(X) + F(0.5)  # positive
U = np.clip(X * F(0.3), -0.9, 0.9).astype(F)  # inside [-1, 1]
Y = randn(2, 3, 4, seed=2)
B1, B2 = X > 0, Y > 0

CASES: list[tuple[str, dict[str, Any]]] = [
    *[
        (op, {"x": X, "y": Y})
        for op in (
            "add",
            "sub",
            "mul",
            "real_div",
            "maximum",
            "minimum",
            "floor_div",
            "mod",
            "equal",
            "not_equal",
            "less",
            "less_equal",
            "greater",
            "greater_equal",
        )
    ],
    ("pow", {"x": P, "y": Y}),
    *[(op, {"x": B1, "y": B2}) for op in ("logical_and", "logical_or", "logical_xor")],
    ("logical_not", {"x": B1}),
    *[
        (op, {"x": X})
        for op in (
            "abs",
            "atan",
            "ceil",
            "cos",
            "cosh",
            "erf",
            "exp",
            "exp2",
            "floor",
            "round",
            "sign",
            "sin",
            "sinh",
            "square",
            "tanh",
            "relu",
            "relu6",
            "sigmoid",
            "softplus",
            "softsign",
        )
    ],
    *[(op, {"x": U}) for op in ("acos", "asin", "atanh", "tan")],
    ("sqrt", {"x": P}),
    ("rsqrt", {"x": P, "epsilon": F(1e-3)}),
    ("log", {"x": P, "epsilon": F(1e-3)}),
    ("inverse", {"x": P, "epsilon": F(1e-3)}),
    ("clip", {"x": X, "alpha": F(-0.5), "beta": F(0.7)}),
    ("leaky_relu", {"x": X, "alpha": F(0.1)}),
    ("elu", {"x": X, "alpha": F(1.3)}),
    ("thresholded_relu", {"x": X, "alpha": F(0.2)}),
    ("clamped_relu", {"x": X, "alpha": F(0.3), "beta": F(0.8)}),
    ("linear_activation", {"x": X, "alpha": F(2.0), "beta": F(-1.0)}),
    ("scaled_tanh", {"x": X, "alpha": F(1.5), "beta": F(0.5)}),
    ("sigmoid_hard", {"x": X, "alpha": F(0.2), "beta": F(0.5)}),
    ("prelu", {"x": X[None], "alpha": F([0.1, 0.2])}),
    ("softplus_parametric", {"x": X, "alpha": F([1.0, 2.0, 0.5]), "beta": F([1.0, 0.5, 2.0])}),
    *[("gelu", {"x": X, "mode": m}) for m in ("EXACT", "TANH_APPROXIMATION", "SIGMOID_APPROXIMATION")],
    ("softmax", {"x": X, "axis": I32(1)}),
    ("matmul", {"x": X, "y": Y, "transpose_y": True}),
    ("linear", {"x": X, "weight": randn(5, 4, seed=3), "bias": randn(5, seed=4)}),
    ("einsum", {"values": (randn(1, 2, 3, 4, seed=5), randn(1, 4, 3, 5, seed=6)), "equation": "nchw,nwhu->nchu"}),
    ("layer_norm", {"x": X, "axes": I32([1, 2]), "gamma": randn(3, 4, seed=7), "epsilon": F(1e-3)}),
    ("l2_norm", {"x": X, "epsilon": F(1e-6)}),
    *[
        (op, {"x": P, "axes": I32([1]), "keep_dims": True})
        for op in (
            "reduce_sum",
            "reduce_mean",
            "reduce_max",
            "reduce_min",
            "reduce_prod",
            "reduce_l1_norm",
            "reduce_l2_norm",
            "reduce_log_sum",
            "reduce_log_sum_exp",
            "reduce_sum_square",
        )
    ],
    ("reduce_argmax", {"x": X, "axis": I32(2)}),
    ("reduce_argmin", {"x": X, "axis": I32(0)}),
    ("reshape", {"x": X, "shape": I32([4, -1])}),
    ("transpose", {"x": X, "perm": I32([1, 2, 0])}),
    ("expand_dims", {"x": X, "axes": I32([1])}),
    ("squeeze", {"x": X[:, :1], "axes": I32([1])}),
    ("concat", {"values": (X, Y), "axis": I32(2), "interleave": False}),
    ("stack", {"values": (X, Y), "axis": I32(1)}),
    ("split", {"x": X, "axis": I32(2), "split_sizes": I32([1, 3])}),
    ("tile", {"x": X, "reps": I32([1, 2, 1])}),
    ("pad", {"x": X, "pad": I32([1, 2]), "mode": "reflect"}),
    ("pad", {"x": X, "pad": I32([0, 1, 2, 1]), "mode": "constant", "constant_val": F(3.0)}),
    ("shape", {"x": X}),
    ("identity", {"x": X}),
    ("range_1d", {"start": F(1.0), "end": F(3.0), "step": F(0.5)}),
    ("fill", {"shape": I32([2, 3]), "value": F(1.5)}),
    ("fill_like", {"ref_tensor": X, "value": F(2.0)}),
    ("band_part", {"x": randn(3, 4, 4, seed=8), "lower": I32(1), "upper": I32(0)}),
    ("cumsum", {"x": X, "axis": I32(1)}),
    ("slice_by_index", {"x": X, "begin": I32([0, 1, 0]), "end": I32([2, 3, 4]), "stride": I32([1, 1, 2])}),
    ("slice_by_size", {"x": X, "begin": I32([1, 0, 1]), "size": I32([1, -1, 2])}),
    ("gather", {"x": X, "indices": I32([2, 0]), "axis": I32(1)}),
    ("gather_along_axis", {"x": X, "indices": I32([[[1, 0, 2, 1]]] * 2), "axis": I32(1)}),
    # coremltools' value_inference implements only mode "update" (np.put_along_axis), whatever the mode says
    (
        "scatter_along_axis",
        {"data": X, "indices": I32([[[1, 0, 2, 1]]] * 2), "updates": Y[:, :1], "axis": I32(1), "mode": "update"},
    ),
    ("select", {"cond": B1, "a": X, "b": Y}),
    ("topk", {"x": X, "k": I32(2), "axis": I32(2)}),
    ("argsort", {"x": X, "axis": I32(-1), "ascending": True}),
    ("flatten2d", {"x": X, "axis": I32(2)}),
    ("reverse", {"x": X, "axes": I32([0, 2])}),
    ("non_zero", {"x": B1}),
    ("quantize", {"input": X, "scale": F(0.05), "zero_point": np.int8(3), "output_dtype": "int8"}),
    (
        "scaled_dot_product_attention",
        {"query": randn(1, 2, 3, 4, seed=9), "key": randn(1, 2, 5, 4, seed=10), "value": randn(1, 2, 5, 6, seed=11)},
    ),
]


@pytest.fixture(scope="module")
def ct() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mod = pytest.importorskip("coremltools")
    return mod


def _oracle(ct: Any, op: str, kwargs: dict[str, Any]) -> list[np.ndarray]:
    from coremltools.converters.mil.mil import Builder as mb
    from coremltools.converters.mil.mil import Function

    target = ct.target.iOS18 if op == "scaled_dot_product_attention" else ct.target.iOS17
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Function({}, opset_version=target):
            out = getattr(mb, op)(**kwargs)
    outs = out if isinstance(out, (list, tuple)) else [out]
    vals = [o.val for o in outs]
    if any(v is None for v in vals):
        pytest.skip(f"coremltools has no value_inference result for {op}")
    return [np.asarray(v) for v in vals]


@pytest.mark.parametrize(("op", "kwargs"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_kernel_matches_coremltools_value_inference(ct, op, kwargs):
    want = _oracle(ct, op, kwargs)
    got = call(op, **kwargs, opset="ios17" if op != "scaled_dot_product_attention" else "ios18")
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        g = np.asarray(g)
        assert g.shape == w.shape, op
        if w.dtype.kind in "biu":
            np.testing.assert_array_equal(g, w, err_msg=op)
        else:
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=2e-6, atol=2e-6, err_msg=op)
