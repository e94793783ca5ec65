"""Diagnostics displays: validate() returns a list that prints as a grouped report and shows as an HTML table."""

from __future__ import annotations

from anekit import mil
from anekit.mil.diagnostics import Diagnostic, Diagnostics, format_diagnostics

BAD = Diagnostic("type-mismatch", "error", "declared <b> vs inferred", op="r", function="main", line=4, hint="fix it")
NOTE = Diagnostic("dead-op", "info", "op is unused", op="d")


def test_validate_returns_a_displayable_list() -> None:
    @mil.program(inputs={"x": mil.tensor((1, 4, 1, 8), "fp16")})
    def prog(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.relu(x=x)

    found = mil.validate(prog)
    assert isinstance(found, Diagnostics) and isinstance(found, list)
    assert repr(found).startswith("<Diagnostics: 0 errors")


def test_text_report_groups_by_severity() -> None:
    d = Diagnostics([BAD, NOTE])
    assert d.counts() == {"error": 1, "warning": 0, "info": 1}
    assert d.errors == [BAD]
    assert str(d) == format_diagnostics(d)
    lines = repr(d).splitlines()
    assert lines[0] == "<Diagnostics: 1 error, 0 warnings, 1 info>"
    assert lines[1:4] == [
        "1 error:",
        "  [type-mismatch] declared <b> vs inferred  (line 4, func main, op 'r')",
        "      hint: fix it",
    ]
    assert "Diagnostic(" not in repr(d)


def test_html_table_is_escaped() -> None:
    h = Diagnostics([BAD, NOTE])._repr_html_()
    assert h.count("<tr>") == 3
    assert "declared &lt;b&gt; vs inferred" in h and "<b> vs" not in h
    assert "op &#x27;r&#x27;" in h and "<i>hint:</i> fix it" in h
    assert "no findings" in Diagnostics()._repr_html_()
