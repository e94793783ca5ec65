"""Paths of the MIL test data (copies of the real corpus, tests/data/mil/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "mil"
CORPUS = sorted(p for p in DATA.glob("*.mlmodelc") if (p / "model.mil").is_file())
CORPUS_WITH_WEIGHTS = [p for p in CORPUS if (p / "weights" / "weight.bin").is_file()]
ANE_EXAMPLES = sorted((DATA / "ane_examples").glob("*.mil"))
