"""Matplotlib figures of a benchmark run (matplotlib is imported here only: ``import anekit`` stays numpy-only).

* ``dispatch_latency``: evaluate latency against I/O bytes, one line per kernel family, path and backend;
* ``sram_curve``: throughput (with its p10-p90 band) and GFLOPS per MB against MB of weights, cliffs marked;
* ``roofline``: TFLOPS against arithmetic intensity (FLOPs per byte moved) for the peak, sram, bandwidth and
  quant kernels, with the measured bandwidth roof and, on an ANE run, the chip's nominal peak;
* ``bandwidth_formats``: stored and effective GB/s per weight format.

Only verified rows are drawn; each figure says how many flagged rows were left out, and a figure of non-ANE
figures says so in its title. Figures are built with ``matplotlib.figure.Figure`` (no pyplot, no GUI backend).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .results import BenchResults, Row, SuiteResult

__all__ = ["PLOT_SUITES", "make_figures", "require_matplotlib", "save_figures"]

#: Figure name -> the suites it needs (a figure is made when any of them ran).
PLOT_SUITES: dict[str, tuple[str, ...]] = {
    "dispatch_latency": ("dispatch",),
    "sram_curve": ("sram",),
    "roofline": ("peak", "sram", "bandwidth", "quant"),
    "bandwidth_formats": ("quant", "bandwidth"),
}


def require_matplotlib() -> None:
    """Raise ImportError with the install hint when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'anekit[bench]'") from None


def _figure(title: str, results: BenchResults) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    chip = results.machine.get("chip", "?")
    suffix = "" if results.ane_figures else f"\n{results.backend} backend: NOT ANE figures"
    ax.set_title(f"{title} ({chip}){suffix}", fontsize=10)
    return fig, ax


def _good(suite: SuiteResult | None) -> tuple[list[Row], int]:
    if suite is None:
        return [], 0
    good = [r for r in suite.rows if not r.flagged]
    return good, len(suite.rows) - len(good)


def _flag_note(ax: Any, flagged: int) -> None:
    if flagged:
        ax.text(0.01, 0.01, f"{flagged} flagged row(s) not drawn", transform=ax.transAxes, color="#b00", fontsize=8)


def _dispatch(results: BenchResults) -> Any:
    rows, flagged = _good(results.suites["dispatch"])
    fig, ax = _figure("evaluate latency by size and path", results)
    lines: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        p = r.params
        if r.metrics.get("eval_us") is None:
            continue
        key = f"{p['via']} {p['kernel']} {p['path']}"
        lines.setdefault(key, []).append((2.0 * p["C"] * p["S"], float(r.metrics["eval_us"] or 0.0)))
    for key, pts in sorted(lines.items()):
        pts.sort()
        ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=key)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("input bytes (fp16 [1,C,1,S])")
    ax.set_ylabel("evaluate, median (us)")
    if lines:
        ax.legend(fontsize=7)
    _flag_note(ax, flagged)
    return fig


def _sram(results: BenchResults) -> Any:
    suite = results.suites["sram"]
    rows, flagged = _good(suite)
    rows = [r for r in rows if r.metrics.get("tflops") is not None]
    fig, ax = _figure("SRAM sweep: one 1x1 conv of growing width", results)
    xs = [float(r.metrics["weights_mb"] or 0.0) for r in rows]
    ax.plot(xs, [r.metrics["tflops"] for r in rows], marker="o", color="C0", label="TFLOPS")
    ax.fill_between(
        xs, [r.metrics["tflops_low"] or 0.0 for r in rows], [r.metrics["tflops_high"] or 0.0 for r in rows],
        color="C0", alpha=0.2, label="p10-p90",
    )
    ax.set_xlabel("weights (MB)")
    ax.set_ylabel("TFLOPS")
    ax2 = ax.twinx()
    ax2.plot(xs, [r.metrics["gflops_per_mb"] for r in rows], marker="s", color="C1", label="GFLOPS per MB")
    ax2.set_ylabel("GFLOPS per MB of weights")
    cliffs = suite.summary.get("cliffs (MB of weights)") or {}
    for key, color in (("peak_efficiency", "green"), ("first_spill", "orange"), ("catastrophic_spill", "red")):
        x = cliffs.get(key)
        if x is not None:
            ax.axvline(x, color=color, linestyle="--", label=key.replace("_", " ") + f" ({x:.3g} MB)")
    ax.legend(loc="upper left", fontsize=7)
    ax2.legend(loc="upper right", fontsize=7)
    _flag_note(ax, flagged)
    return fig


