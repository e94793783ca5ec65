"""anekit.autodiff: reverse-mode differentiation of MIL programs (vector-Jacobian products).

:func:`vjp` takes a forward program and the inputs to differentiate against, and derives a *backward program*:
given the forward inputs (or saved activations) and one cotangent per forward output, it computes the cotangent of
each ``wrt`` input. The backward is an ordinary MIL program: it runs on the reference executor, compiles with
``anekit.compile`` and is checked by :func:`anekit.mil.validate` like any other.

    >>> g = autodiff.vjp(program, wrt=["x", "w"])
    >>> grads = anekit.reference.run(g.backward, {"x": x, "w": w, "grad_y": dy})   # {"grad_x": ..., "grad_w": ...}

**Save versus recompute** (the ``save`` argument) decides where the forward values the rules need come from:

* ``save="recompute"`` (default): the backward recomputes them from the forward inputs, copying each forward op it
  needs once. The forward program is returned unchanged; the backward takes the forward inputs it reads. One
  kernel's worth of extra compute, no extra surfaces: on the ANE, where I/O through IOSurfaces costs more than
  the arithmetic for small layers, this is usually the cheaper choice.
* ``save="activations"``: the forward returns each needed intermediate as an extra output ``saved_<n>`` and the
  backward takes them as inputs (``Gradient.saved`` lists them). No recomputation; more surfaces.

Under both policies values computed from constants only (masks, scales, rotation tables) are recomputed in the
backward, and constant operands are folded in numpy (a constant weight's transpose is a constant).

**Precision.** Backward programs keep the forward's dtypes: an fp16 forward gets an fp16 backward, since the ANE
computes in fp16 and wants fp16 run-time tensors (docs/internals/ane-rules.md, ``ane-fp32-compute``). No fp32
casts are inserted: the long sums of a backward (weight gradients summed over the sequence in ``matmul``, bias and
broadcast gradients in ``reduce_sum``) happen inside single ops, which accumulate in wider precision internally
(the reference executor computes each op in fp32 and rounds its output to fp16), so rounding happens once per op,
not once per term. Cotangents of a value used several times are summed with ``add`` in fp16. Loss scaling, to keep
small gradients above fp16's subnormal range, belongs to the training loop.

The ops with a rule are :func:`supported_ops`; any other op between ``wrt`` and the outputs raises
:class:`NotDifferentiableError` naming it. Rules live in :mod:`anekit.autodiff.rules`, one module per op family.
"""

from __future__ import annotations

from ..errors import NotDifferentiableError
from .registry import register_rule, supported_ops
from .transform import SAVE_POLICIES, Gradient, vjp

__all__ = ["SAVE_POLICIES", "Gradient", "NotDifferentiableError", "register_rule", "supported_ops", "vjp"]


def _load_rules() -> None:
    from . import rules  # noqa: F401  (registers every rule)


_load_rules()
