"""Execute the example notebooks with a real Jupyter kernel (nbclient + ipykernel), as a user would run them.

    python scripts/run_notebooks.py [NOTEBOOK ...]     # default: every examples/*.ipynb

A notebook fails when any cell raises; the error names the notebook and shows the cell's traceback. Outputs
are not written back: the notebooks in git stay stripped (tests/examples/test_notebooks.py checks that).
Progress lines are switched off (ANEKIT_PROGRESS=0) so the run's log stays readable.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
#: Per-cell limit: the examples are small; a cell that runs this long is hung, not slow.
CELL_TIMEOUT_S = 600


def run(path: Path) -> float:
    """Execute ``path`` in a fresh kernel started in the notebook's folder; returns the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    t0 = time.perf_counter()
    client.execute()
    return time.perf_counter() - t0


def main(argv: list[str]) -> int:
    os.environ["ANEKIT_PROGRESS"] = "0"  # inherited by the kernel
    paths = [Path(a) for a in argv] or sorted((ROOT / "examples").glob("*.ipynb"))
    if not paths:
        print("error: no notebooks found under examples/", file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        try:
            seconds = run(path)
        except CellExecutionError as exc:
            failed += 1
            print(f"FAILED {path}:\n{exc}", file=sys.stderr)
            continue
        print(f"ok     {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({seconds:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
