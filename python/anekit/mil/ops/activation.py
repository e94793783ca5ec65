"""Activation functions and softmax.

Reference: docs/internals/mil-format.md §10.3; coremltools ``iOS15/activation.py`` and ``iOS17/activation.py``
(iOS17 only lets ``alpha``/``beta`` have their own float dtype). Scalar ``alpha``/``beta`` defaults are
materialised in ``x``'s dtype, as coremltools does.
"""

from __future__ import annotations

from typing import ClassVar

from ..types import Type
from ._base import Op, i32
from ._infer import FLOATS, InferError, normalize_axis
from ._spec import InferContext, InputSpec, register_op
from .unary import ElementwiseUnary, x_dtype_scalar

__all__ = ["Activation"]


class Activation(ElementwiseUnary):
    """``out = f(x)`` for an activation; same shape and dtype as ``x`` (T ∈ {fp16, fp32})."""

    category = "activation"
    #: Inputs whose dtype must equal x's dtype before iOS17 (coremltools domain "T" → "U" in iOS17).
    x_typed_params: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        for name in cls.x_typed_params:
            p = cls.opt_tensor(ctx, name)
            if p is not None and ctx.opset in ("ios15", "ios16") and p.dtype != x.dtype:
                raise InferError(f"'{name}' dtype {p.dtype} must equal x dtype {x.dtype} before ios17")
        cls.check_params(ctx)
        return [x]

    @classmethod
    def check_params(cls, ctx: InferContext) -> None:
        """Extra checks of a leaf (parameter shapes)."""


@register_op("relu", category="activation")
class Relu(Activation):
    """Elementwise ``max(x, 0)``."""


@register_op("relu6", category="activation")
class Relu6(Activation):
    """Elementwise ``min(max(x, 0), 6)``."""


@register_op("sigmoid", category="activation")
class Sigmoid(Activation):
    """Elementwise ``1 / (1 + exp(-x))``."""


@register_op("silu", category="activation")
class Silu(Activation):
    """Elementwise ``x * sigmoid(x)``; upstream ANE code writes it as ``mul(x, sigmoid(x))``."""


@register_op("softsign", category="activation")
class Softsign(Activation):
    """Elementwise ``x / (1 + |x|)``."""


@register_op("softplus", category="activation")
class Softplus(Activation):
    """Elementwise ``log(1 + exp(x))``."""


def _scalar(name: str, default: float | None) -> InputSpec:
    """A required const scalar ``alpha``/``beta``: coremltools' op definitions (iOS15 and iOS17
    ``activation.py``: ``alpha: const T (Required)``, no ``default_inputs``) make every one of them required,
    so text that omits one is invalid. ``default`` is only what the Builder fills in when the caller omits it
    (the written text always spells it out)."""
    return InputSpec(
        name,
        FLOATS,
        const=True,
        optional=False,
        default=None if default is None else x_dtype_scalar(default),
        rank=(0,),
    )


@register_op("leaky_relu", category="activation")
class LeakyRelu(Activation):
    """``x if x >= 0 else alpha * x``; ``alpha`` const scalar (required; the Builder's default 0.01)."""

    inputs = (InputSpec("x", FLOATS), _scalar("alpha", 0.01))
    x_typed_params = ("alpha",)


@register_op("elu", category="activation")
class Elu(Activation):
    """``x if x > 0 else alpha * (exp(x) - 1)``; ``alpha`` const scalar (required; the Builder's default 1)."""

    inputs = (InputSpec("x", FLOATS), _scalar("alpha", 1.0))
    x_typed_params = ("alpha",)


@register_op("thresholded_relu", category="activation")
class ThresholdedRelu(Activation):
    """``x if x >= alpha else 0``; ``alpha`` const scalar (required; the Builder's default 1)."""

    inputs = (InputSpec("x", FLOATS), _scalar("alpha", 1.0))
    x_typed_params = ("alpha",)


@register_op("clamped_relu", category="activation")
class ClampedRelu(Activation):
    """``min(beta, x if x >= 0 else alpha * x)``; ``alpha`` and ``beta`` const scalars (required)."""

    inputs = (InputSpec("x", FLOATS), _scalar("alpha", None), _scalar("beta", None))
    x_typed_params = ("alpha", "beta")


