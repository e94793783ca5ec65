"""torch and coremltools stay optional: importing anekit (and anekit.mil's importers) loads neither."""

from __future__ import annotations

import subprocess
import sys


def test_import_anekit_needs_neither_torch_nor_coremltools() -> None:
    code = (
        "import sys, anekit, anekit.mil.importers.coreml, anekit.mil.importers.torch, anekit.mil.passes; "
        "print(sorted(m for m in ('torch', 'coremltools') if m in sys.modules))"
    )
    # The child imports the anekit this interpreter imports (installed, or the developer's PYTHONPATH).
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
