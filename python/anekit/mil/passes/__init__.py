"""Optional program-to-program passes that make an imported program fit the ANE.

Each pass changes the program in place, returns it, and leaves every other part alone: ``shapes`` (pin
flexible inputs to static shapes), ``io_fp16`` (fp32 I/O -> fp16 I/O, boundary casts removed), ``io_layout``
(I/O reshaped to the ANE's ``[1, C, 1, S]`` layout) and ``split`` (over-limit dimensions split into chunks).
"""

from __future__ import annotations

from .shapes import flexible_shapes, pin_shapes

__all__ = ["flexible_shapes", "pin_shapes"]
