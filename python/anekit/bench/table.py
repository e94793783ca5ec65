"""Aligned text and HTML tables of benchmark rows (a flagged row is marked, never shown as a plain figure)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .results import Row

__all__ = ["Column", "fmt_value", "render_html", "render_pivot", "render_text"]


@dataclass(frozen=True)
class Column:
    """A table column: a parameter (``metric=False``) or a metric of the rows."""

    key: str
    header: str
    metric: bool = False


def fmt_value(v: Any) -> str:
    """A figure for a table: 4 significant digits, ``-`` for missing."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1e5 or abs(v) < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def _status(r: Row) -> str:
    if r.error:
        return "ERROR"
    if r.verified is None:
        return "n/a"
    return "ok" if r.verified else "WRONG"


def _cells(columns: Sequence[Column], r: Row) -> list[str]:
    out = []
    for c in columns:
        v = r.metrics.get(c.key) if c.metric else r.params.get(c.key)
        out.append(fmt_value(v))
    return out


def render_text(columns: Sequence[Column], rows: Sequence[Row]) -> str:
    """Rows as an aligned table with a ``check`` column (ok / WRONG / ERROR / n/a)."""
    headers = [c.header for c in columns] + ["check"]
    body = [[*_cells(columns, r), _status(r)] for r in rows]
    widths = [max([len(h)] + [len(b[i]) for b in body]) for i, h in enumerate(headers)]
    lines = ["   " + "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    for b, r in zip(body, rows, strict=True):
        mark = " ! " if r.flagged else "   "
        lines.append(mark + "  ".join(x.rjust(w) for x, w in zip(b, widths, strict=True)))
    if not rows:
        lines.append("   (no rows)")
    return "\n".join(lines)


def render_html(columns: Sequence[Column], rows: Sequence[Row]) -> str:
    """Rows as an HTML table; flagged rows are red."""
    e = html.escape
    head = "".join(f"<th>{e(c.header)}</th>" for c in columns) + "<th>check</th>"
    body = []
    for r in rows:
        style = " style='color:#b00'" if r.flagged else ""
        cells = "".join(f"<td style='text-align:right'>{e(x)}</td>" for x in _cells(columns, r))
        title = e(r.error or r.note)
        body.append(f"<tr{style} title='{title}'>{cells}<td>{e(_status(r))}</td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_pivot(table: dict[str, dict[str, Any]]) -> str:
    """``row -> column -> value`` as an aligned table (columns in first-seen order, ``-`` where missing)."""
    cols: list[str] = []
    for inner in table.values():
        cols += [c for c in inner if c not in cols]
    width = max(len(r) for r in table)
    widths = [max(len(c), *(len(fmt_value(inner.get(c))) for inner in table.values())) for c in cols]
    lines = ["     " + " " * width + "  " + "  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))]
    for label, inner in table.items():
        cells = "  ".join(fmt_value(inner.get(c)).rjust(w) for c, w in zip(cols, widths, strict=True))
        lines.append("     " + label.ljust(width) + "  " + cells)
    return "\n".join(lines)
