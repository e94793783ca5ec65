"""Build MIL programs from Python: :class:`Builder` (ops as methods) and ``@program`` / ``make_program``.

``builder`` holds the class; ``names`` (identifiers, variables, rollback), ``consts`` (constant promotion),
``methods`` (one generated method per op spec) and ``program`` (``make_program`` and the decorator) are its
parts.
"""

from __future__ import annotations

from .builder import Builder
from .program import make_program, program

__all__ = ["Builder", "make_program", "program"]
