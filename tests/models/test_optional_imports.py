"""anekit.nn and anekit.models need neither torch, gguf nor jinja2 at import: gguf is imported when a file is
loaded, jinja2 when a chat template is rendered, and the tokenizer is anekit's own (never transformers')."""

from __future__ import annotations

import subprocess
import sys


def test_nn_and_models_import_no_optional_package() -> None:
    code = (
        "import sys, anekit, anekit.nn, anekit.models, anekit.models.gguf_loader, anekit.models.chat_template, "
        "anekit._cli_generate; "
        "print(sorted(m for m in ('torch', 'gguf', 'transformers', 'tokenizers', 'jinja2') if m in sys.modules))"
    )
    # The child imports the anekit this interpreter imports (installed, or the developer's PYTHONPATH).
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
