"""Consistency checks between the documentation and the code, run by the Sphinx build (docs/conf.py) and by
tests/docs/test_docs.py, so the pages cannot drift from what they describe.

* every validator rule registered in ``anekit.mil`` has a ``(rule-<id>)=`` anchor in internals/ane-rules.md;
* the configuration page lists exactly the ``ANEKIT_*`` variables :mod:`anekit.config` reads;
* every numbered heading of the internals pages carries the anchor the code's citations are re-pointed to
  (``## 17. …`` / ``### 17.3 …`` in ane-private-api.md preceded by ``(api-17)=`` / ``(api-17-3)=``).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent

#: Internals page -> anchor prefix of its numbered sections.
SECTION_PREFIXES = {
    "internals/ane-private-api.md": "api",
    "internals/mil-format.md": "mil",
    "internals/architecture.md": "arch",
    "internals/reference-numbers.md": "perf",
    "internals/linux-objc-toolchain.md": "objc",
}

_ANCHOR = re.compile(r"^\(([A-Za-z0-9_-]+)\)=\s*$")
_NUMBERED = re.compile(r"^#{2,4} (\d+(?:\.\d+)*)\.? ")


def anchors(page: str) -> set[str]:
    """The explicit MyST anchors ``(name)=`` of a page (path relative to docs/)."""
    return {m.group(1) for line in (DOCS / page).read_text().splitlines() if (m := _ANCHOR.match(line))}


def missing_rule_anchors() -> list[str]:
    """Rule ids registered in anekit.mil without a ``rule-<id>`` anchor on the rules page."""
    from anekit.mil.validate import _rules  # the validate package imports every rule module

    have = anchors("internals/ane-rules.md")
    return sorted(rule_id for rule_id in _rules.RULES if f"rule-{rule_id}" not in have)


def configuration_mismatch() -> tuple[list[str], list[str]]:
    """(variables anekit.config reads but the page omits, variables the page lists that anekit.config does not read)."""
    from anekit import config

    read = set(re.findall(r'"(ANEKIT_[A-Z0-9_]+)"', inspect.getsource(config.from_env)))
    page = (DOCS / "guide/configuration.md").read_text()
    listed = set(re.findall(r"^\| `(ANEKIT_[A-Z0-9_]+)` \|", page, re.M))
    return sorted(read - listed), sorted(listed - read)


def unanchored_sections() -> list[str]:
    """Numbered headings of the internals pages not directly preceded by their ``<prefix>-<n>-<m>`` anchor."""
    problems = []
    for page, prefix in SECTION_PREFIXES.items():
        lines = (DOCS / page).read_text().splitlines()
        for i, line in enumerate(lines):
            m = _NUMBERED.match(line)
            if not m:
                continue
            want = f"{prefix}-{m.group(1).replace('.', '-')}"
            previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            if previous.strip() != f"({want})=":
                problems.append(f"{page}: {line.strip()!r} needs the anchor ({want})= on the line before it")
    return problems


def problems() -> list[str]:
    """Every inconsistency, as messages (empty when the documentation matches the code)."""
    found = [f"internals/ane-rules.md has no entry (rule-{r})= for rule {r!r}" for r in missing_rule_anchors()]
    omitted, unknown = configuration_mismatch()
    found += [f"guide/configuration.md does not list {v}, which anekit.config reads" for v in omitted]
    found += [f"guide/configuration.md lists {v}, which anekit.config does not read" for v in unknown]
    return found + unanchored_sections()
