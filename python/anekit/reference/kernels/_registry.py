"""The kernel registry, the ``@kernel`` decorator and the context every kernel receives.

Kept apart from ``kernels/__init__.py`` so category modules can import the decorator while the package is
still initialising (the package imports every category module once, at a single point).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import MILError
from ...mil.types import TensorType, Type

__all__ = ["KERNELS", "Kernel", "KernelContext", "KernelFn", "kernel"]

KernelFn = Callable[..., Sequence[Any]]


@dataclass(frozen=True)
class KernelContext:
    """Everything a kernel may know about the operation besides its inputs.

    Attributes:
        op_type: the MIL op name (``conv``).
        name: the operation's ``name`` attribute (for error messages).
        out_types: the declared (inferred) output types, one per output, in MIL order.
        attrs: the operation's attributes other than its inputs (``name``, ``val`` ...).
        float_dtype: the numpy dtype float values are computed in: float32 for ``precision="ane"`` and
            ``"fp32"``, float64 for ``"fp64"``. Kernels create float arrays (defaults, fills, ranges) in it.
        opset: the function's opset (``ios15`` ... ``ios18``); some semantics depend on it (gather bounds).
        fp16_storage: fp16-typed values are stored on the fp16 grid (``precision="ane"``). Kernels use it
            only for default parameters whose fp16 value differs from the float one (rsqrt's 1e-12 epsilon
            is 0 in fp16, docs/internals/mil-format.md §10.3); the executor rounds the outputs.
    """

    op_type: str
    name: str = ""
    out_types: tuple[Type, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)
    float_dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float32))
    opset: str = "ios18"
    fp16_storage: bool = False

    def error(self, message: str) -> MILError:
        """A :class:`MILError` prefixed ``[<op_type> '<name>']``; the caller raises it."""
        return MILError(f"[{self.op_type} '{self.name}'] {message}")

    def out_dtype(self, index: int = 0) -> np.dtype | None:
        """The numpy dtype values of output ``index`` are held in, or ``None`` for non-tensor outputs.

        Float outputs are held in :attr:`float_dtype` (fp16 values are float32 arrays on the fp16 grid);
        integer and bool outputs in their own numpy dtype.
        """
        if index >= len(self.out_types):
            return None
        t = self.out_types[index]
        if not isinstance(t, TensorType) or t.dtype.np_dtype is None:
            return None
        if t.dtype.is_float:
            return self.float_dtype
        return t.dtype.np_dtype

    def default_scalar(self, value: float, index: int = 0) -> np.ndarray:
        """A float default parameter as stored next to output ``index``: on the fp16 grid when that output is
        fp16 and :attr:`fp16_storage` is set, else in :attr:`float_dtype`."""
        v = np.asarray(value, dtype=self.float_dtype)
        t = self.out_types[index] if index < len(self.out_types) else None
        if self.fp16_storage and isinstance(t, TensorType) and t.dtype.name == "fp16":
            v = v.astype(np.float16).astype(self.float_dtype)
        return v

    def out_shape(self, index: int = 0) -> tuple[int | None, ...] | None:
        """The declared shape of output ``index`` (``None`` dims are unknown), or ``None`` when not known."""
        if index >= len(self.out_types):
            return None
        t = self.out_types[index]
        return t.shape if isinstance(t, TensorType) else None


@dataclass(frozen=True)
class Kernel:
    """A registered kernel.

    Attributes:
        op_type: the MIL op name it implements.
        fn: ``fn(ctx, **inputs) -> list of arrays`` (see the package docstring).
        preserves_values: every output element is a copy of an input element (reshape, transpose, slicing,
            concat ...), so an fp16 result is already on the fp16 grid and the executor skips re-rounding.
        module: the category module the kernel lives in (mirrors ``anekit.mil.ops.<category>``).
    """

    op_type: str
    fn: KernelFn
    preserves_values: bool = False
    module: str = ""

    def __call__(self, ctx: KernelContext, **inputs: Any) -> Sequence[Any]:
        return self.fn(ctx, **inputs)


#: Every registered kernel by MIL op name; filled once, when ``anekit.reference.kernels`` is imported.
KERNELS: dict[str, Kernel] = {}


def kernel(op_type: str, *, preserves_values: bool = False) -> Callable[[KernelFn], KernelFn]:
    """Register ``fn`` as the reference kernel of ``op_type`` and return it unchanged.

    Args:
        op_type: the exact MIL op name.
        preserves_values: see :attr:`Kernel.preserves_values`.

    Raises:
        RuntimeError: a kernel for ``op_type`` is already registered (a programming error).
    """

    def wrap(fn: KernelFn) -> KernelFn:
        if op_type in KERNELS:
            raise RuntimeError(f"reference kernel for {op_type!r} registered twice")
        module = fn.__module__.rsplit(".", 1)[-1]
        KERNELS[op_type] = Kernel(op_type, fn, preserves_values, module)
        return fn

    return wrap
