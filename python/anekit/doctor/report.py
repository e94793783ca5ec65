"""The doctor's report: versioned, keyed by OS build and chip, stored where the runtime and the validator
consult it; readable as text and HTML, and exportable as one JSON file to attach to a bug report."""

from __future__ import annotations

import datetime
import html
import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import config
from .machine import current_framework_is_fake, machine_key
from .probes import ProbeResult

__all__ = [
    "SCHEMA_VERSION",
    "DoctorReport",
    "load_findings",
    "load_report",
    "machine_key",
    "report_path",
    "settled_values",
]

#: Bumped whenever the meaning of a finding changes; older reports are then ignored. 2: probes run at the
#: known-good size on the framework directly; binding rules named declaration/alphabetical/alphabetical_ci.
SCHEMA_VERSION = 2


def report_path(key: dict[str, str]) -> Path:
    """Where the report for ``key`` lives under ``ANEKIT_CACHE_DIR``."""
    safe = "-".join("".join(ch if ch.isalnum() or ch in "._" else "_" for ch in key[k]) for k in sorted(key))
    return Path(config.get().cache_dir) / "doctor" / f"{safe}.json"


def _read(key: dict[str, str]) -> dict[str, Any] | None:
    try:
        data = json.loads(report_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_VERSION or data.get("key") != key:
        return None
    return data


def load_report(key: dict[str, str]) -> dict[str, Any] | None:
    """The stored findings for ``key`` when a current-schema report exists, else None."""
    data = _read(key)
    return None if data is None else data.get("findings")


def load_findings() -> tuple[dict[str, str], dict[str, Any]] | None:
    """(key, findings) saved for the framework this process uses, or None when doctor has not run here."""
    key = machine_key(current_framework_is_fake())
    findings = load_report(key)
    return None if findings is None else (key, findings)


def runtime_values(findings: dict[str, Any]) -> dict[str, Any]:
    """The :data:`anekit.config.DOCTOR_SETTLED` values that ``findings`` settle; a finding that is absent, not
    conclusive (the compile limit was not reached) or not a valid value settles nothing."""
    values: dict[str, Any] = {}
    alloc = findings.get("allocation")
    if alloc in ("uniform", "exact"):
        values["ane_surfaces"] = alloc
    minimum = (findings.get("min_surface") or {}).get("min_surface_bytes")
    if isinstance(minimum, int) and not isinstance(minimum, bool) and 0 <= minimum <= 1 << 30:
        values["ane_min_surface_bytes"] = minimum
    limit = findings.get("compile_limit")
    if isinstance(limit, dict) and limit.get("limit_reached"):
        ok = limit.get("compiles_ok")
        if isinstance(ok, int) and not isinstance(ok, bool) and ok >= 1:
            values["compile_limit"] = ok
    return values


_settled_lock = threading.Lock()
#: (report path, its mtime_ns) -> what :func:`settled_values` returned for it: the runtime asks on every ANE
#: compile, which then costs one stat instead of a JSON parse.
_settled_cache: dict[tuple[str, int], tuple[dict[str, Any], str] | None] = {}


def settled_values() -> tuple[dict[str, Any], str] | None:
    """(values, source) that this machine's saved doctor report settles for the runtime, or None.

    ``values`` holds the :data:`anekit.config.DOCTOR_SETTLED` fields the report settled (:func:`runtime_values`);
    ``source`` is ``"doctor report of <date>"``. Used by :func:`anekit.config.setting`.
    """
    key = machine_key(current_framework_is_fake())
    path = report_path(key)
    try:
        stamp = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return None
    with _settled_lock:
        if stamp in _settled_cache:
            return _settled_cache[stamp]
    data = _read(key)
    found = None
    if data is not None and isinstance(data.get("findings"), dict):
        values = runtime_values(data["findings"])
        date = data.get("date") or datetime.datetime.fromtimestamp(stamp[1] / 1e9, datetime.timezone.utc).isoformat(
            timespec="seconds"
        )
        found = (values, f"doctor report of {date}") if values else None
    with _settled_lock:
        _settled_cache.clear()  # one report per process matters; keep no stale versions
        _settled_cache[stamp] = found
    return found


def _short(value: Any, limit: int = 110) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: Runtime setting -> (environment variable, how to say its value).
_SETTING_TEXT = {
    "ane_surfaces": ("ANEKIT_ANE_SURFACES", "surfaces are allocated by the {} rule (the only one accepted here)"),
    "ane_min_surface_bytes": ("ANEKIT_ANE_MIN_SURFACE_BYTES", "surfaces are at least {} bytes"),
    "compile_limit": ("ANEKIT_COMPILE_LIMIT", "the compile limit is {} per process, measured here"),
}


def _applied_settings(findings: dict[str, Any], applied: bool) -> list[str]:
    """``now:`` for each settled runtime value the runtime takes from the saved report, ``set:`` where the
    user's own setting overrides it (or the report was not saved, so nothing is applied)."""
    lines = []
    cfg = config.get()
    for name, value in runtime_values(findings).items():
        var, text = _SETTING_TEXT[name]
        if name == "compile_limit":
            text += f" (its end: {findings['compile_limit'].get('ended_by')})"
        if name in cfg.sources:
            mine = getattr(cfg, name)
            if mine != value:
                lines.append(
                    f"set: {cfg.sources[name]} keeps {name}={mine}; this machine's finding: {text.format(value)} "
                    f"(unset {var} to use it)"
                )
            else:
                lines.append(f"now: {text.format(value)} (as {cfg.sources[name]} already says)")
        elif applied:
            lines.append(f"now: {text.format(value)} (from this report; {var} overrides it)")
        else:
            lines.append(f"set: {var}={value} (the report was not saved, so the runtime does not apply it)")
    return lines


def consequences(findings: dict[str, Any], applied: bool = True) -> list[str]:
    """What anekit does differently because of ``findings``, one line each: ``now:`` for what follows
    automatically (the runtime reads the saved report: :func:`anekit.config.setting`), ``set:`` for what needs
    the user (their own setting overrides a finding, or a program must be built differently).

    Args:
        findings: probe name -> finding.
        applied: whether the report is saved where the runtime reads it.
    """
    lines = []
    ops = findings.get("op_support")
    if isinstance(ops, dict):
        failed = sorted(ops.get("failed", {}))
        if failed:
            lines.append(f"now: mil.validate warns (ane-op-failed-here) when a program uses {', '.join(failed)}")
        else:
            lines.append(f"now: all {len(ops.get('passed', []))} ops tried compiled and matched the reference")
    orders = {side: findings.get(f"{side}_order") for side in ("input", "output")}
    if any(orders.values()):
        measured = ", ".join(f"{side}s by {rule} order" for side, rule in orders.items() if rule)
        lines.append(
            f"now: this framework binds {measured}; anekit submits canonical I/O names (in_000, out_000, ...) that "
            "sort the same under every rule, so your names bind right either way"
        )
    lines.extend(_applied_settings(findings, applied))
    dialects = findings.get("dialect")
    if isinstance(dialects, list) and "ios18" not in dialects and dialects:
        lines.append(f"set: build programs with opset {dialects[0]} (program(1.3) / ios18 text did not compile here)")
    if findings.get("fp32_io") is False:
        lines.append("set: keep program inputs and outputs fp16 and cast inside (fp32 I/O failed here)")
    return lines


@dataclass
class DoctorReport:
    """Everything one doctor run found.

    Attributes:
        key: OS build, chip and framework the probes ran on.
        probes: each probe's result, in the order they ran.
        anekit_version: the anekit that ran them.
        runtime: the backend's runtime information (framework path, execution paths, ...).
        device: chip, ``aneSubType`` and OS build, for bug reports.
        model_attributes: the loaded ``modelAttributes`` of the first probe program (None when the backend does
            not expose them).
        previous: the findings of the report this run replaced, or None on a first run.
        saved_to: where the report was saved, if it was.
        date: when the probes ran (UTC, ISO 8601); ``anekit.info()`` names the report by it.
    """

    key: dict[str, str]
    probes: list[ProbeResult]
    anekit_version: str
    schema: int = SCHEMA_VERSION
    runtime: dict[str, Any] = field(default_factory=dict)
    device: dict[str, Any] = field(default_factory=dict)
    model_attributes: Any = None
    previous: dict[str, Any] | None = None
    saved_to: str | None = None
    date: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    )

    @property
    def findings(self) -> dict[str, Any]:
        """Probe name -> finding, for probes that ran to a conclusion."""
        return {p.name: p.finding for p in self.probes if p.status == "ok"}

    @property
    def healthy(self) -> bool:
        return all(p.status in ("ok", "skipped") for p in self.probes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "anekit": self.anekit_version,
            "date": self.date,
            "key": self.key,
            "device": self.device,
            "runtime": self.runtime,
            "findings": self.findings,
            "model_attributes": self.model_attributes,
            "probes": [asdict(p) for p in self.probes],
        }

    def save(self, path: Path | None = None) -> Path:
        """Write the report (default: where the runtime consults it for this machine); returns the path."""
        target = Path(path) if path is not None else report_path(self.key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        if path is None:
            self.saved_to = str(target)
        return target

    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Finding -> (before, now) for findings that differ from the replaced report."""
        if self.previous is None:
            return {}
        now = json.loads(json.dumps(self.findings, default=str))
        names = sorted(set(now) | set(self.previous))
        return {n: (self.previous.get(n), now.get(n)) for n in names if self.previous.get(n) != now.get(n)}

    def summary(self) -> str:
        """The first-run message: what was settled and what anekit now does differently."""
        k = self.key
        head = "first doctor run on this machine" if self.previous is None else "doctor run (replaces the saved report)"
        lines = [f"{head}: {k['chip']}, {k['os_build']}, framework {k['framework']}"]
        problems = [p for p in self.probes if p.status not in ("ok", "skipped")]
        lines.append(f"settled {len(self.findings)} of {len(self.probes)} questions" + (
            f"; unsettled: {', '.join(f'{p.name} ({p.status})' for p in problems)}" if problems else ""))
        for name, value in self.findings.items():
            if name == "op_support":  # the counts; the failed ops by name
                value = {"passed": len(value["passed"]), "failed": sorted(value["failed"])} | {
                    "untested": len(value["untested"])
                }
            lines.append(f"  {name}: {_short(value)}")
        for name, (before, now) in self.changes().items():
            lines.append(f"  changed since the last run: {name}: {_short(before, 50)} -> {_short(now, 50)}")
        todo = consequences(self.findings, applied=self.saved_to is not None)
        if todo:
            lines.append("what anekit does with this:")
            lines.extend(f"  - {line}" for line in todo)
        if self.saved_to:
            lines.append(f"saved to {self.saved_to}")
        return "\n".join(lines)

    def format(self) -> str:
        """Every probe with its evidence, as text."""
        k = self.key
        lines = [f"anekit doctor ({k['framework']} on {k['chip']}, {k['os_build']}), anekit {self.anekit_version}"]
        for p in self.probes:
            lines.append(f"  [{p.status:7}] {p.name:16} {p.question}")
            lines.append(f"            finding: {_short(p.finding)}   ({p.seconds:.2f} s)")
            for case, outcome in p.evidence.items():
                lines.append(f"              {case}: {_short(outcome)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        k = self.key
        status = "healthy" if self.healthy else "unhealthy"
        return (
            f"<DoctorReport {k['framework']} on {k['chip']} ({k['os_build']}): {status}, "
            f"{len(self.findings)}/{len(self.probes)} settled>"
        )

    def _repr_html_(self) -> str:
        k = self.key
        rows = []
        for p in self.probes:
            evidence = "<br>".join(f"{html.escape(str(c))}: {html.escape(_short(o))}" for c, o in p.evidence.items())
            colour = {"ok": "#2a7", "skipped": "#888"}.get(p.status, "#c33")
            rows.append(
                f"<tr><td><b>{html.escape(p.name)}</b><br><small>{html.escape(p.question)}</small></td>"
                f"<td style='color:{colour}'>{html.escape(p.status)}</td>"
                f"<td><code>{html.escape(_short(p.finding))}</code></td>"
                f"<td><small>{evidence}</small></td><td>{p.seconds:.2f}&nbsp;s</td></tr>"
            )
        return (
            f"<div><b>anekit doctor</b>: {html.escape(k['framework'])} on {html.escape(k['chip'])}, "
            f"{html.escape(k['os_build'])} (anekit {html.escape(self.anekit_version)})"
            "<table><tr><th>probe</th><th>status</th><th>finding</th><th>evidence</th><th>time</th></tr>"
            + "".join(rows)
            + "</table></div>"
        )
