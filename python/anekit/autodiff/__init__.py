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
* ``save="selective"``: only the outputs of the contractions and normalisations (``matmul``, ``conv``, ``softmax``
  …, :data:`anekit.autodiff.context.SELECTIVE_SAVE_OPS`) are saved; the cheap elementwise ops, reductions and
  data movement between them are recomputed. Far fewer surfaces than ``"activations"``, little recomputation.

Under every policy values computed from constants only (masks, scales, rotation tables) are recomputed in the
backward, and constant operands are folded in numpy (a constant weight's transpose is a constant).

**Precision.** Backward programs keep the forward's dtypes: an fp16 forward gets an fp16 backward, since the ANE
computes in fp16 and wants fp16 run-time tensors (docs/internals/ane-rules.md, ``ane-fp32-compute``). No fp32
casts are inserted: the long sums of a backward (weight gradients summed over the sequence in ``matmul``, bias and
broadcast gradients in ``reduce_sum``) happen inside single ops, which accumulate in wider precision internally
(the reference executor computes each op in fp32 and rounds its output to fp16), so rounding happens once per op,
not once per term. Cotangents of a value used several times are summed with ``add`` in fp16. Loss scaling, to keep
small gradients above fp16's subnormal range, belongs to the training loop. Rules multiply the cotangent in first
and divide last (``real_div``), so no intermediate overflows fp16 where the gradient itself fits (the derivative of
``pow(v, -0.5)`` alone is infinite in fp16 for ``v < 6e-4``).

The ops with a rule are :func:`supported_ops`; any other op between ``wrt`` and the outputs raises
:class:`NotDifferentiableError` naming it. Rules live in :mod:`anekit.autodiff.rules`, one module per op family;
:func:`register_rule` adds one. The user guide's page "Gradients" (docs/guide/autodiff.md) covers all of this with
an example.
"""

from __future__ import annotations

from ..errors import NotDifferentiableError
from . import rules as _rules  # noqa: F401  (importing the rule modules registers every rule)
from .registry import register_rule, supported_ops
from .transform import SAVE_POLICIES, Gradient, vjp

__all__ = ["SAVE_POLICIES", "Gradient", "NotDifferentiableError", "register_rule", "supported_ops", "vjp"]
