"""anekit.mil.load on paths that do not exist: named as missing, whatever the suffix (before: "no model.mil in
PATH" for a mistyped .mlmodel, .mlmodelc or model.mil path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from anekit import mil
from anekit.errors import MILError


@pytest.mark.parametrize("name", ["model.mlmodel", "model.mlpackage", "model.mlmodelc", "model.mil"])
def test_a_missing_path_is_named(tmp_path: Path, name: str) -> None:
    with pytest.raises(MILError, match="no such file or folder"):
        mil.load(tmp_path / name)
