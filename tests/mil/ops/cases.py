"""Hand-checked sample cases for every registered MIL op: (op, opset, inputs, expected output types).

Importable data for the op-spec tests and for the reference executor's tests (load it by path, e.g.
``importlib.util.spec_from_file_location("op_cases", <repo>/tests/mil/ops/cases.py)``).

Each :class:`Case` lists its inputs by MIL name. An input is a :class:`TensorType` (a run-time tensor of that
type), a numpy value / Python ``str`` (a const: its type is derived from the value and the value is passed
to inference), or a tuple of those (tuple inputs such as ``concat(values = (a, b))``). Values of const
inputs are what a program would carry. ``expected`` was computed by hand from the MIL semantics
(docs/internals/mil-format.md §10 / coremltools op definitions), not by running the specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from anekit.mil.ops import StaticContext
from anekit.mil.types import StateType, TensorType, dtype

__all__ = ["CASES", "Case", "T", "context", "infer"]


def T(dt: str, *shape: int | None) -> TensorType:
    """``T("fp16", 1, None, 64)`` → ``tensor<fp16, [1, ?, 64]>``."""
    return TensorType(dtype(dt), tuple(shape))


def i32(*v: int) -> np.ndarray:
    """An int32 const: one argument → rank 0, several → rank 1 (use ``i32v`` for a 1-element vector)."""
    return np.asarray(v[0] if len(v) == 1 else list(v), dtype=np.int32)


def i32v(*v: int) -> np.ndarray:
    """A rank-1 int32 const."""
    return np.asarray(list(v), dtype=np.int32)


def f16(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=np.float16)


def f32(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)


def b(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=np.bool_)


@dataclass(frozen=True)
class Case:
    """One inference case.

    Attributes:
        op: MIL op name.
        inputs: input name -> TensorType | const value | tuple of those.
        expected: the output types.
        opset: the function opset.
        attrs: attribute operands (pre-iOS18 constexpr ops), name -> const value.
        note: what the case exercises.
    """

    op: str
    inputs: dict[str, Any]
    expected: tuple[TensorType, ...]
    opset: str = "ios17"
    attrs: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.op}-{self.opset}-{self.note}" if self.note else f"{self.op}-{self.opset}"


def _type_of(v: Any) -> tuple[TensorType, Any]:
    """(type, value-or-None) of one input entry."""
    if isinstance(v, (TensorType, StateType)):
        return v, None
    if isinstance(v, str):
        return TensorType(dtype("string"), ()), v
    arr = np.asarray(v)
    return TensorType(dtype(arr.dtype), arr.shape), arr


def context(
    op: str,
    inputs: dict[str, Any],
    opset: str = "ios17",
    attrs: dict[str, Any] | None = None,
    name: str = "op_0",
) -> StaticContext:
    """A StaticContext for ``inputs`` in the Case convention (attrs: values only, no types)."""
    types: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for k, v in inputs.items():
        if isinstance(v, tuple):
            pairs = [_type_of(m) for m in v]
            types[k] = tuple(p[0] for p in pairs)
            if any(p[1] is not None for p in pairs):
                values[k] = tuple(p[1] for p in pairs)
        else:
            t, val = _type_of(v)
            types[k] = t
            if val is not None:
                values[k] = val
    return StaticContext(op, name, opset, types, values, attrs or {})


def infer(
    op: str,
    inputs: dict[str, Any],
    opset: str = "ios17",
    attrs: dict[str, Any] | None = None,
    name: str = "op_0",
) -> list[Any]:
    """Run the registered spec of ``op`` on ``inputs`` (Case convention) and return its output types."""
    from anekit.mil.ops import get_spec

    return get_spec(op, opset).infer(context(op, inputs, opset, attrs, name))


def C(
    op: str,
    inputs: dict[str, Any],
    *expected: TensorType,
    opset: str = "ios17",
    note: str = "",
    attrs: dict[str, Any] | None = None,
) -> Case:
    return Case(op, inputs, tuple(expected), opset, attrs or {}, note)


X = T("fp16", 1, 64, 1, 32)

_BINARY = ["add", "sub", "mul", "real_div", "pow", "maximum", "minimum", "floor_div", "mod"]
_COMPARE = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
_LOGICAL = ["logical_and", "logical_or", "logical_xor"]
_UNARY_F = [
    "acos",
    "asin",
    "atan",
    "atanh",
    "ceil",
    "cos",
    "cosh",
    "erf",
    "exp",
    "floor",
    "round",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "rsqrt",
    "log",
    "inverse",
]
_UNARY_I = ["abs", "sign", "square", "exp2"]
_ACT = [
    "relu",
    "relu6",
    "sigmoid",
    "silu",
    "softsign",
    "softplus",
    "leaky_relu",
    "elu",
    "thresholded_relu",
    "scaled_tanh",
    "sigmoid_hard",
    "gelu",
]
#: alpha/beta are required by coremltools' definitions (issue #10): the cases give them.
_ALPHA_BETA = {
    "leaky_relu": {"alpha": f16(0.01)},
    "elu": {"alpha": f16(1.0)},
    "thresholded_relu": {"alpha": f16(1.0)},
    "scaled_tanh": {"alpha": f16(1.0), "beta": f16(1.0)},
    "sigmoid_hard": {"alpha": f16(0.2), "beta": f16(0.5)},
}
_REDUCE = [
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
]

CASES: list[Case] = [
    # ---- elementwise (broadcast [1, C, 1, 1] x [1, C, 1, S], docs/internals/mil-format.md §10.2) ----
    *[C(op, {"x": T("fp16", 1, 64, 1, 1), "y": X}, X, note="bcast") for op in _BINARY],
    *[C(op, {"x": T("int32", 3), "y": T("int32", 2, 1)}, T("bool", 2, 3)) for op in _COMPARE],
    *[C(op, {"x": T("bool", 4, 1), "y": T("bool", 1, 5)}, T("bool", 4, 5)) for op in _LOGICAL],
    C("add", {"x": T("fp16", None, 8), "y": T("fp16", 1, 8)}, T("fp16", None, 8), note="unknown"),
    C("mul", {"x": X, "y": f16(0.5)}, X, note="scalar"),
    # ---- unary ----
    *[C(op, {"x": T("fp32", 2, None)}, T("fp32", 2, None)) for op in _UNARY_F],
    *[C(op, {"x": T("int32", 7)}, T("int32", 7)) for op in _UNARY_I],
    C("logical_not", {"x": T("bool", 3)}, T("bool", 3)),
    C("rsqrt", {"x": T("fp16", 4), "epsilon": f16(1e-3)}, T("fp16", 4), opset="ios16", note="eps"),
    C(
        "log",
        {"x": T("fp32", 1, 128, None), "epsilon": f32(2**-149)},
        T("fp32", 1, 128, None),
        note="corpus",
    ),
    C(
        "clip",
        {"x": T("fp16", 1, 128, 4), "alpha": f16(-np.inf), "beta": f16(6.0)},
        T("fp16", 1, 128, 4),
    ),
    C("cast", {"x": T("fp32", 1, 576), "dtype": "fp16"}, T("fp16", 1, 576), opset="ios15"),
    C("cast", {"x": T("uint16", None), "dtype": "int32"}, T("int32", None), note="ios17-int"),
    # ---- activation ----
    *[C(op, {"x": X, **_ALPHA_BETA.get(op, {})}, X) for op in _ACT],
    C("gelu", {"x": X, "mode": "TANH_APPROXIMATION"}, X, note="tanh"),
    C("gelu", {"x": X, "mode": "SIGMOID_APPROXIMATION"}, X, note="sigmoid"),
    C("clamped_relu", {"x": X, "alpha": f16(0.1), "beta": f16(6.0)}, X),
    C("linear_activation", {"x": X, "alpha": f16(2.0), "beta": f16(0.0)}, X),
    C("prelu", {"x": X, "alpha": f16(np.ones(64))}, X),
    C("softplus_parametric", {"x": X, "alpha": f16(np.ones(64)), "beta": f16(np.ones(64))}, X),
    C(
        "softmax",
        {"x": T("fp16", None, 12, None, None), "axis": i32(-1)},
        T("fp16", None, 12, None, None),
    ),
    # ---- linear ----
    C(
        "linear",
        {"x": T("fp16", 1, 1, 1, 640), "weight": T("fp16", 1027, 640), "bias": T("fp16", 1027)},
        T("fp16", 1, 1, 1, 1027),
        note="corpus-rank4",
    ),
    C(
        "linear",
        {"x": T("fp32", 5), "weight": T("fp32", 3, 5)},
        T("fp32", 3),
        opset="ios15",
        note="1d",
    ),
    C(
        "matmul",
        {
            "x": T("fp16", 1, 12, 64, 32),
            "y": T("fp16", 1, 12, 64, 32),
            "transpose_x": b(False),
            "transpose_y": b(True),
        },
        T("fp16", 1, 12, 64, 64),
        note="qk",
    ),
    C("matmul", {"x": T("fp32", 4), "y": T("fp32", 2, 4, 3)}, T("fp32", 2, 3), note="1d-x"),
    C("matmul", {"x": T("fp32", 2, 3, 4), "y": T("fp32", 4)}, T("fp32", 2, 3), note="1d-y"),
    C(
        "matmul",
        {"x": T("fp16", 7, 1, 8, 4), "y": T("fp16", 3, 4, 5)},
        T("fp16", 7, 3, 8, 5),
        note="batch",
    ),
    C(
        "einsum",
        {"values": (T("fp16", 2, 3, 4), T("fp16", 2, 4, 5)), "equation": "bij,bjk->bik"},
        T("fp16", 2, 3, 5),
    ),
    # ---- conv ----
    C(
        "conv",
        {
            "x": T("fp16", 1, 1, 640),
            "weight": T("fp16", 258, 1, 256),
            "strides": i32v(128),
            "pad_type": "valid",
            "dilations": i32v(1),
            "groups": i32(1),
            "pad": i32v(0, 0),
        },
        T("fp16", 1, 258, 4),
        opset="ios15",
        note="stft",
    ),
    C(
        "conv",
        {
            "x": T("fp16", 1, 129, 4),
            "weight": T("fp16", 128, 129, 3),
            "pad_type": "custom",
            "pad": i32v(1, 1),
        },
        T("fp16", 1, 128, 4),
        note="custom",
    ),
    C(
        "conv",
        {
            "x": T("fp32", 2, 8, 10, 9),
            "weight": T("fp32", 16, 4, 3, 3),
            "groups": i32(2),
            "strides": i32v(2, 2),
            "pad_type": "same",
        },
        T("fp32", 2, 16, 5, 5),
        note="same-groups",
    ),
    C(
        "conv",
        {"x": T("fp16", 1, 64, 1, 32), "weight": T("fp16", 128, 64, 1, 1)},
        T("fp16", 1, 128, 1, 32),
        note="1x1-defaults",
    ),
    C(
        "conv",
        {
            "x": T("fp16", 1, 4, 11),
            "weight": T("fp16", 4, 1, 3),
            "groups": i32(4),
            "dilations": i32v(2),
            "pad_type": "same_lower",
        },
        T("fp16", 1, 4, 11),
        opset="ios16",
        note="depthwise-dilated",
    ),
    C(
        "conv_transpose",
        {"x": T("fp32", 1, 8, 5, 5), "weight": T("fp32", 8, 4, 3, 3), "strides": i32v(2, 2)},
        T("fp32", 1, 4, 11, 11),
    ),
    # ---- pool ----
    C(
        "max_pool",
        {
            "x": T("fp16", 1, 3, 8, 8),
            "kernel_sizes": i32v(2, 2),
            "strides": i32v(2, 2),
            "pad_type": "valid",
        },
        T("fp16", 1, 3, 4, 4),
    ),
    C(
        "avg_pool",
        {
            "x": T("fp32", 1, 3, 7),
            "kernel_sizes": i32v(2),
            "strides": i32v(2),
            "pad_type": "valid",
            "ceil_mode": b(True),
        },
        T("fp32", 1, 3, 4),
        note="ceil",
    ),
    C(
        "l2_pool",
        {
            "x": T("fp32", 1, 2, 9, 9),
            "kernel_sizes": i32v(3, 3),
            "strides": i32v(2, 2),
            "pad_type": "same",
        },
        T("fp32", 1, 2, 5, 5),
    ),
    # ---- normalization ----
    C(
        "layer_norm",
        {
            "x": T("fp16", None, None, 384),
            "axes": i32v(-1),
            "gamma": T("fp16", 384),
            "beta": T("fp16", 384),
            "epsilon": f16(2**-24),
        },
        T("fp16", None, None, 384),
        opset="ios18",
    ),
    C(
        "batch_norm",
        {"x": T("fp32", 2, 3, 4, 4), "mean": T("fp32", 3), "variance": T("fp32", 3)},
        T("fp32", 2, 3, 4, 4),
    ),
    C(
        "instance_norm",
        {"x": T("fp16", 2, 3, 4), "gamma": T("fp16", 3), "beta": T("fp16", 3)},
        T("fp16", 2, 3, 4),
    ),
    C("l2_norm", {"x": T("fp32", 1, 3, 4, 4)}, T("fp32", 1, 3, 4, 4)),
    C("local_response_norm", {"x": T("fp32", 1, 8, 4, 4), "size": i32(5)}, T("fp32", 1, 8, 4, 4)),
    # ---- reduction ----
    *[
        C(
            op,
            {"x": T("fp16", 1, 64, 1, 32), "axes": i32v(1), "keep_dims": b(True)},
            T("fp16", 1, 1, 1, 32),
        )
        for op in _REDUCE
    ],
    C("reduce_sum", {"x": T("fp32", 2, None, 4)}, T("fp32"), note="all"),
    C(
        "reduce_max",
        {"x": T("fp16", 1025), "axes": i32v(-1), "keep_dims": b(True)},
        T("fp16", 1),
        opset="ios16",
        note="corpus",
    ),
    C(
        "reduce_argmax",
        {"x": T("fp16", 1025), "axis": i32(-1), "keep_dims": b(True)},
        T("int32", 1),
        opset="ios16",
        note="corpus",
    ),
    C(
        "reduce_argmin",
        {"x": T("fp32", 3, 5), "axis": i32(0), "output_dtype": "uint16"},
        T("uint16", 5),
    ),
    # ---- tensor shape ----
    C(
        "reshape",
        {"x": T("fp16", 2, 3, 4), "shape": i32v(0, -1, 2)},
        T("fp16", 2, 6, 2),
        opset="ios16",
        note="zero-neg1",
    ),
    C(
        "reshape",
        {"x": T("fp16", 2, 50), "shape": i32v(1, 0, -1, 0)},
        T("fp16", 1, 1, 2, 50),
        note="ios17-zero",
    ),
    C(
        "reshape",
        {"x": T("fp16", None, 384), "shape": T("int32", 4)},
        T("fp16", None, None, None, None),
        note="runtime",
    ),
    C(
        "transpose",
        {"x": T("fp16", 1, None, None), "perm": i32v(0, 2, 1)},
        T("fp16", 1, None, None),
    ),
    C("expand_dims", {"x": T("fp16", 1, 640), "axes": i32v(1, 2)}, T("fp16", 1, 1, 1, 640)),
    C(
        "expand_dims",
        {"x": T("bool", None), "axes": i32v(0, 1)},
        T("bool", 1, 1, None),
        note="bool",
    ),
    C("squeeze", {"x": T("fp16", 1, 1, 128), "axes": i32v(0)}, T("fp16", 1, 128)),
    C("squeeze", {"x": T("fp16", 1, 3, 1, None)}, T("fp16", 3, None), note="all"),
    C(
        "concat",
        {"values": (T("fp32", 1, 5), T("fp32", 1, None)), "axis": i32(1), "interleave": b(False)},
        T("fp32", 1, None),
    ),
    C(
        "concat",
        {"values": (T("int32", 1), T("int32", 2)), "axis": i32(0)},
        T("int32", 3),
        note="shape-vec",
    ),
    C(
        "concat",
        {"values": (T("int32"), T("int32")), "axis": i32(0)},
        T("int32", 2),
        note="scalars",
    ),
    C(
        "concat",
        {"values": (T("fp16", 2, 3), T("fp16", 2, 3)), "axis": i32(0), "interleave": b(True)},
        T("fp16", 4, 3),
        note="interleave",
    ),
    C(
        "stack",
        {"values": (T("fp32", 1, 257, None), T("fp32", 1, 257, None)), "axis": i32(-1)},
        T("fp32", 1, 257, None, 2),
    ),
    C(
        "split",
        {"x": T("fp16", 1, 768, 1, 8), "num_splits": i32(3), "axis": i32(1)},
        T("fp16", 1, 256, 1, 8),
        T("fp16", 1, 256, 1, 8),
        T("fp16", 1, 256, 1, 8),
    ),
    C(
        "split",
        {"x": T("fp16", 5, 2), "split_sizes": i32v(2, 3), "axis": i32(0)},
        T("fp16", 2, 2),
        T("fp16", 3, 2),
        note="sizes",
    ),
    C("tile", {"x": T("fp16", 2, None), "reps": i32v(3, 1)}, T("fp16", 6, None)),
    C(
        "pad",
        {
            "x": T("fp16", 1, 576),
            "pad": i32v(0, 0, 32, 32),
            "mode": "reflect",
            "constant_val": f16(0),
        },
        T("fp16", 1, 640),
        opset="ios15",
    ),
    C(
        "pad",
        {"x": T("fp32", 1, 1, None), "pad": i32v(256, 256)},
        T("fp32", 1, 1, None),
        note="unknown",
    ),
    C("shape", {"x": T("int32", None, None)}, T("int32", 2)),
    C("identity", {"x": T("fp32", 1, 257, None)}, T("fp32", 1, 257, None)),
    C("range_1d", {"start": i32(0), "end": i32(10), "step": i32(3)}, T("int32", 4)),
    C(
        "range_1d",
        {"start": i32(0), "end": T("int32"), "step": i32(1)},
        T("int32", None),
        note="runtime",
    ),
    C("fill", {"shape": i32v(2, 3), "value": f16(1.0)}, T("fp16", 2, 3)),
    C("fill_like", {"ref_tensor": T("fp16", 4, None)}, T("fp32", 4, None)),
    C(
        "band_part",
        {"x": T("fp16", 1, 8, 8), "lower": i32(-1), "upper": i32(0)},
        T("fp16", 1, 8, 8),
    ),
    C("cumsum", {"x": T("int32", 3, 4), "axis": i32(1)}, T("int32", 3, 4)),
    # ---- tensor index ----
    C(
        "slice_by_index",
        {
            "x": T("fp16", 1, 258, 4),
            "begin": i32v(0, 0, 0),
            "end": i32v(1, 129, 4),
            "end_mask": b([True, False, True]),
        },
        T("fp16", 1, 129, 4),
        opset="ios15",
    ),
    C(
        "slice_by_index",
        {
            "x": T("fp16", None, None, 384),
            "begin": i32v(0, 0, 0),
            "end": i32v(0, 1, 0),
            "end_mask": b([True, False, True]),
            "squeeze_mask": b([False, True, False]),
        },
        T("fp16", None, 384),
        opset="ios18",
        note="squeeze",
    ),
    C(
        "slice_by_index",
        {"x": T("fp32", 10), "begin": i32v(8), "end": i32v(1), "stride": i32v(-3)},
        T("fp32", 3),
        note="neg-stride",
    ),
    C(
        "slice_update",
        {
            "x": T("fp16", 1, 8, 16),
            "update": T("fp16", 1, 2, 16),
            "begin": i32v(0, 2, 0),
            "end": i32v(1, 4, 16),
        },
        T("fp16", 1, 8, 16),
        opset="ios18",
    ),
    C(
        "slice_by_size",
        {"x": T("fp16", 1, 64, 1, 96), "begin": i32v(0, 0, 0, 32), "size": i32v(1, 64, 1, -1)},
        T("fp16", 1, 64, 1, 64),
    ),
    C(
        "gather",
        {
            "x": T("fp16", 1027, 640),
            "indices": T("int16", 1, 1),
            "axis": i32(0),
            "batch_dims": i32(0),
            "validate_indices": b(False),
        },
        T("fp16", 1, 1, 640),
    ),
    C(
        "gather",
        {"x": T("int16", 2), "indices": np.asarray(1, dtype=np.uint16), "axis": i32(0)},
        T("int16"),
        opset="ios18",
        note="scalar",
    ),
    C(
        "gather",
        {
            "x": T("fp32", 2, 5, 7),
            "indices": T("int32", 2, 3),
            "axis": i32(1),
            "batch_dims": i32(1),
        },
        T("fp32", 2, 3, 7),
        opset="ios16",
        note="batch",
    ),
    C(
        "gather_along_axis",
        {"x": T("fp16", 1, 1, 1, 1027), "indices": T("int16", 1, 1, 1, 1), "axis": i32(-1)},
        T("fp16", 1, 1, 1, 1),
    ),
    C("gather_nd", {"x": T("fp32", 4, 5, 6), "indices": T("int32", 3, 2)}, T("fp32", 3, 6)),
    C(
        "scatter",
        {"data": T("fp32", 5, 4), "indices": T("int32", 2), "updates": T("fp32", 2, 4)},
        T("fp32", 5, 4),
    ),
    C(
        "scatter_along_axis",
        {"data": T("fp32", 5, 4), "indices": T("int32", 2, 4), "updates": T("fp32", 2, 4)},
        T("fp32", 5, 4),
    ),
    C(
        "scatter_nd",
        {"data": T("fp32", 5, 4, 3), "indices": T("int32", 2, 2), "updates": T("fp32", 2, 3)},
        T("fp32", 5, 4, 3),
    ),
    C(
        "select",
        {"cond": T("bool", 1, 1, None), "a": T("fp32", 1, 128, None), "b": T("fp32", 1, 128, None)},
        T("fp32", 1, 128, None),
    ),
    C(
        "topk",
        {
            "x": T("fp16", 1, 1, 1, 1027),
            "k": i32(64),
            "axis": i32(-1),
            "ascending": b(False),
            "sort": b(True),
            "return_indices": b(True),
            "output_indices_dtype": "uint16",
        },
        T("fp16", 1, 1, 1, 64),
        T("uint16", 1, 1, 1, 64),
    ),
    C(
        "topk",
        {"x": T("fp32", 4, 6), "k": i32(2), "axis": i32(0)},
        T("fp32", 2, 6),
        T("int32", 2, 6),
        opset="ios15",
        note="ios15",
    ),
    C("argsort", {"x": T("fp32", 3, 4)}, T("int32", 3, 4)),
    # ---- tensor layout ----
    C(
        "pixel_shuffle",
        {"x": T("fp16", 1, 12, 4, 5), "upscale_factor": i32(2)},
        T("fp16", 1, 3, 8, 10),
    ),
    C(
        "pixel_unshuffle",
        {"x": T("fp16", 1, 3, 8, 10), "downscale_factor": np.asarray(2, dtype=np.uint32)},
        T("fp16", 1, 12, 4, 5),
    ),
    C("depth_to_space", {"x": T("fp32", 1, 8, 2, 2), "block_size": i32(2)}, T("fp32", 1, 2, 4, 4)),
    C("space_to_depth", {"x": T("fp32", 1, 2, 4, 4), "block_size": i32(2)}, T("fp32", 1, 8, 2, 2)),
    C("flatten2d", {"x": T("fp32", 2, 3, 4), "axis": i32(-1)}, T("fp32", 6, 4)),
    C("reverse", {"x": T("int32", 3, 4), "axes": i32v(0)}, T("int32", 3, 4)),
    C(
        "sliding_windows",
        {"x": T("fp32", 2, 10, 3), "axis": i32(1), "size": i32(4), "stride": i32(2)},
        T("fp32", 2, 4, 4, 3),
    ),
    C("one_hot", {"indices": T("int32", 5), "one_hot_vector_size": i32(7)}, T("int32", 5, 7)),
    C("non_zero", {"x": np.asarray([[1, 0], [2, 3]], dtype=np.int32)}, T("int32", 3, 2)),
    # ---- image ----
    C(
        "upsample_nearest_neighbor",
        {
            "x": T("fp16", 1, 3, 4, 5),
            "scale_factor_height": f32(2.0),
            "scale_factor_width": f32(1.5),
        },
        T("fp16", 1, 3, 8, 7),
    ),
    C(
        "upsample_bilinear",
        {
            "x": T("fp32", 1, 3, 4, 5),
            "scale_factor_height": f32(2.0),
            "scale_factor_width": f32(2.0),
        },
        T("fp32", 1, 3, 8, 10),
    ),
    C(
        "resize_nearest_neighbor",
        {"x": T("fp32", 1, 3, 4, 5), "target_size_height": i32(7), "target_size_width": i32(9)},
        T("fp32", 1, 3, 7, 9),
    ),
    C(
        "resize_bilinear",
        {"x": T("fp32", 2, 4, 5), "target_size_height": i32(8), "target_size_width": i32(10)},
        T("fp32", 2, 8, 10),
    ),
    C(
        "crop",
        {"x": T("fp16", 1, 3, 10, 12), "crop_height": i32v(1, 2), "crop_width": i32v(0, 3)},
        T("fp16", 1, 3, 7, 9),
    ),
    C(
        "resize",
        {
            "x": T("fp32", 1, 3, 4, 5),
            "shape": i32v(8, 10),
            "resized_dims": np.asarray(2, np.uint32),
            "interpolation_mode": "NEAREST_NEIGHBOR",
        },
        T("fp32", 1, 3, 8, 10),
    ),
    # ---- attention ----
    C(
        "scaled_dot_product_attention",
        {
            "query": T("fp16", 1, 12, 64, 32),
            "key": T("fp16", 1, 12, 128, 32),
            "value": T("fp16", 1, 12, 128, 48),
            "attn_mask": T("bool", 1, 1, 64, 128),
        },
        T("fp16", 1, 12, 64, 48),
        opset="ios18",
    ),
    # ---- recurrent ----
    C(
        "lstm",
        {
            "x": T("fp32", 1, 1, 128),
            "initial_h": T("fp32", 1, 128),
            "initial_c": T("fp32", 1, 128),
            "weight_ih": T("fp32", 512, 128),
            "weight_hh": T("fp32", 512, 128),
            "bias": T("fp32", 512),
            "direction": "forward",
            "output_sequence": b(True),
            "recurrent_activation": "sigmoid",
            "cell_activation": "tanh",
            "activation": "tanh",
        },
        T("fp32", 1, 1, 128),
        T("fp32", 1, 128),
        T("fp32", 1, 128),
        opset="ios15",
        note="silero",
    ),
    C(
        "lstm",
        {
            "x": T("fp16", 7, 2, 16),
            "initial_h": T("fp16", 2, 16),
            "initial_c": T("fp16", 2, 16),
            "weight_ih": T("fp16", 32, 16),
            "weight_hh": T("fp16", 32, 8),
            "weight_ih_back": T("fp16", 32, 16),
            "weight_hh_back": T("fp16", 32, 8),
            "direction": "bidirectional",
        },
        T("fp16", 1, 2, 16),
        T("fp16", 2, 16),
        T("fp16", 2, 16),
        note="bidirectional",
    ),
    C(
        "gru",
        {
            "x": T("fp32", 5, 2, 10),
            "initial_h": T("fp32", 2, 6),
            "weight_ih": T("fp32", 18, 10),
            "weight_hh": T("fp32", 18, 6),
            "output_sequence": b(True),
        },
        T("fp32", 5, 2, 6),
        T("fp32", 2, 6),
    ),
    C(
        "rnn",
        {
            "x": T("fp32", 5, 2, 10),
            "initial_h": T("fp32", 2, 6),
            "weight_ih": T("fp32", 6, 10),
            "weight_hh": T("fp32", 6, 6),
        },
        T("fp32", 1, 2, 6),
        T("fp32", 2, 6),
    ),
    # ---- quantization / constexpr ----
    C(
        "constexpr_affine_dequantize",
        {},
        T("fp16", 258, 1, 256),
        opset="ios16",
        attrs={
            "quantized_data": np.zeros((258, 1, 256), np.int8),
            "zero_point": np.zeros(258, np.int8),
            "scale": np.ones(258, np.float16),
            "axis": i32(0),
        },
    ),
    C(
        "constexpr_cast",
        {},
        T("fp32", 4, 4),
        opset="ios16",
        attrs={"source_val": np.zeros((4, 4), np.float16), "output_dtype": "fp32"},
    ),
    C(
        "constexpr_lut_to_dense",
        {},
        T("fp16", 258, 1, 256),
        opset="ios16",
        attrs={
            "indices": np.zeros(16512, np.uint8),
            "lut": np.zeros(4, np.float16),
            "shape": np.asarray([258, 1, 256], np.uint32),
        },
        note="2bit",
    ),
    C(
        "constexpr_lut_to_dense",
        {"indices": T("uint4", 8, 6), "lut": T("fp16", 2, 1, 16, 3), "vector_axis": i32(1)},
        T("fp16", 8, 18),
        opset="ios18",
        note="vector",
    ),
    C(
        "constexpr_sparse_to_dense",
        {},
        T("fp16", 128, 64, 3),
        opset="ios16",
        attrs={
            "mask": np.full(3072, 0x0F, np.uint8),
            "nonzero_data": np.zeros(3072 * 4, np.float16),
            "shape": np.asarray([128, 64, 3], np.uint32),
        },
    ),
    C(
        "constexpr_sparse_to_dense",
        {"nonzero_data": T("int8", 5), "mask": T("uint1", 4, 4)},
        T("int8", 4, 4),
        opset="ios18",
        note="ios18",
    ),
    C(
        "constexpr_blockwise_shift_scale",
        {"data": T("int8", 1536, 384), "scale": T("fp16", 1536, 1)},
        T("fp16", 1536, 384),
        opset="ios18",
    ),
    C(
        "constexpr_lut_to_sparse",
        {
            "indices_mask": T("uint1", 4, 6),
            "indices_nonzero_data": T("uint1", 9),
            "lut": T("fp16", 1, 1, 2, 2),
            "vector_axis": i32(0),
        },
        T("uint1", 8, 6),
        T("fp16", 18),
        opset="ios18",
    ),
    C(
        "constexpr_sparse_blockwise_shift_scale",
        {
            "data_mask": T("uint1", 4, 4),
            "nonzero_data": T("int8", 9),
            "scale": T("fp16", 1, 4),
            "offset": T("int8", 1, 4),
        },
        T("uint1", 4, 4),
        T("fp16", 9),
        opset="ios18",
    ),
    C(
        "quantize",
        {"input": T("fp16", 1, None, 384), "scale": f16(0.05), "output_dtype": "int8"},
        T("int8", 1, None, 384),
        opset="ios18",
    ),
    C(
        "quantize",
        {
            "input": T("fp32", 2, 3),
            "scale": f32([0.1, 0.2, 0.3]),
            "zero_point": np.zeros(3, np.uint8),
            "axis": i32(1),
            "output_dtype": "uint8",
        },
        T("uint8", 2, 3),
        note="per-axis",
    ),
    C(
        "dequantize",
        {"input": T("int8", None, 1, 1, None), "scale": f16(0.1)},
        T("fp16", None, 1, 1, None),
    ),
    # ---- const / state ----
    C("const", {}, T("fp16", 2, 3), attrs={"val": np.zeros((2, 3), np.float16)}),
    C("const", {}, T("string"), attrs={"val": "EXACT"}, note="string"),
    C("read_state", {"input": StateType(T("fp16", 1, 4))}, T("fp16", 1, 4), opset="ios18"),
    C("write_state", {"input": StateType(T("fp16", 1, 4)), "data": T("fp16", 1, 4)}, opset="ios18"),
]
