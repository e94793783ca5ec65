"""Progress feedback for work that can take more than a few seconds (compiles, reference runs, the demo).

``with progress("compiling main (862 ops)"):`` prints nothing when the work finishes within
:data:`SHOW_AFTER_S`; past that, one status line on stderr shows the elapsed time, rewritten in place every
:data:`REFRESH_S`, and ends with how long the work took. It is shown only where someone is watching: stderr is
a terminal, or the code runs in a Jupyter kernel. ``ANEKIT_PROGRESS=0`` turns it off everywhere (e.g. in
logs), ``ANEKIT_PROGRESS=1`` on everywhere; ``anekit.config.override(progress=...)`` does the same in code.

When off, entering the context costs a configuration read and starts no thread.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

from . import config

__all__ = ["REFRESH_S", "SHOW_AFTER_S", "enabled", "progress"]

#: Work shorter than this shows nothing (a line that flashes by is noise, not feedback).
SHOW_AFTER_S = 1.0
#: How often the status line is rewritten.
REFRESH_S = 0.5


def _in_notebook() -> bool:
    # A Jupyter kernel's IPython shell has a `kernel` attribute; a terminal IPython shell does not.
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def enabled(stream: TextIO | None = None) -> bool:
    """Whether progress is shown on ``stream`` (default stderr): see the module docstring."""
    forced = config.get().progress
    if forced is not None:
        return forced
    out = sys.stderr if stream is None else stream
    isatty = getattr(out, "isatty", None)
    try:
        tty = bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        tty = False
    return tty or _in_notebook()


class _Line:
    """The status line: a thread that rewrites it until :meth:`finish`."""

    def __init__(self, label: str, stream: TextIO, show_after: float) -> None:
        self.label = label
        self.stream = stream
        self.t0 = time.perf_counter()
        self.shown = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(show_after,), name="anekit-progress", daemon=True)
        self._thread.start()

    def _write(self, text: str) -> None:
        self.stream.write(f"\r{text}")
        self.stream.flush()

    def _loop(self, show_after: float) -> None:
        if self._stop.wait(show_after):
            return
        self.shown = True
        while True:
            self._write(f"{self.label} … {time.perf_counter() - self.t0:.1f} s")
            if self._stop.wait(REFRESH_S):
                return

    def finish(self, failed: bool) -> None:
        self._stop.set()
        self._thread.join()
        if self.shown:
            verdict = "failed after" if failed else "done in"
            self._write(f"{self.label}: {verdict} {time.perf_counter() - self.t0:.1f} s\n")


@contextlib.contextmanager
def progress(label: str, *, stream: TextIO | None = None, show_after: float = SHOW_AFTER_S) -> Iterator[None]:
    """Show ``label`` with the elapsed time while the ``with`` block runs longer than ``show_after`` seconds.

    Args:
        label: what is being done, e.g. ``"compiling main (862 ops) on ane"``.
        stream: where to write (default stderr).
        show_after: seconds before anything is shown.

    Raises:
        TypeError: ``label`` is not a string.
        ValueError: ``show_after`` is negative.
    """
    if not isinstance(label, str):
        raise TypeError(f"progress label must be a string, got {type(label).__name__}")
    if not show_after >= 0:
        raise ValueError(f"progress show_after must be >= 0 seconds, got {show_after!r}")
    out = sys.stderr if stream is None else stream
    if not enabled(out):
        yield
        return
    line = _Line(label, out, show_after)
    failed = True
    try:
        yield
        failed = False
    finally:
        line.finish(failed)
