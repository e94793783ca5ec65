"""Linear algebra: ``linear``, ``matmul`` and ``einsum``.

Reference: docs/internals/mil-format.md §10.1; coremltools ``iOS15/linear.py`` and ``iOS17/linear.py``
(iOS17: linear's weight/bias may have their own dtype; matmul's x and y may differ when exactly one is const,
the output taking the non-const operand's dtype).
"""

from __future__ import annotations

from typing import ClassVar

from ..types import TensorType, Type
from ._base import Op, boolean
from ._infer import NUMERIC, InferError, broadcast_shapes, dims_equal, fmt_shape
from ._spec import InferContext, InputSpec, register_op

__all__ = ["Einsum", "Linear", "Matmul"]


@register_op("linear", category="linear")
class Linear(Op):
    """``x · weightᵀ + bias``.

    Args:
        x: ``tensor<[*D, D_in], T>`` (rank ≥ 1; coremltools documents 1–3 but real iOS17 files use rank 4).
        weight: const ``tensor<[D_out, D_in], U>``.
        bias: const ``tensor<[D_out], U>``, optional (default 0, not materialised).

    Returns:
        ``tensor<[*D, D_out], T>``.

    Type domain: T, U ∈ {fp16, fp32, int32}; U must equal T before iOS17. ANE: weight and bias must be
    consts; use matmul for runtime weights (docs/internals/mil-format.md §11 rule 15).
    """

    inputs = (
        InputSpec("x", NUMERIC),
        InputSpec("weight", NUMERIC, const=True, rank=(2,)),
        InputSpec("bias", NUMERIC, const=True, optional=True, rank=(1,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, w = cls.tensor(ctx, "x"), cls.tensor(ctx, "weight")
        b = cls.opt_tensor(ctx, "bias")
        if x.rank < 1:
            raise InferError("x must have rank >= 1")
        if ctx.opset in ("ios15", "ios16"):
            for name, t in (("weight", w), ("bias", b)):
                if t is not None and t.dtype != x.dtype:
                    raise InferError(f"{name} dtype {t.dtype} must equal x dtype {x.dtype} before ios17")
        if b is not None and w.dtype != b.dtype:
            raise InferError(f"bias dtype {b.dtype} must equal weight dtype {w.dtype}")
        d_out, d_in = w.shape
        if not dims_equal(x.shape[-1], d_in):
            raise InferError(f"x last dim {x.shape[-1]} != weight dim 1 {d_in}")
        if b is not None and not dims_equal(b.shape[0], d_out):
            raise InferError(f"bias length {b.shape[0]} != weight dim 0 {d_out}")
        return [TensorType(x.dtype, (*x.shape[:-1], d_out))]


@register_op("matmul", category="linear")
class Matmul(Op):
    """``matmul(swap(x) if transpose_x, swap(y) if transpose_y)`` with numpy batch broadcasting.

    Args:
        x: ``tensor<[*B, M, K], T>`` (rank ≥ 1; 1-D follows numpy and ignores the transpose flag).
        y: ``tensor<[*B, K, N], U>`` (rank ≥ 1).
        transpose_x, transpose_y: const bool, optional, default false.

    Returns:
        ``tensor<[*broadcast(B), M, N], dtype>``: the common dtype, or from iOS17 the non-const operand's
        dtype when exactly one operand is const.

    ANE: both operands may be runtime tensors; inner dimension a multiple of 32 (docs/internals/mil-format.md §11 rule
    14).
    """

    inputs = (
        InputSpec("x", NUMERIC),
        InputSpec("y", NUMERIC),
        InputSpec("transpose_x", ("bool",), const=True, optional=True, default=boolean(False), rank=(0,)),
        InputSpec("transpose_y", ("bool",), const=True, optional=True, default=boolean(False), rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x, y = cls.tensor(ctx, "x"), cls.tensor(ctx, "y")
        dtype = cls._out_dtype(ctx, x, y)
        if x.rank < 1 or y.rank < 1:
            raise InferError("x and y must have rank >= 1")
        xs, ys = list(x.shape), list(y.shape)
        if cls.bool_value(ctx, "transpose_x") and x.rank >= 2:
            xs[-1], xs[-2] = xs[-2], xs[-1]
        if cls.bool_value(ctx, "transpose_y") and y.rank >= 2:
            ys[-1], ys[-2] = ys[-2], ys[-1]
        x1, y1 = len(xs) == 1, len(ys) == 1
        if x1:
            xs = [1, *xs]
        if y1:
            ys = [*ys, 1]
        if not dims_equal(xs[-1], ys[-2]):
            raise InferError(f"x last dim {xs[-1]} != y dim -2 {ys[-2]} (after transposes)")
        try:
            batch = broadcast_shapes(xs[:-2], ys[:-2])
        except InferError:
            raise InferError(f"batch dims {fmt_shape(xs[:-2])} and {fmt_shape(ys[:-2])} do not broadcast") from None
        out = [*batch, xs[-2], ys[-1]]
        if y1:
            out.pop(-1)
        if x1:
            out.pop(-2 if not y1 else -1)
        return [TensorType(dtype, tuple(out))]

    @classmethod
    def _out_dtype(cls, ctx: InferContext, x: TensorType, y: TensorType) -> str:
        if x.dtype == y.dtype:
            return x.dtype.name
        x_const, y_const = ctx.value("x") is not None, ctx.value("y") is not None
        if ctx.opset in ("ios15", "ios16") or x_const == y_const:
            raise InferError(
                f"x dtype {x.dtype} != y dtype {y.dtype} (allowed only from ios17 when exactly one is const)"
            )
        return (y if x_const else x).dtype.name


@register_op("einsum", category="linear")
class Einsum(Op):
    """Einstein summation over two tensors (the limited patterns coremltools supports).

    Args:
        values: tuple of two tensors ``tensor<[*], T>`` (T ∈ {fp16, fp32}).
        equation: const string, e.g. ``"nchw,nwhu->nchu"``; explicit output (``->``) required, no ``...``.

    Returns:
        ``tensor<[*], T>`` with the output subscripts' sizes.
    """

    inputs = (
        InputSpec("values", ("fp16", "fp32"), is_tuple=True),
        InputSpec("equation", ("string",), const=True, rank=(0,)),
    )
    max_operands: ClassVar[int] = 2

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        values = cls.tuple_types(ctx, "values")
        eq = cls.str_value(ctx, "equation")
        if eq is None:
            raise InferError("equation must be a const string")
        eq = eq.replace(" ", "")
        if "->" not in eq or "." in eq:
            raise InferError(f"equation {eq!r} must have an explicit '->' output and no ellipsis")
        lhs, out_subs = eq.split("->")
        terms = lhs.split(",")
        if len(terms) != len(values) or not 1 <= len(values) <= cls.max_operands:
            raise InferError(f"equation {eq!r} names {len(terms)} operands but {len(values)} were given")
        if any(v.dtype != values[0].dtype for v in values):
            raise InferError("all values must have the same dtype")
        sizes: dict[str, int | None] = {}
        for term, v in zip(terms, values, strict=True):
            if len(term) != v.rank:
                raise InferError(f"subscripts {term!r} do not match rank {v.rank} of {v}")
            for ch, d in zip(term, v.shape, strict=True):
                if not ch.isalpha():
                    raise InferError(f"invalid subscript {ch!r} in {eq!r}")
                prev = sizes.get(ch)
                if prev is not None and d is not None and prev != d and 1 not in (prev, d):
                    raise InferError(f"subscript {ch!r} has sizes {prev} and {d}")
                if prev is None or prev == 1:
                    sizes[ch] = d
        for ch in out_subs:
            if ch not in sizes:
                raise InferError(f"output subscript {ch!r} does not appear in the inputs")
        return [TensorType(values[0].dtype, tuple(sizes[ch] for ch in out_subs))]
