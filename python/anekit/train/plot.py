"""The loss-curve figure (matplotlib, the ``bench`` extra, is imported here only)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["save_loss_plot"]


def save_loss_plot(
    path: str | os.PathLike[str],
    losses: Sequence[float],
    reference: Sequence[float] | None = None,
    *,
    label: str = "anekit",
    reference_label: str = "PyTorch fp32",
    first_step: int = 1,
) -> Path:
    """Draw the loss per step (and a reference curve with its difference, when given) and save it to ``path``
    (the format follows the suffix, e.g. ``.png`` or ``.svg``); returns the path.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'anekit[bench]'``).
        ValueError: no losses, or a reference curve of another length.
    """
    from ..bench.plots import require_matplotlib

    require_matplotlib()
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, safe in threads and on servers

    if not losses:
        raise ValueError("save_loss_plot: no losses to draw")
    if reference is not None and len(reference) != len(losses):
        raise ValueError(f"save_loss_plot: {len(losses)} losses but {len(reference)} reference losses")
    steps = list(range(first_step, first_step + len(losses)))
    fig = Figure(figsize=(7, 5 if reference is None else 7))
    axes = fig.subplots(1 if reference is None else 2, 1, sharex=True, squeeze=False)[:, 0]
    axes[0].plot(steps, losses, label=label)
    if reference is not None:
        axes[0].plot(steps, reference, label=reference_label, linestyle="--")
        axes[1].plot(steps, [a - b for a, b in zip(losses, reference, strict=True)])
        axes[1].axhline(0.0, color="grey", linewidth=0.5)
        axes[1].set_ylabel(f"{label} - {reference_label}")
    axes[0].set_ylabel("loss (cross-entropy, nats)")
    axes[0].legend()
    axes[-1].set_xlabel("step")
    out = Path(path)
    fig.savefig(out)
    return out
