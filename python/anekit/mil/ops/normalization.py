"""Normalisation ops: ``layer_norm``, ``batch_norm``, ``instance_norm``, ``l2_norm``, ``local_response_norm``.

Reference: docs/internals/mil-format.md §10.4; coremltools ``iOS15/normalization.py`` and
``iOS17/normalization.py`` (iOS17 lets gamma/beta/epsilon and the statistics have their own float dtype).
``rms_norm`` is not a MIL op in any opset up to iOS18 (§10.4), so it is not registered.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..types import TensorType, Type
from ._base import Op
from ._infer import FLOATS, InferError, dims_equal, fmt_shape, normalize_axes
from ._spec import InferContext, InputSpec, register_op
from .unary import x_dtype_scalar

__all__ = ["BatchNorm", "InstanceNorm", "L2Norm", "LayerNorm", "LocalResponseNorm"]


def _eps(default: float) -> InputSpec:
    return InputSpec("epsilon", FLOATS, const=True, optional=True, default=x_dtype_scalar(default), rank=(0,))


def _all_axes(ctx: InferContext) -> np.ndarray | None:
    """``range(rank(x))`` as int32 (coremltools materialises layer_norm's default axes this way)."""
    t = ctx.type("x")
    return np.arange(t.rank, dtype=np.int32) if isinstance(t, TensorType) else None


class _Norm(Op):
    category = "normalization"
    #: Float parameters (every float input but x, in input order) that must share x's dtype before iOS17.
    params: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.params = tuple(s.name for s in cls.inputs if s.name != "x" and s.dtypes == FLOATS)

    @classmethod
    def _check_param_dtypes(cls, ctx: InferContext, x: TensorType) -> None:
        seen: dict[str, str] = {}
        for name in cls.params:
            t = cls.opt_tensor(ctx, name)
            if t is None:
                continue
            if ctx.opset in ("ios15", "ios16") and t.dtype != x.dtype:
                raise InferError(f"'{name}' dtype {t.dtype} must equal x dtype {x.dtype} before ios17")
            seen[name] = t.dtype.name
        if len(set(seen.values())) > 1:
            raise InferError(f"parameters must share one dtype, got {seen}")

    @classmethod
    def _check_channel_vectors(cls, ctx: InferContext, names: tuple[str, ...], c: int | None) -> None:
        for name in names:
            t = cls.opt_tensor(ctx, name)
            if t is not None and (t.rank != 1 or not dims_equal(t.shape[0], c)):
                raise InferError(
                    f"'{name}' must have shape [{'?' if c is None else c}] (x channel dim), got {fmt_shape(t.shape)}"
                )


@register_op("layer_norm", category="normalization")
class LayerNorm(_Norm):
    """``gamma · (x − mean) / sqrt(var + epsilon) + beta`` over ``axes`` (population variance).

    Args:
        x: ``tensor<[*D], T>``.
        axes: const ``int32[K]``, optional, default all axes (materialised as ``range(rank)`` like
            coremltools; its numpy oracle mishandles an absent axes, docs/internals/mil-format.md §10.4).
        gamma, beta: const ``tensor<x.shape[axes], U>``, optional (default 1 / 0, not materialised).
        epsilon: const U scalar, optional, default 1e-5.

    Returns:
        ``tensor<[*D], T>``. ANE: epsilon must have gamma/beta's dtype (docs/internals/mil-format.md §11 rule 3).
    """

    inputs = (
        InputSpec("x", FLOATS),
        InputSpec("axes", ("int32",), const=True, optional=True, default=_all_axes, rank=(1,)),
        InputSpec("gamma", FLOATS, const=True, optional=True),
        InputSpec("beta", FLOATS, const=True, optional=True),
        _eps(1e-5),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        cls._check_param_dtypes(ctx, x)
        axes = cls.ints_value(ctx, "axes")
        norm_axes = list(range(x.rank)) if axes is None else normalize_axes(axes, x.rank)
        expected = tuple(x.shape[a] for a in sorted(norm_axes))
        for name in ("gamma", "beta"):
            t = cls.opt_tensor(ctx, name)
            if t is None:
                continue
            if t.rank != len(expected) or not all(dims_equal(a, b) for a, b in zip(t.shape, expected, strict=True)):
                raise InferError(f"'{name}' shape {fmt_shape(t.shape)} must equal x.shape[axes] {fmt_shape(expected)}")
        return [x]


@register_op("batch_norm", category="normalization")
class BatchNorm(_Norm):
    """``gamma · (x − mean) / sqrt(variance + epsilon) + beta`` per channel.

    Args:
        x: ``tensor<[N, C, *D], T>``, rank 3–5.
        mean, variance: const ``tensor<[C], U>``.
        gamma, beta: const ``tensor<[C], U>``, optional.
        epsilon: const U, optional, default 1e-5.
    """

    inputs = (
        InputSpec("x", FLOATS, rank=(3, 4, 5)),
        InputSpec("mean", FLOATS, const=True, rank=(1,)),
        InputSpec("variance", FLOATS, const=True, rank=(1,)),
        InputSpec("gamma", FLOATS, const=True, optional=True, rank=(1,)),
        InputSpec("beta", FLOATS, const=True, optional=True, rank=(1,)),
        _eps(1e-5),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        cls._check_param_dtypes(ctx, x)
        cls._check_channel_vectors(ctx, ("mean", "variance", "gamma", "beta"), x.shape[1])
        return [x]


@register_op("instance_norm", category="normalization")
class InstanceNorm(_Norm):
    """Normalise each (sample, channel) over the spatial dims.

    Args:
        x: ``tensor<[N, C, *D], T>``, rank 3 or 4.
        gamma, beta: const ``tensor<[C], U>``, optional.
        epsilon: const U, optional, default 1e-5.
    """

    inputs = (
        InputSpec("x", FLOATS, rank=(3, 4)),
        InputSpec("gamma", FLOATS, const=True, optional=True, rank=(1,)),
        InputSpec("beta", FLOATS, const=True, optional=True, rank=(1,)),
        _eps(1e-5),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        cls._check_param_dtypes(ctx, x)
        cls._check_channel_vectors(ctx, ("gamma", "beta"), x.shape[1])
        return [x]


@register_op("l2_norm", category="normalization")
class L2Norm(_Norm):
    """``x / sqrt(max(sum(x²), epsilon))`` over the last three dims (all non-batch dims when rank < 4).

    Args:
        x: ``tensor<[*B, *D], T>``, rank ≥ 3.
        epsilon: const U, optional, default 1e-6.
    """

    inputs = (InputSpec("x", FLOATS), _eps(1e-6))

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        if x.rank < 3:
            raise InferError(f"x must have rank >= 3, got rank {x.rank}")
        cls._check_param_dtypes(ctx, x)
        return [x]


@register_op("local_response_norm", category="normalization")
class LocalResponseNorm(_Norm):
    """``x / (k + alpha/size · Σ x²)^beta`` over a window of ``size`` channels.

    Args:
        x: ``tensor<[N, C, *D], T>``, rank 3 or 4.
        size: const int32 (≥ 1).
        alpha: const U, optional, default 1e-4; beta: default 0.75; k: default 1.
    """

    inputs = (
        InputSpec("x", FLOATS, rank=(3, 4)),
        InputSpec("size", ("int32",), const=True, rank=(0,)),
        InputSpec("alpha", FLOATS, const=True, optional=True, default=x_dtype_scalar(1e-4), rank=(0,)),
        InputSpec("beta", FLOATS, const=True, optional=True, default=x_dtype_scalar(0.75), rank=(0,)),
        InputSpec("k", FLOATS, const=True, optional=True, default=x_dtype_scalar(1.0), rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        cls._check_param_dtypes(ctx, x)
        size = cls.int_value(ctx, "size")
        if size is not None and size < 1:
            raise InferError(f"size must be >= 1, got {size}")
        return [x]
