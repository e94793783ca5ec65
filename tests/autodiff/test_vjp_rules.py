"""Every VJP rule against finite differences (fp64, reference executor) and PyTorch autograd.

Programs are typed fp32 so the backward's constants (``0.5``, ``1/sqrt(2*pi)`` ...) are exact to ~1e-7 and the
comparison checks the rule's math at fp64; fp16 behaviour is checked on whole blocks (test_vjp_blocks.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from _vjp_check import check_finite_differences, check_torch

from anekit import autodiff, mil

torch = pytest.importorskip("torch")
F = torch.nn.functional

i32 = np.int32


@dataclass
class Case:
    name: str
    inputs: dict[str, tuple[tuple[int, ...], str]]  # name -> (shape, kind: "any", "pos", "unit" or "idx:<n>")
    build: Callable[..., Any]
    torch_fn: Callable[..., Any]
    wrt: list[str]
    outputs: list[str] | None = None
    rtol_fd: float = 1e-6
    extra: dict[str, Any] = field(default_factory=dict)

    def program(self) -> mil.Program:
        types = {}
        for k, (shape, kind) in self.inputs.items():
            types[k] = mil.tensor(shape, "int32" if kind.startswith("idx") else "fp32")
        return mil.program(inputs=types)(self.build)

    def feeds(self, seed: int = 0) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        out = {}
        for k, (shape, kind) in self.inputs.items():
            if kind == "pos":
                out[k] = rng.uniform(0.5, 2.0, shape)
            elif kind == "unit":
                out[k] = rng.uniform(-0.9, 0.9, shape)
            elif kind.startswith("idx"):
                out[k] = rng.integers(0, int(kind[4:]), shape).astype(np.int32)
            else:
                out[k] = rng.standard_normal(shape)
        return out


A = ((2, 3, 4), "any")
P = ((2, 3, 4), "pos")
_GAMMA = np.linspace(0.5, 1.5, 8, dtype=np.float32)


_W = {
    "linear": np.linspace(-1, 1, 20, dtype=np.float32).reshape(5, 4),
    "grouped": np.linspace(-1, 1, 48, dtype=np.float32).reshape(12, 4, 1, 1),
    "3x3": np.linspace(-1, 1, 180, dtype=np.float32).reshape(5, 4, 3, 3),
    "2x3": np.linspace(-1, 1, 48, dtype=np.float32).reshape(4, 2, 2, 3),
    "1d": np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 2, 2),
}


def _t(a: np.ndarray) -> Any:
    return torch.tensor(a.astype(np.float64))


def _matmul_case(tx: bool, ty: bool) -> Case:
    def build(mb: mil.Builder, x: mil.Var, y: mil.Var) -> mil.Var:
        return mb.matmul(x=x, y=y, transpose_x=tx, transpose_y=ty)

    def reference(x: Any, y: Any) -> Any:
        return torch.matmul(x.transpose(-1, -2) if tx else x, y.transpose(-1, -2) if ty else y)

    shapes = {"x": ((2, 3, 5, 4) if tx else (2, 3, 4, 5), "any"), "y": ((1, 6, 5) if ty else (1, 5, 6), "any")}
    return Case(f"matmul_tx{int(tx)}_ty{int(ty)}", shapes, build, reference, ["x", "y"])


def _unary(op: str, torch_fn: Callable[..., Any], kind: str = "any", **kw: Any) -> Case:
    return Case(op, {"x": ((2, 3, 4), kind)}, lambda mb, x: getattr(mb, op)(x=x, **kw), torch_fn, ["x"])


CASES = [
    # elementwise with broadcasting
    Case("add", {"x": A, "y": ((3, 1), "any")}, lambda mb, x, y: mb.add(x=x, y=y), lambda x, y: x + y, ["x", "y"]),
    Case("add_scalar_y", {"x": A, "y": ((), "any")}, lambda mb, x, y: mb.add(x=x, y=y), lambda x, y: x + y, ["x", "y"]),
    Case("sub", {"x": ((4,), "any"), "y": A}, lambda mb, x, y: mb.sub(x=x, y=y), lambda x, y: x - y, ["x", "y"]),
    Case("mul", {"x": A, "y": ((2, 1, 4), "any")}, lambda mb, x, y: mb.mul(x=x, y=y), lambda x, y: x * y, ["x", "y"]),
    Case("mul_const", {"x": A}, lambda mb, x: mb.mul(x=x, y=np.float32(0.5)), lambda x: x * 0.5, ["x"]),
    Case(
        "real_div",
        {"x": A, "y": ((3, 4), "pos")},
        lambda mb, x, y: mb.real_div(x=x, y=y),
        lambda x, y: x / y,
        ["x", "y"],
    ),
    Case("pow_3", {"x": A}, lambda mb, x: mb.pow(x=x, y=np.float32(3.0)), lambda x: x**3, ["x"]),
    Case("pow_2", {"x": A}, lambda mb, x: mb.pow(x=x, y=np.float32(2.0)), lambda x: x**2, ["x"]),
    Case("pow_-0.5", {"x": P}, lambda mb, x: mb.pow(x=x, y=np.float32(-0.5)), lambda x: x**-0.5, ["x"]),
    Case("pow_-1", {"x": P}, lambda mb, x: mb.pow(x=x, y=np.float32(-1.0)), lambda x: x**-1.0, ["x"]),
    Case("pow_var", {"x": P, "y": ((3, 4), "any")}, lambda mb, x, y: mb.pow(x=x, y=y), lambda x, y: x**y, ["x", "y"]),
    Case(
        "maximum",
        {"x": A, "y": ((3, 4), "any")},
        lambda mb, x, y: mb.maximum(x=x, y=y),
        lambda x, y: torch.maximum(x, y),
        ["x", "y"],
    ),
    Case(
        "minimum",
        {"x": A, "y": ((2, 3, 4), "any")},
        lambda mb, x, y: mb.minimum(x=x, y=y),
        lambda x, y: torch.minimum(x, y),
        ["x", "y"],
    ),
    # unary
    _unary("exp", torch.exp),
    _unary("log", torch.log, "pos"),
    _unary("sqrt", torch.sqrt, "pos"),
    _unary("rsqrt", torch.rsqrt, "pos", epsilon=np.float32(0.0)),
    _unary("inverse", lambda x: 1.0 / (x + 1e-4), "pos", epsilon=np.float32(1e-4)),
    _unary("tanh", torch.tanh),
    _unary("abs", torch.abs),
    _unary("square", torch.square),
    _unary("sin", torch.sin),
    _unary("cos", torch.cos),
    _unary("erf", torch.erf),
    _unary("clip", lambda x: torch.clamp(x, -0.5, 0.5), alpha=np.float32(-0.5), beta=np.float32(0.5)),
    Case(
        "cast",
        {"x": A},
        lambda mb, x: mb.cast(x=mb.tanh(x=mb.cast(x=x, dtype="fp16")), dtype="fp32"),
        torch.tanh,
        ["x"],
        rtol_fd=1e-5,
    ),
    # activations
    _unary("relu", torch.relu),
    _unary("sigmoid", torch.sigmoid),
    _unary("silu", lambda x: F.silu(x)),
    _unary("gelu", lambda x: F.gelu(x), mode="EXACT"),
    _unary("gelu", lambda x: F.gelu(x, approximate="tanh"), mode="TANH_APPROXIMATION"),
    _unary("gelu", lambda x: x * torch.sigmoid(1.702 * x), mode="SIGMOID_APPROXIMATION"),
    Case("softmax_last", {"x": A}, lambda mb, x: mb.softmax(x=x, axis=i32(-1)), lambda x: torch.softmax(x, -1), ["x"]),
    Case("softmax_1", {"x": A}, lambda mb, x: mb.softmax(x=x, axis=i32(1)), lambda x: torch.softmax(x, 1), ["x"]),
    # reductions
    Case(
        "reduce_sum",
        {"x": A},
        lambda mb, x: mb.reduce_sum(x=x, axes=np.array([1], i32), keep_dims=False),
        lambda x: x.sum(1),
        ["x"],
    ),
    Case(
        "reduce_sum_keep",
        {"x": A},
        lambda mb, x: mb.reduce_sum(x=x, axes=np.array([0, -1], i32), keep_dims=True),
        lambda x: x.sum((0, 2), keepdim=True),
        ["x"],
    ),
    Case("reduce_sum_all", {"x": A}, lambda mb, x: mb.reduce_sum(x=x), lambda x: x.sum(), ["x"]),
    Case(
        "reduce_mean",
        {"x": A},
        lambda mb, x: mb.reduce_mean(x=x, axes=np.array([2], i32), keep_dims=True),
        lambda x: x.mean(2, keepdim=True),
        ["x"],
    ),
    Case(
        "reduce_max",
        {"x": A},
        lambda mb, x: mb.reduce_max(x=x, axes=np.array([1], i32)),
        lambda x: x.amax(1),
        ["x"],
    ),
    Case(
        "reduce_min",
        {"x": A},
        lambda mb, x: mb.reduce_min(x=x, axes=np.array([2], i32), keep_dims=True),
        lambda x: x.amin(2, keepdim=True),
        ["x"],
    ),
    Case(
        "reduce_sum_square",
        {"x": A},
        lambda mb, x: mb.reduce_sum_square(x=x, axes=np.array([1], i32)),
        lambda x: (x * x).sum(1),
        ["x"],
    ),
    Case(
        "reduce_l2_norm",
        {"x": A},
        lambda mb, x: mb.reduce_l2_norm(x=x, axes=np.array([2], i32)),
        lambda x: torch.linalg.vector_norm(x, dim=2),
        ["x"],
    ),
    Case(
        "reduce_log_sum_exp",
        {"x": A},
        lambda mb, x: mb.reduce_log_sum_exp(x=x, axes=np.array([2], i32)),
        lambda x: torch.logsumexp(x, 2),
        ["x"],
    ),
    # matmul, every transpose combination, with batch broadcasting
    *[_matmul_case(tx, ty) for tx in (False, True) for ty in (False, True)],
    Case(
        "linear",
        {"x": ((3, 4), "any")},
        lambda mb, x: mb.linear(x=x, weight=_W["linear"], bias=np.ones(5, np.float32)),
        lambda x: x @ _t(_W["linear"]).T + 1.0,
        ["x"],
    ),
    # conv
    Case(
        "conv_1x1_runtime_weight",
        {"x": ((2, 8, 1, 32), "any"), "w": ((6, 8, 1, 1), "any")},
        lambda mb, x, w: mb.conv(x=x, weight=w, pad_type="valid"),
        lambda x, w: F.conv2d(x, w),
        ["x", "w"],
    ),
    Case(
        "conv_1x1_runtime_weight_and_bias",
        {"x": ((1, 8, 1, 32), "any"), "w": ((6, 8, 1, 1), "any"), "b": ((6,), "any")},
        lambda mb, x, w, b: mb.conv(x=x, weight=w, bias=b, pad_type="valid"),
        lambda x, w, b: F.conv2d(x, w, b),
        ["x", "w", "b"],
    ),
    Case(
        "conv_1x1_grouped_weight",
        {"x": ((1, 8, 1, 32), "any"), "w": ((6, 4, 1, 1), "any")},
        lambda mb, x, w: mb.conv(x=x, weight=w, pad_type="valid", groups=i32(2)),
        lambda x, w: F.conv2d(x, w, groups=2),
        ["w"],
    ),
    Case(
        "conv_1x1_grouped_const",
        {"x": ((1, 8, 1, 32), "any")},
        lambda mb, x: mb.conv(
            x=x, weight=_W["grouped"], pad_type="valid", groups=i32(2)
        ),
        lambda x: F.conv2d(x, _t(_W["grouped"]), groups=2),
        ["x"],
    ),
    Case(
        "conv_3x3_same_const",
        {"x": ((1, 4, 6, 7), "any")},
        lambda mb, x: mb.conv(x=x, weight=_W["3x3"], pad_type="same"),
        lambda x: F.conv2d(x, _t(_W["3x3"]), padding=1),
        ["x"],
    ),
    Case(
        "conv_2x3_custom_dilated_grouped_const",
        {"x": ((1, 4, 7, 9), "any")},
        lambda mb, x: mb.conv(
            x=x,
            weight=_W["2x3"],
            pad_type="custom",
            pad=np.array([1, 0, 2, 1], i32),
            dilations=np.array([2, 1], i32),
            groups=i32(2),
        ),
        lambda x: F.conv2d(
            F.pad(x, (2, 1, 1, 0)),
            _t(_W["2x3"]),
            dilation=(2, 1),
            groups=2,
        ),
        ["x"],
    ),
    Case(
        "conv_3x3_stride2_runtime_weight",
        {"x": ((2, 3, 9, 8), "any"), "w": ((4, 3, 3, 3), "any")},
        lambda mb, x, w: mb.conv(
            x=x, weight=w, pad_type="custom", pad=np.array([1, 0, 1, 1], i32), strides=np.array([2, 2], i32)
        ),
        lambda x, w: F.conv2d(F.pad(x, (1, 1, 1, 0)), w, stride=2),
        ["x", "w"],
    ),
    Case(
        "conv_2x3_dilated_strided_weight",
        {"x": ((1, 2, 9, 11), "any"), "w": ((3, 2, 2, 3), "any")},
        lambda mb, x, w: mb.conv(
            x=x, weight=w, pad_type="same", strides=np.array([1, 2], i32), dilations=np.array([2, 1], i32)
        ),
        lambda x, w: F.conv2d(F.pad(x, (1, 1, 1, 1)), w, stride=(1, 2), dilation=(2, 1)),
        ["x", "w"],
    ),
    Case(
        "conv1d_strided_grouped_const",
        {"x": ((1, 4, 15), "any")},
        lambda mb, x: mb.conv(x=x, weight=_W["1d"], strides=np.array([3], i32), groups=i32(2)),
        lambda x: F.conv1d(x, _t(_W["1d"]), stride=3, groups=2),
        ["x"],
    ),
    # layer_norm
    Case(
        "layer_norm",
        {"x": ((1, 8, 1, 5), "any")},
        lambda mb, x: mb.layer_norm(
            x=x, axes=np.array([1], i32), gamma=_GAMMA, beta=-_GAMMA, epsilon=np.float32(1e-5)
        ),
        lambda x: F.layer_norm(
            x.permute(0, 2, 3, 1), (8,), torch.tensor(_GAMMA).double(), -torch.tensor(_GAMMA).double(), 1e-5
        ).permute(0, 3, 1, 2),
        ["x"],
    ),
    Case(
        "layer_norm_last_two_axes",
        {"x": ((2, 3, 4), "any")},
        lambda mb, x: mb.layer_norm(x=x, axes=np.array([1, 2], i32), epsilon=np.float32(1e-5)),
        lambda x: F.layer_norm(x, (3, 4), eps=1e-5),
        ["x"],
    ),
    Case(
        "concat_const_member",
        {"x": A, "c": ((2, 1, 4), "any")},
        lambda mb, x, c: mb.concat(values=(c, x, np.ones((2, 2, 4), np.float32)), axis=i32(1), interleave=False),
        lambda x, c: torch.cat([c, x, torch.ones(2, 2, 4, dtype=torch.float64)], 1),
        ["x"],
    ),
    # shape ops
    Case(
        "reshape",
        {"x": A},
        lambda mb, x: mb.reshape(x=x, shape=np.array([4, 6], i32)),
        lambda x: x.reshape(4, 6),
        ["x"],
    ),
    Case(
        "transpose",
        {"x": A},
        lambda mb, x: mb.transpose(x=x, perm=np.array([2, 0, 1], i32)),
        lambda x: x.permute(2, 0, 1),
        ["x"],
    ),
    Case(
        "expand_dims",
        {"x": A},
        lambda mb, x: mb.expand_dims(x=x, axes=np.array([1], i32)),
        lambda x: x.unsqueeze(1),
        ["x"],
    ),
    Case(
        "squeeze",
        {"x": ((2, 1, 4), "any")},
        lambda mb, x: mb.squeeze(x=x, axes=np.array([1], i32)),
        lambda x: x.squeeze(1),
        ["x"],
    ),
    Case(
        "concat",
        {"x": A, "y": ((2, 2, 4), "any")},
        lambda mb, x, y: mb.concat(values=(x, y, x), axis=i32(1), interleave=False),
        lambda x, y: torch.cat([x, y, x], 1),
        ["x", "y"],
    ),
    Case(
        "split_both_used",
        {"x": ((2, 5, 4), "any")},
        lambda mb, x: dict(zip(("a", "b"), mb.split(x=x, split_sizes=np.array([3, 2], i32), axis=i32(1)), strict=True)),
        lambda x: dict(zip(("a", "b"), torch.split(x, [3, 2], 1), strict=True)),
        ["x"],
    ),
    Case(
        "split_one_used",
        {"x": ((2, 4, 4), "any")},
        lambda mb, x: {"b": mb.split(x=x, num_splits=i32(2), axis=i32(-1))[1], "c": mb.identity(x=x)},
        lambda x: {"b": torch.split(x, 2, -1)[1], "c": x},
        ["x"],
        outputs=["b"],
    ),
    # indexing
    Case(
        "slice_by_size",
        {"x": ((1, 8, 1, 12), "any")},
        lambda mb, x: mb.slice_by_size(x=x, begin=np.array([0, 2, 0, 3], i32), size=np.array([1, 4, 1, -1], i32)),
        lambda x: x[:, 2:6, :, 3:],
        ["x"],
    ),
    Case(
        "slice_by_index",
        {"x": ((3, 8, 6), "any")},
        lambda mb, x: mb.slice_by_index(
            x=x,
            begin=np.array([1, 2, -4], i32),
            end=np.array([0, 7, 6], i32),
            squeeze_mask=np.array([True, False, False]),
            end_mask=np.array([False, False, True]),
        ),
        lambda x: x[1, 2:7, -4:],
        ["x"],
    ),
    Case(
        "gather_embedding",
        {"table": ((10, 6), "any"), "ids": ((2, 5), "idx:10")},
        lambda mb, table, ids: mb.gather(x=table, indices=ids, axis=i32(0)),
        lambda table, ids: table[ids.long()],
        ["table"],
    ),
    Case(
        "select",
        {"x": A, "a": A, "b": ((3, 4), "any")},
        lambda mb, x, a, b: mb.select(cond=mb.greater(x=x, y=np.float32(0.0)), a=a, b=b),
        lambda x, a, b: torch.where(x > 0, a, b),
        ["a", "b"],
    ),
    Case("identity", {"x": A}, lambda mb, x: mb.identity(x=x), lambda x: x * 1.0, ["x"]),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{i:02d}-{c.name}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("save", autodiff.SAVE_POLICIES)
def test_rule_matches_finite_differences(case: Case, save: str) -> None:
    check_finite_differences(
        case.program(), case.feeds(), case.wrt, save=save, outputs=case.outputs, rtol=case.rtol_fd
    )


@pytest.mark.parametrize("case", CASES, ids=[f"{i:02d}-{c.name}" for i, c in enumerate(CASES)])
def test_rule_matches_torch(case: Case) -> None:
    check_torch(case.program(), case.feeds(), case.wrt, case.torch_fn, outputs=case.outputs)


def test_every_rule_is_exercised() -> None:
    """The table above covers every op with a rule (a new rule needs a case here)."""
    built = set()
    for case in CASES:
        built |= {op.op_type for op in case.program().main.operations}
    missing = autodiff.supported_ops() - built
    assert not missing, f"rules without a test case: {sorted(missing)}"

