"""``anekit.bench``: the ANE benchmark suite (``anekit bench`` on the command line).

Suites: ``io`` (host conversions), ``dispatch`` (latency by size and execution path), ``peak`` (conv-chain
TFLOPS), ``sram`` (working-set sweep and its cliffs), ``bandwidth`` (weight streaming, GB/s), ``quant`` (weight
formats), ``compile`` (compile/load/cache/pool costs). Every figure is checked against the reference executor
and carries how it was measured and on what machine; see docs/bench.md for the result file format.

Example::

    import anekit.bench
    results = anekit.bench.run(["peak", "sram"], quick=True)
    print(results)                  # the table
    results.to_json("m4max.json")   # the result file
    results.plot("plots/")          # matplotlib figures (pip install 'anekit[bench]')
"""

from __future__ import annotations

from .cliffs import Cliffs, detect_cliffs
from .compare import Comparison, compare
from .results import BenchResults, Row, SuiteResult
from .runner import plan, run
from .schema import FORMAT_VERSION, SCHEMA, BenchFormatError
from .suites import SUITE_NAMES

__all__ = [
    "FORMAT_VERSION",
    "SCHEMA",
    "SUITE_NAMES",
    "BenchFormatError",
    "BenchResults",
    "Cliffs",
    "Comparison",
    "Row",
    "SuiteResult",
    "compare",
    "detect_cliffs",
    "load",
    "plan",
    "run",
]


def load(path: str) -> BenchResults:
    """Load a result file (:meth:`BenchResults.from_json`)."""
    return BenchResults.from_json(path)
