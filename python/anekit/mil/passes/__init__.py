"""Optional program-to-program passes that make an imported program fit the ANE.

Each pass changes the program in place and leaves every other part alone: ``shapes`` (pin flexible inputs
to static shapes; ``fold`` turns the shape arithmetic that pinning fixes into constants) and ``io_fp16``
(fp32 I/O -> fp16 I/O, boundary casts removed), ``io_layout`` (I/O declared ``[1, C, 1, S]``, converted at
the boundary, folded into the program's own boundary reshapes and transposes) and ``split`` (linears wider
than the ANE's channel limit split into chunks). ``mil.validate`` before and after shows what a pass changed.
"""

from __future__ import annotations

from .fold import fold_static
from .io_fp16 import io_fp16
from .io_layout import io_layout
from .shapes import flexible_shapes, pin_shapes
from .split import split_wide_linear

__all__ = ["flexible_shapes", "fold_static", "io_fp16", "io_layout", "pin_shapes", "split_wide_linear"]
