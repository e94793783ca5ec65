"""The MIL validator (``runner``) and its rule families, one module each (``structural``, ``weightfile``,
``dialect``, ``ane_io``, ``ane_ops``, ``ane_weights``), registered in ``_rules`` by importing them.

``anekit.mil.validate`` is the *function* once ``anekit.mil`` is imported; import the other names with
``from anekit.mil.validate import check, format_diagnostics, rules``.
"""

from __future__ import annotations

from .runner import check, format_diagnostics, rules, validate

__all__ = ["check", "format_diagnostics", "rules", "validate"]
