"""anekit.nn and anekit.models need neither torch nor gguf at import: gguf is imported when a file is loaded."""

from __future__ import annotations

import subprocess
import sys


def test_nn_and_models_import_neither_torch_nor_gguf() -> None:
    code = (
        "import sys, anekit, anekit.nn, anekit.models, anekit.models.gguf_loader; "
        "print(sorted(m for m in ('torch', 'gguf', 'transformers') if m in sys.modules))"
    )
    # The child imports the anekit this interpreter imports (installed, or the developer's PYTHONPATH).
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