@register_op("linear_activation", category="activation")
class LinearActivation(Activation):
    """``alpha * x + beta``; ``alpha``, ``beta`` const scalars (required; the Builder's default beta is 0)."""

    inputs = (InputSpec("x", FLOATS), _scalar("alpha", None), _scalar("beta", 0.0))
    x_typed_params = ("alpha", "beta")


@register_op("scaled_tanh", category="activation")
class ScaledTanh(Activation):
    """``alpha * tanh(beta * x)``; ``alpha``, ``beta`` const scalars (required; the Builder's defaults 1 and 1)."""

    inputs = (InputSpec("x", FLOATS), _scalar("alpha", 1.0), _scalar("beta", 1.0))
    x_typed_params = ("alpha", "beta")


@register_op("sigmoid_hard", category="activation")
class SigmoidHard(Activation):
    """``min(max(alpha * x + beta, 0), 1)``; ``alpha``, ``beta`` const scalars (required; Builder defaults 0.2, 0.5)."""

    inputs = (InputSpec("x", FLOATS), _scalar("alpha", 0.2), _scalar("beta", 0.5))
    x_typed_params = ("alpha", "beta")


class _PerChannel(Activation):
    """Activations whose parameters are const vectors of length ``C = x.shape[1]``."""

    min_rank: ClassVar[int] = 3

    @classmethod
    def check_params(cls, ctx: InferContext) -> None:
        x = cls.tensor(ctx, "x")
        if x.rank < cls.min_rank:
            raise InferError(f"x must have rank >= {cls.min_rank} ([B, C, ...]), got rank {x.rank}")
        c = x.shape[1]
        for name in cls.x_typed_params:
            p = cls.opt_tensor(ctx, name)
            if p is None:
                continue
            if p.rank != 1 or (c is not None and p.shape[0] is not None and p.shape[0] != c):
                raise InferError(f"'{name}' must have shape [{c}] (x channel dim), got {list(p.shape)}")


@register_op("prelu", category="activation")
class Prelu(_PerChannel):
    """``x if x >= 0 else alpha[c] * x``; ``x`` is ``[B, C, *D]`` (rank ≥ 3), ``alpha`` const ``[C]``."""

    inputs = (InputSpec("x", FLOATS), InputSpec("alpha", FLOATS, const=True, rank=(1,)))
    x_typed_params = ("alpha",)


@register_op("softplus_parametric", category="activation")
class SoftplusParametric(_PerChannel):
    """``alpha[c] * log(1 + exp(beta[c] * x))``; ``x`` is ``[B, C, *D]``; ``alpha``, ``beta`` const ``[C]``."""

    inputs = (
        InputSpec("x", FLOATS),
        InputSpec("alpha", FLOATS, const=True, rank=(1,)),
        InputSpec("beta", FLOATS, const=True, rank=(1,)),
    )
    x_typed_params = ("alpha", "beta")


_GELU_MODES = ("EXACT", "TANH_APPROXIMATION", "SIGMOID_APPROXIMATION")


@register_op("gelu", category="activation")
class Gelu(Activation):
    """GELU; ``mode`` const string, optional, default ``"EXACT"``.

    Modes: ``EXACT`` ``0.5·x·(1+erf(x/√2))``; ``TANH_APPROXIMATION``; ``SIGMOID_APPROXIMATION``
    ``x·sigmoid(1.702·x)`` (docs/internals/mil-format.md §10.3). ANE: reportedly rejected by one source, emitted by
    others (§11 rule 16, PROBE).
    """

    inputs = (
        InputSpec("x", FLOATS),
        InputSpec("mode", ("string",), const=True, optional=True, default="EXACT", rank=(0,)),
    )

    @classmethod
    def check_params(cls, ctx: InferContext) -> None:
        cls.choice(ctx, "mode", _GELU_MODES)


@register_op("softmax", category="activation")
class Softmax(Op):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis`` (const int32 scalar, optional, default -1).

    Returns the shape and dtype of ``x`` (T ∈ {fp16, fp32}). ANE: axis -1 and 1 are used upstream.
    """

    inputs = (
        InputSpec("x", FLOATS),
        InputSpec("axis", ("int32",), const=True, optional=True, default=i32(-1), rank=(0,)),
    )

    @classmethod
    def compute(cls, ctx: InferContext) -> list[Type]:
        x = cls.tensor(ctx, "x")
        axis = cls.int_value(ctx, "axis")
        if x.rank == 0:
            raise InferError("x must have rank >= 1")
        if axis is not None:
            normalize_axis(axis, x.rank)
        return [x]
