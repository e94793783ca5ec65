"""Reference kernels: one plain-numpy function per MIL op, registered by MIL name in :data:`KERNELS`.

Module names mirror the op-spec categories of ``anekit.mil.ops`` (``elementwise.py``, ``conv.py`` ...), so
everything about ``add`` lives in ``mil/ops/elementwise.py`` (what it is) and ``reference/kernels/
elementwise.py`` (what it computes) (docs/internals/architecture.md §4.1, §4.3).

Calling convention
------------------
A kernel is ``fn(ctx, **inputs) -> list[np.ndarray]``, registered with ``@kernel("op_type")``:

* ``ctx`` is a :class:`KernelContext`: op type and name, the declared output types, the op's attributes,
  the float compute dtype (float32 for ``precision="ane"``/``"fp32"``, float64 for ``"fp64"``), the
  function's opset, and whether fp16 values live on the fp16 grid.
* ``inputs`` are the op's resolved inputs **by MIL name** (``x``, ``weight``, ``pad_type`` ...): numpy arrays
  for tensors (float tensors already in the compute dtype, integers and bools in their own numpy dtype),
  Python ``str`` for strings, tuples of arrays for tuple inputs (``concat(values = ...)``). Pre-iOS18
  constexpr ops receive their attribute operands (``quantized_data``, ``lut`` ...) as inputs too. Inputs
  the program omits are not passed: every optional input has a Python default in the kernel's signature,
  equal to the MIL default (a test checks them against the op specs).
* The kernel returns a list with one array per MIL output, in MIL order. It computes in the input dtype and
  need not round: the executor stores each output in its declared type (fp16 outputs rounded to fp16 for
  ``precision="ane"``, integer outputs converted to their dtype) and checks the declared shape.
* Bad inputs raise ``ctx.error(...)`` (a :class:`~anekit.errors.MILError` naming the op).

Kernels are also directly callable for unit tests: ``KERNELS["add"](KernelContext("add"), x=a, y=b)``.
"""

from __future__ import annotations

from ._registry import KERNELS, Kernel, KernelContext, KernelFn, kernel

# Importing the category modules registers their kernels, once, here.
from . import activation as _activation  # noqa: F401  isort: skip
from . import attention as _attention  # noqa: F401  isort: skip
from . import constexpr as _constexpr  # noqa: F401  isort: skip
from . import conv as _conv  # noqa: F401  isort: skip
from . import elementwise as _elementwise  # noqa: F401  isort: skip
from . import image as _image  # noqa: F401  isort: skip
from . import linear as _linear  # noqa: F401  isort: skip
from . import normalization as _normalization  # noqa: F401  isort: skip
from . import pool as _pool  # noqa: F401  isort: skip
from . import quantization as _quantization  # noqa: F401  isort: skip
from . import recurrent as _recurrent  # noqa: F401  isort: skip
from . import reduction as _reduction  # noqa: F401  isort: skip
from . import state as _state  # noqa: F401  isort: skip
from . import tensor_create as _tensor_create  # noqa: F401  isort: skip
from . import tensor_index as _tensor_index  # noqa: F401  isort: skip
from . import tensor_layout as _tensor_layout  # noqa: F401  isort: skip
from . import tensor_select as _tensor_select  # noqa: F401  isort: skip
from . import tensor_shape as _tensor_shape  # noqa: F401  isort: skip
from . import unary as _unary  # noqa: F401  isort: skip

__all__ = ["KERNELS", "Kernel", "KernelContext", "KernelFn", "kernel"]
