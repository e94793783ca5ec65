"""The benchmark suites, one module each. Every suite module defines:

* ``NAME`` and ``DESCRIPTION``;
* ``planned_compiles(ctx) -> int``: compiles it will spend in this process (the runner budgets the run with it);
* ``run(ctx) -> SuiteResult``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["SUITE_NAMES", "suite_module"]

#: Suite names in run order (cheap and foundational first: io, dispatch; the compile suite last).
SUITE_NAMES: tuple[str, ...] = ("io", "dispatch", "peak", "sram", "bandwidth", "quant", "llm", "train", "compile")

_MODULES = {
    "io": "io",
    "dispatch": "dispatch",
    "peak": "peak",
    "sram": "sram",
    "bandwidth": "bandwidth",
    "quant": "quant",
    "llm": "llm",
    "train": "train",
    "compile": "compile_cost",
}


def suite_module(name: str) -> ModuleType:
    """The module of suite ``name``.

    Raises:
        ValueError: no such suite.
    """
    if name not in _MODULES:
        raise ValueError(f"unknown benchmark suite {name!r}; expected some of {', '.join(SUITE_NAMES)}")
    return importlib.import_module(f"{__name__}.{_MODULES[name]}")
