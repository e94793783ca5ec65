"""``explain(rule_id)``: a validator rule's documentation entry as plain text, offline.

Installed packages do not ship the repository's ``docs/``, so the package carries a copy of the rules page
(``ane-rules.md`` next to this module, kept identical to ``docs/internals/ane-rules.md`` by a test). This module
cuts one rule's entry out of it and turns the MyST markup into plain text: cross-references become links under
:data:`anekit.mil.diagnostics.DOCS_URL`, so a terminal shows something a user can open.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from ...errors import MILError
from .. import diagnostics

__all__ = ["entry_ids", "explain"]

#: The packaged copy of docs/internals/ane-rules.md.
_PAGE = "ane-rules.md"
#: A MyST anchor line, ``(rule-ane-io-dtype)=``.
_ANCHOR = re.compile(r"^\(([A-Za-z0-9_-]+)\)=\s*$")
#: Anchor prefix of the numbered sections of each internals page -> the page's HTML path under DOCS_URL (the
#: prefixes of docs/_checks.py SECTION_PREFIXES, plus the rules page itself).
_LABEL_PAGES = {
    "api": "internals/ane-private-api.html",
    "mil": "internals/mil-format.html",
    "arch": "internals/architecture.html",
    "perf": "internals/reference-numbers.html",
    "objc": "internals/linux-objc-toolchain.html",
    "rule": diagnostics.RULES_PAGE,
}
#: ``{role}`text <target>``` or ``{role}`target``` (MyST/Sphinx roles).
_ROLE = re.compile(r"\{(\w+)\}`([^`<]*?)(?:\s*<([^>]+)>)?`")
#: ``[text](target)`` Markdown links.
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


@cache
def _page() -> list[str]:
    return resources.files(__package__).joinpath(_PAGE).read_text(encoding="utf-8").splitlines()


def entry_ids() -> list[str]:
    """The rule ids that have an entry (``rule-<id>`` anchors of the packaged rules page), in page order."""
    return [m.group(1)[5:] for line in _page() if (m := _ANCHOR.match(line)) and m.group(1).startswith("rule-")]


def _url(path: str) -> str:
    return f"{diagnostics.DOCS_URL.rstrip('/')}/{path}"


def _label_url(label: str) -> str | None:
    page = _LABEL_PAGES.get(label.split("-", 1)[0])
    return None if page is None else _url(f"{page}#{label}")


def _doc_url(target: str) -> str:
    """A ``{doc}`` target or a relative ``.md`` link of the rules page (in internals/) as a URL."""
    path, _, anchor = target.partition("#")
    path = path.removesuffix(".md")
    parts = ["internals", *path.split("/")]
    out: list[str] = []
    for p in parts:
        if p == "..":
            out = out[:-1]
        elif p not in ("", "."):
            out.append(p)
    return _url("/".join(out) + ".html" + (f"#{anchor}" if anchor else ""))


class _Refs:
    """The links of one entry, numbered in order of first use: the text says ``[n]``, the footer lists them."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def cite(self, url: str) -> str:
        if url not in self.urls:
            self.urls.append(url)
        return f"[{self.urls.index(url) + 1}]"

    def role(self, m: re.Match[str]) -> str:
        role, text, target = m.group(1), m.group(2).strip(), m.group(3)
        if role == "ref":
            url = _label_url(target or text)
            if url is None:
                return text if target else (target or text)
            return f"{text} {self.cite(url)}" if target else self.cite(url)
        if role == "doc":
            return f"{text} {self.cite(_doc_url(target))}" if target else self.cite(_doc_url(text))
        # Python objects ({func}, {class}, {meth}, …): the text Sphinx shows ("~a.b.C" shows as "C").
        if target or not text.startswith("~"):
            return text
        return text[1:].rsplit(".", 1)[-1]

    def link(self, m: re.Match[str]) -> str:
        text, target = m.group(1), m.group(2)
        return f"{text} {self.cite(target if re.match(r'^[a-z]+://', target) else _doc_url(target))}"

    def plain(self, line: str) -> str:
        line = _LINK.sub(self.link, _ROLE.sub(self.role, line))
        return re.sub(r"^#+\s*", "", line).replace("**", "").replace("`", "")


def explain(rule_id: str) -> str:
    """The documentation entry of validator rule ``rule_id`` as plain text, ending with its link.

    Cross-references become numbered ``[n]`` marks, listed as URLs under :data:`~anekit.mil.diagnostics.DOCS_URL`
    after the entry's own link.

    Args:
        rule_id: a rule id as carried by a :class:`~anekit.mil.Diagnostic` (``"ane-io-dtype"``).

    Raises:
        MILError: ``rule_id`` is not a string or has no entry (the message suggests close ids).
    """
    if not isinstance(rule_id, str):
        raise MILError(f"explain() needs a rule id string, got {type(rule_id).__name__}")
    lines = _page()
    anchor = f"(rule-{rule_id})="
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == anchor)
    except StopIteration:
        import difflib

        close = difflib.get_close_matches(rule_id, entry_ids(), n=3)
        maybe = f"; did you mean {', '.join(close)}?" if close else ""
        raise MILError(
            f"no validator rule {rule_id!r}{maybe} (`anekit check --list-rules` lists the rules)"
        ) from None
    refs = _Refs()
    body: list[str] = []
    for line in lines[start + 1 :]:
        if _ANCHOR.match(line) or (line.startswith("## ") and body):
            break  # the next entry, or the next section
        body.append(refs.plain(line))
    while body and not body[-1].strip():
        body.pop()
    footer = [f"[{i}] {url}" for i, url in enumerate(refs.urls, 1)]
    return "\n".join([*body, "", f"more: {diagnostics.rule_url(rule_id)}", *footer])
