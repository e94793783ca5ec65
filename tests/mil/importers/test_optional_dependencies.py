"""torch and coremltools stay optional: importing anekit (and anekit.mil's importers) loads neither."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_import_anekit_needs_neither_torch_nor_coremltools() -> None:
    code = (
        "import sys, anekit, anekit.mil.importers.coreml, anekit.mil.importers.torch, anekit.mil.passes; "
        "print(sorted(m for m in ('torch', 'coremltools') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"
