"""The MIL validator (``runner``) and its rule families, one module each (``structural``, ``weightfile``,
``dialect``, ``ane_io``, ``ane_ops``, ``ane_weights``), registered in ``_rules`` by importing them, and
``explain(rule_id)``, a rule's documentation entry as text (from the copy of the rules page in the package).

``anekit.mil.validate`` is the *function* once ``anekit.mil`` is imported; import the other names with
``from anekit.mil.validate import check, explain, format_diagnostics, rules``.
"""

from __future__ import annotations

from .explain import explain
from .runner import check, format_diagnostics, rules, validate

__all__ = ["check", "explain", "format_diagnostics", "rules", "validate"]
