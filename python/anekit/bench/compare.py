"""``--compare``: per-row ratios of this run's headline figures against a saved result file.

Rows are matched by suite and row name; each suite's headline metrics are compared as ``this / other``, with
the direction that is better (lower latency, higher throughput) so a reader sees at a glance which run was
faster. Rows present in only one run are listed, not silently dropped; a flagged row's ratio is not computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .table import fmt_value

if TYPE_CHECKING:
    from .results import BenchResults

__all__ = ["HEADLINES", "Comparison", "RowRatio", "compare"]

#: Suite -> (metric, "lower" | "higher" is better) compared per row.
HEADLINES: dict[str, tuple[tuple[str, str], ...]] = {
    "io": (("write_gelem_s", "higher"), ("read_gelem_s", "higher")),
    "dispatch": (("eval_us", "lower"), ("total_us", "lower")),
    "peak": (("tflops", "higher"),),
    "sram": (("tflops", "higher"), ("gflops_per_mb", "higher")),
    "bandwidth": (("gbps", "higher"),),
    "quant": (("ms", "lower"), ("fp16_equiv_gbps", "higher")),
    "llm": (("tok_s", "higher"),),
    "compile": (("compile_ms", "lower"), ("hit_us", "lower"), ("stall_ms", "lower")),
}


@dataclass(frozen=True)
class RowRatio:
    """One compared figure: ``ratio = this / other`` (None when either is missing, zero or flagged)."""

    suite: str
    row: str
    metric: str
    better: str
    this: float | None
    other: float | None

    @property
    def ratio(self) -> float | None:
        if self.this is None or self.other is None or self.other == 0:
            return None
        return self.this / self.other

    @property
    def speedup(self) -> float | None:
        """How many times better this run is (> 1: better), whichever direction is better for the metric."""
        r = self.ratio
        if r is None or r == 0:
            return None
        return r if self.better == "higher" else 1 / r


@dataclass
class Comparison:
    """What :func:`compare` returns; ``str()`` is the table ``anekit bench --compare`` prints."""

    this_label: str
    other_label: str
    ratios: list[RowRatio] = field(default_factory=list)
    only_this: list[str] = field(default_factory=list)
    only_other: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "this": self.this_label,
            "other": self.other_label,
            "ratios": [
                {**r.__dict__, "ratio": r.ratio, "speedup": r.speedup} for r in self.ratios
            ],
            "only_this": self.only_this,
            "only_other": self.only_other,
        }

    def __str__(self) -> str:
        lines = [
            f"comparison: this run ({self.this_label}) / saved ({self.other_label}); 'better' > 1 favours this run"
        ]
        width = max([len(f"{r.suite} / {r.row}") for r in self.ratios] + [10])
        lines.append(f"  {'row'.ljust(width)}  {'metric':>16} {'this':>10} {'saved':>10} {'ratio':>8} {'better':>8}")
        for r in self.ratios:
            lines.append(
                f"  {f'{r.suite} / {r.row}'.ljust(width)}  {r.metric:>16} {fmt_value(r.this):>10} "
                f"{fmt_value(r.other):>10} {fmt_value(r.ratio):>8} {fmt_value(r.speedup):>8}"
            )
        if self.only_this:
            lines.append(f"  only in this run: {', '.join(self.only_this)}")
        if self.only_other:
            lines.append(f"  only in the saved run: {', '.join(self.only_other)}")
        return "\n".join(lines)


def _label(r: BenchResults) -> str:
    return f"{r.machine.get('chip', '?')}, {r.backend}, anekit {r.anekit_version}, {r.created}"


def compare(this: BenchResults, other: BenchResults) -> Comparison:
    """Per-row ratios of ``this`` against ``other`` for every suite both ran (see the module docstring)."""
    out = Comparison(_label(this), _label(other))
    for name, suite in this.suites.items():
        theirs = other.suites.get(name)
        if theirs is None:
            out.only_this.append(f"suite {name}")
            continue
        their_rows = {r.name: r for r in theirs.rows}
        for row in suite.rows:
            match = their_rows.pop(row.name, None)
            if match is None:
                out.only_this.append(f"{name} / {row.name}")
                continue
            for metric, better in HEADLINES.get(name, ()):
                a = None if row.flagged else row.metrics.get(metric)
                b = None if match.flagged else match.metrics.get(metric)
                if a is None and b is None:
                    continue
                out.ratios.append(RowRatio(name, row.name, metric, better, a, b))
        out.only_other += [f"{name} / {n}" for n in their_rows]
    out.only_other += [f"suite {n}" for n in other.suites if n not in this.suites]
    return out
