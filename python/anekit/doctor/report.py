"""The doctor's report: versioned, keyed by OS build and chip, stored where the runtime and the validator
consult it; readable as text and HTML, and exportable as one JSON file to attach to a bug report."""

from __future__ import annotations

import html
import json
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


def _short(value: Any, limit: int = 110) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def consequences(findings: dict[str, Any]) -> list[str]:
    """What anekit does differently because of ``findings``, one line each: ``now:`` for what follows
    automatically, ``set:`` for a setting this machine needs that differs from the current configuration."""
    from .. import budget

    cfg = config.get()
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
    alloc = findings.get("allocation")
    if alloc == "exact" and cfg.ane_surfaces == "uniform":
        lines.append("set: ANEKIT_ANE_SURFACES=exact (this machine refuses one shared allocation size per side)")
    elif alloc == "uniform" and cfg.ane_surfaces == "exact":
        lines.append("set: ANEKIT_ANE_SURFACES=uniform (this machine needs one allocation size per side)")
    elif alloc is not None:
        lines.append(f"now: anekit's surface layout ({cfg.ane_surfaces}) is accepted here")
    minimum = (findings.get("min_surface") or {}).get("min_surface_bytes")
    if minimum is not None and minimum > cfg.ane_min_surface_bytes:
        lines.append(f"set: ANEKIT_ANE_MIN_SURFACE_BYTES={minimum} (smaller surfaces fail here)")
    dialects = findings.get("dialect")
    if isinstance(dialects, list) and "ios18" not in dialects and dialects:
        lines.append(f"set: build programs with opset {dialects[0]} (program(1.3) / ios18 text did not compile here)")
    if findings.get("fp32_io") is False:
        lines.append("set: keep program inputs and outputs fp16 and cast inside (fp32 I/O failed here)")
    limit = findings.get("compile_limit")
    if isinstance(limit, dict) and limit.get("limit_reached") and limit["compiles_ok"] < budget.limit():
        lines.append(
            f"set: ANEKIT_COMPILE_LIMIT={limit['compiles_ok']} (the compile limit here ended by "
            f"{limit.get('ended_by')} after {limit['compiles_ok']} compiles; anekit assumes {budget.limit()})"
        )
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
        todo = consequences(self.findings)
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