def _roofline(results: BenchResults) -> Any:
    fig, ax = _figure("roofline: throughput against arithmetic intensity", results)
    total_flagged = 0
    best_gbps = 0.0
    for name, marker in (("peak", "o"), ("sram", "s"), ("bandwidth", "^"), ("quant", "v")):
        rows, flagged = _good(results.suites.get(name))
        total_flagged += flagged
        pts = [(r.metrics.get("flop_per_byte"), r.metrics.get("tflops")) for r in rows]
        pts = [(float(x), float(y)) for x, y in pts if x and y]
        if pts:
            ax.scatter([x for x, _ in pts], [y for _, y in pts], marker=marker, label=name)
        best_gbps = max([best_gbps] + [float(r.metrics.get("gbps") or 0.0) for r in rows])
    if best_gbps:
        xs = [0.1, 1e4]
        ax.plot(xs, [best_gbps * x / 1e3 for x in xs], color="gray", linestyle=":", label=f"{best_gbps:.3g} GB/s")
    nominal = results.machine.get("nominal_fp16_tflops")
    if results.ane_figures and nominal:
        ax.axhline(nominal, color="red", linestyle="--", label=f"nominal {nominal} TFLOPS")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FLOPs per byte moved (weights + I/O)")
    ax.set_ylabel("TFLOPS")
    ax.legend(fontsize=7)
    _flag_note(ax, total_flagged)
    return fig


def _formats(results: BenchResults) -> Any:
    fig, ax = _figure("weight bandwidth by weight format", results)
    labels: list[str] = []
    stored: list[float] = []
    effective: list[float] = []
    total_flagged = 0
    for name in ("bandwidth", "quant"):
        rows, flagged = _good(results.suites.get(name))
        total_flagged += flagged
        for r in rows:
            if r.metrics.get("gbps") is None:
                continue
            labels.append(f"{name}: {r.name}")
            stored.append(float(r.metrics["gbps"] or 0.0))
            effective.append(float(r.metrics.get("fp16_equiv_gbps") or 0.0))
    ys = list(range(len(labels)))
    ax.barh([y - 0.2 for y in ys], stored, height=0.4, label="stored bytes / time")
    ax.barh([y + 0.2 for y in ys], effective, height=0.4, label="fp16-equivalent bytes / time")
    ax.set_yticks(ys, labels, fontsize=7)
    ax.set_xlabel("GB/s")
    ax.legend(fontsize=7)
    _flag_note(ax, total_flagged)
    return fig


_MAKERS = {"dispatch_latency": _dispatch, "sram_curve": _sram, "roofline": _roofline, "bandwidth_formats": _formats}


def make_figures(results: BenchResults) -> dict[str, Any]:
    """Figure name -> ``matplotlib.figure.Figure`` for every figure whose suites ran (see :data:`PLOT_SUITES`)."""
    require_matplotlib()
    return {
        name: _MAKERS[name](results)
        for name, needs in PLOT_SUITES.items()
        if any(s in results.suites for s in needs)
    }


def save_figures(figures: dict[str, Any], directory: Path) -> list[Path]:
    """Write each figure as ``directory/<name>.png`` (the directory is created); returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, fig in figures.items():
        path = directory / f"{name}.png"
        fig.savefig(path, dpi=110)
        out.append(path)
    return out
