"""The results of a benchmark run: rows of figures per suite, with how they were measured and whether the
outputs behind them matched the reference executor. Text table, notebook HTML, JSON (format in
:mod:`anekit.bench.schema`), plots (:mod:`anekit.bench.plots`) and comparison (:mod:`anekit.bench.compare`).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .schema import FORMAT_NAME, FORMAT_VERSION, BenchFormatError, check_document
from .table import Column, render_html, render_pivot, render_text

if TYPE_CHECKING:
    from .compare import Comparison

__all__ = ["BenchResults", "Row", "SuiteResult"]

#: Said wherever figures were not measured on a Neural Engine.
NOT_ANE_BANNER = (
    "NOT ANE FIGURES: measured on the {backend} backend of a {system} machine. They test the benchmark code "
    "and the host side; only `anekit bench --backend ane` on a Mac measures the Neural Engine."
)


@dataclass
class Row:
    """One figure set: what was run (``params``), what was measured (``metrics``), and whether its outputs
    matched the reference executor (``verified``: True, False, or None when the row has no outputs to check).
    ``error`` is set when the row could not be measured at all (e.g. the compiler rejected the program).
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float | None] = field(default_factory=dict)
    verified: bool | None = None
    max_abs_error: float | None = None
    note: str = ""
    error: str = ""

    @property
    def flagged(self) -> bool:
        """Whether this row's figures must not be trusted (wrong outputs or not measured)."""
        return self.verified is False or bool(self.error)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": self.params,
            "metrics": {k: _finite_or_none(v) for k, v in self.metrics.items()},
            "verified": self.verified,
            "max_abs_error": _finite_or_none(self.max_abs_error),
            "note": self.note,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Row:
        return cls(
            name=d["name"],
            params=dict(d["params"]),
            metrics=dict(d["metrics"]),
            verified=d["verified"],
            max_abs_error=d["max_abs_error"],
            note=d.get("note", ""),
            error=d.get("error", ""),
        )


@dataclass
class SuiteResult:
    """Everything one suite measured.

    Attributes:
        name: the suite (``"dispatch"``, ``"peak"`` ...).
        description: one line on what it measures.
        measurement: warm-up, repeats, time limits and clock (:meth:`~anekit.bench.timing.Measurement.to_dict`).
        rows: the figures.
        columns: metric name -> (header, unit) for the table, in display order.
        summary: suite-level findings (e.g. the SRAM cliffs).
        notes: anything a reader must know (paths not offered, rows skipped and why).
        seconds: wall time of the suite.
        compiles: compiles the suite spent in this process.
    """

    name: str
    description: str
    measurement: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    columns: dict[str, tuple[str, str]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    compiles: int = 0

    def table_columns(self) -> list[Column]:
        param_keys: list[str] = []
        for r in self.rows:
            for k in r.params:
                if k not in param_keys:
                    param_keys.append(k)
        cols = [Column(k, k) for k in param_keys]
        for k, (head, unit) in self.columns.items():
            cols.append(Column(k, f"{head} ({unit})" if unit else head, metric=True))
        return cols

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "measurement": self.measurement,
            "columns": {k: list(v) for k, v in self.columns.items()},
            "summary": self.summary,
            "notes": list(self.notes),
            "seconds": self.seconds,
            "compiles": self.compiles,
            "rows": [r.to_dict() for r in self.rows],
        }

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> SuiteResult:
        return cls(
            name=name,
            description=d["description"],
            measurement=dict(d["measurement"]),
            rows=[Row.from_dict(r) for r in d["rows"]],
            columns={k: (v[0], v[1]) for k, v in d["columns"].items()},
            summary=dict(d["summary"]),
            notes=list(d["notes"]),
            seconds=float(d["seconds"]),
            compiles=int(d["compiles"]),
        )


