"""Sphinx configuration for anekit's documentation.

Build (warnings are errors, as in CI): ``python3 -m sphinx -W --keep-going -b html docs docs/_build/html``.
The API reference imports the package, so the compiled extension must be importable (an installed anekit, or
``PYTHONPATH=python`` in a source tree where ``python/anekit/_core*.so`` has been built).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
# Prefer the source tree's package (it carries the freshly built extension in a developer checkout); an
# installed anekit is used when the source tree has no extension.
if any(p.suffix in (".so", ".pyd") for p in (_ROOT / "python" / "anekit").glob("_core*")):  # not _core.pyi
    sys.path.insert(0, str(_ROOT / "python"))

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _checks  # noqa: E402  (docs/_checks.py)
from sphinx.util import logging  # noqa: E402

import anekit  # noqa: E402  (after the path set-up above)

logger = logging.getLogger(__name__)

project = "anekit"
author = "the anekit authors"
copyright = "the anekit authors"
release = anekit.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# ---------------------------------------------------------------- Markdown (MyST)
# Numbered sections carry explicit anchors such as (api-17-3)= so diagnostics and code can link to one section;
# heading anchors are generated as well for in-page links.
myst_enable_extensions = ["colon_fence", "deflist", "fieldlist"]
myst_heading_anchors = 3

# ---------------------------------------------------------------- API reference
autosummary_generate = False  # the module pages are written by hand (docs/api/)
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

# nitpicky stays off: type names in signatures and docstrings (numpy types, typing aliases, names imported only
# for type checking) render as text instead of having to resolve to a documented target. Links between the
# documentation pages ({ref}, {doc}) are always checked.
nitpicky = False

# Docstrings that docutils reads differently from their authors' intent are repaired at build time (python/ is
# not changed here). Each entry names the object, the text that identifies the problem, and the repair. An entry
# whose text is no longer in the docstring is reported (an error under -W), so the list empties itself as the
# docstrings are fixed in the source.


def _replace(old: str, new: str) -> Callable[[str], str]:
    return lambda text: text.replace(old, new)


def _realign_simple_table(text: str) -> str:
    """Widen a reST simple table whose first-column entries are longer than its ``====`` border."""
    lines = text.split("\n")
    borders = [i for i, line in enumerate(lines) if re.fullmatch(r"=+ +=+", line)]
    if len(borders) < 2:
        return text
    first, last = borders[0], borders[-1]
    rows = [re.split(r"\s{1,}", line, maxsplit=1) for line in lines[first + 1 : last]]
    width = max(len(row[0]) for row in rows) + 2
    rest = len(lines[first].split()[1])
    border = "=" * (width - 2) + "  " + "=" * rest
    lines[first] = lines[last] = border
    for i, row in enumerate(rows, start=first + 1):
        lines[i] = row[0].ljust(width) + (row[1] if len(row) > 1 else "")
    return "\n".join(lines)


DOCSTRING_FIXES: list[tuple[str, str, Callable[[str], str]]] = [
    # "*_exception" opens an emphasis that never closes.
    ("anekit.testing.FAULTS", "*_exception", _replace("*_exception", "``*_exception``")),
    # Two variable names are longer than the table's first column ("Malformed table").
    ("anekit.config", "``ANEKIT_SIMULATE_COMPILE_FAILURE`` ``raise``", _realign_simple_table),
]

# ---------------------------------------------------------------- HTML
html_theme = "furo"
html_title = f"anekit {release}"


def _patch_docstring(app, what, name, obj, options, lines):
    for target, marker, repair in DOCSTRING_FIXES:
        if name != target:
            continue
        text = "\n".join(lines)
        if marker not in text:
            logger.warning(
                f"docs/conf.py DOCSTRING_FIXES: {marker!r} is no longer in {name}'s docstring; remove the entry",
                type="anekit",
                subtype="docstring-fix",
            )
            continue
        lines[:] = repair(text).split("\n")


def _check_consistency(app, env):
    """Fail the build (a warning, errors under -W) where the pages no longer match the code (docs/_checks.py)."""
    for problem in _checks.problems():
        logger.warning(problem, type="anekit", subtype="docs-consistency")


def setup(app):
    app.connect("autodoc-process-docstring", _patch_docstring)
    app.connect("env-check-consistency", _check_consistency)