@dataclass
class BenchResults:
    """What :func:`anekit.bench.run` returns.

    ``str(results)`` (or :meth:`table`) is the terminal report, ``_repr_html_`` the notebook view,
    :meth:`to_json` the versioned result file, :meth:`plot` the matplotlib figures, :meth:`compare` the
    per-row ratios against another run.

    Attributes:
        backend: what ran the kernels (``"ane"`` or ``"reference"``).
        ane_figures: whether the figures come from a Neural Engine (False on the reference backend and the fake).
        quick: whether this was a ``--quick`` run.
        machine: chip, ``aneSubType``, OS build, anekit version, doctor findings in force, CPU (see
            :func:`anekit.bench.machine.describe`).
        budget: compile budget before and after, the plan, and whether the recycling pool was used.
        suites: suite name -> :class:`SuiteResult`, in run order.
        created: ISO 8601 UTC time of the run.
    """

    backend: str
    ane_figures: bool
    quick: bool
    machine: dict[str, Any]
    budget: dict[str, Any]
    suites: dict[str, SuiteResult]
    created: str
    anekit_version: str
    total_seconds: float = 0.0

    # -- views -------------------------------------------------------------------------------------------------

    @property
    def banner(self) -> str:
        """The warning printed above non-ANE figures ('' for ANE figures)."""
        if self.ane_figures:
            return ""
        return NOT_ANE_BANNER.format(backend=self.backend, system=self.machine.get("system", "non-Mac"))

    def flagged_rows(self) -> list[tuple[str, Row]]:
        """(suite, row) for every row whose figures must not be trusted (wrong outputs or not measured)."""
        return [(s.name, r) for s in self.suites.values() for r in s.rows if r.flagged]

    def table(self) -> str:
        """The terminal report: banner, machine, one table per suite, flagged rows."""
        m = self.machine
        lines = []
        if self.banner:
            lines += ["!" * 100, self.banner, "!" * 100]
        lines.append(
            f"anekit {self.anekit_version} bench on {m.get('chip', '?')} (aneSubType {m.get('ane_subtype') or '-'}), "
            f"{m.get('os_build', '?')}, backend {self.backend}{' (quick)' if self.quick else ''}, {self.created}"
        )
        b = self.budget
        lines.append(
            f"compiles: {b.get('used_after', 0) - b.get('used_before', 0)} in this process "
            f"(planned at most {b.get('planned')}; limit {b.get('limit')})"
            + ("; the recycling pool compiled in worker processes" if b.get("recycled") else "")
        )
        for s in self.suites.values():
            lines.append("")
            lines.append(f"== {s.name}: {s.description}  [{s.seconds:.1f} s, {s.compiles} compiles]")
            if s.measurement:
                lines.append("   measured: " + ", ".join(f"{k} {v}" for k, v in s.measurement.items() if v is not None))
            lines.append(render_text(s.table_columns(), s.rows))
            for key, value in s.summary.items():
                if _is_pivot(value):
                    lines.append(f"   {key}:")
                    lines.append(render_pivot(value))
                else:
                    lines.append(f"   {key}: {_fmt_summary(value)}")
            for note in s.notes:
                lines.append(f"   note: {note}")
        bad = self.flagged_rows()
        lines.append("")
        if bad:
            lines.append(f"FLAGGED: {len(bad)} row(s) whose outputs did not match the reference or could not run:")
            for suite, r in bad:
                lines.append(f"  {suite} / {r.name}: {r.error or f'outputs differ (max |err| {r.max_abs_error})'}")
        else:
            lines.append("every measured kernel's outputs matched the reference executor")
        lines.append(f"total {self.total_seconds:.1f} s")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        e = html.escape
        parts = ["<div class='anekit-bench'>"]
        if self.banner:
            parts.append(f"<p style='color:#b00;font-weight:bold'>{e(self.banner)}</p>")
        m = self.machine
        parts.append(
            f"<p>anekit {e(self.anekit_version)} on {e(str(m.get('chip', '?')))}, {e(str(m.get('os_build', '?')))}, "
            f"backend <b>{e(self.backend)}</b>{' (quick)' if self.quick else ''}</p>"
        )
        for s in self.suites.values():
            parts.append(f"<h4>{e(s.name)}: {e(s.description)}</h4>")
            parts.append(render_html(s.table_columns(), s.rows))
            for k, v in s.summary.items():
                shown = f"<pre>{e(render_pivot(v))}</pre>" if _is_pivot(v) else e(_fmt_summary(v))
                parts.append(f"<p>{e(k)}: {shown}</p>")
            for note in s.notes:
                parts.append(f"<p><i>{e(note)}</i></p>")
        bad = self.flagged_rows()
        if bad:
            parts.append(f"<p style='color:#b00'>{len(bad)} flagged row(s): outputs wrong or not measured</p>")
        parts.append("</div>")
        return "".join(parts)

    # -- JSON ------------------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "created": self.created,
            "anekit": self.anekit_version,
            "backend": self.backend,
            "ane_figures": self.ane_figures,
            "quick": self.quick,
            "total_seconds": self.total_seconds,
            "machine": self.machine,
            "budget": self.budget,
            "suites": {name: s.to_dict() for name, s in self.suites.items()},
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """The result file's text (format :data:`~anekit.bench.schema.FORMAT_VERSION`); also written to ``path``.

        Raises:
            OSError: ``path`` cannot be written.
        """
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, doc: Any) -> BenchResults:
        """Rebuild results from a parsed result file.

        Raises:
            BenchFormatError: the document is not a valid result file (the message names the first problem).
        """
        check_document(doc)
        return cls(
            backend=doc["backend"],
            ane_figures=doc["ane_figures"],
            quick=doc["quick"],
            machine=dict(doc["machine"]),
            budget=dict(doc["budget"]),
            suites={name: SuiteResult.from_dict(name, s) for name, s in doc["suites"].items()},
            created=doc["created"],
            anekit_version=doc["anekit"],
            total_seconds=float(doc["total_seconds"]),
        )

    @classmethod
    def from_json(cls, source: str | Path) -> BenchResults:
        """Load a result file written by :meth:`to_json` (a path, or the JSON text itself).

        Raises:
            BenchFormatError: the file cannot be read, is not JSON, or is not a valid result file.
        """
        if isinstance(source, Path) or (isinstance(source, str) and not source.lstrip().startswith("{")):
            try:
                text = Path(source).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise BenchFormatError(f"cannot read result file {str(source)!r}: {exc}") from None
            where = str(source)
        elif isinstance(source, str):
            text, where = source, "<text>"
        else:
            raise TypeError(f"from_json: expected a path or JSON text, got {type(source).__name__}")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BenchFormatError(f"{where} is not JSON: {exc}") from None
        try:
            return cls.from_dict(doc)
        except BenchFormatError as exc:
            raise BenchFormatError(f"{where}: {exc}") from None

    # -- plots and comparison -------------------------------------------------------------------------------------

    def plot(self, directory: str | Path | None = None) -> dict[str, Any]:
        """Matplotlib figures (name -> Figure) of the suites that ran; with ``directory``, also saved there as
        ``<name>.png``. Needs matplotlib (``pip install 'anekit[bench]'``).

        Raises:
            ImportError: matplotlib is not installed.
            OSError: ``directory`` cannot be created or written.
        """
        from .plots import make_figures, save_figures

        figures = make_figures(self)
        if directory is not None:
            save_figures(figures, Path(directory))
        return figures

    def compare(self, other: BenchResults) -> Comparison:
        """Per-row ratios of this run's headline figures against ``other``'s (see :mod:`anekit.bench.compare`)."""
        from .compare import compare

        return compare(self, other)


def _finite_or_none(v: float | None) -> float | None:
    # JSON has no inf/nan: a non-finite figure is written as null (and the row says why).
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _is_pivot(value: Any) -> bool:
    """A summary laid out as a table: row label -> column label -> figure."""
    return isinstance(value, dict) and bool(value) and all(isinstance(v, dict) for v in value.values())


def _fmt_summary(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt_summary(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
