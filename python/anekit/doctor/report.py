"""The doctor's report: versioned, keyed by OS build and chip, stored where the runtime can consult it."""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import config
from .probes import ProbeResult

__all__ = ["SCHEMA_VERSION", "DoctorReport", "load_report", "machine_key", "report_path"]

#: Bumped whenever the meaning of a finding changes; older reports are then ignored.
SCHEMA_VERSION = 1


def _command(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_key(fake: bool) -> dict[str, str]:
    """OS build and chip of this machine (macOS: ``sw_vers -buildVersion`` and the CPU brand string)."""
    if platform.system() == "Darwin":
        os_build = _command(["sw_vers", "-buildVersion"]) or platform.mac_ver()[0]
        chip = _command(["sysctl", "-n", "machdep.cpu.brand_string"]) or platform.machine()
    else:
        os_build = f"{platform.system()}-{platform.release()}"
        chip = platform.machine()
    return {"os_build": os_build, "chip": chip, "framework": "fake" if fake else "AppleNeuralEngine"}


def report_path(key: dict[str, str]) -> Path:
    """Where the report for ``key`` lives under ``ANEKIT_CACHE_DIR``."""
    safe = "-".join("".join(ch if ch.isalnum() or ch in "._" else "_" for ch in key[k]) for k in sorted(key))
    return Path(config.get().cache_dir) / "doctor" / f"{safe}.json"


@dataclass
class DoctorReport:
    """Everything one doctor run found."""

    key: dict[str, str]
    probes: list[ProbeResult]
    anekit_version: str
    schema: int = SCHEMA_VERSION
    runtime: dict[str, Any] = field(default_factory=dict)

    @property
    def findings(self) -> dict[str, Any]:
        """Probe name -> finding, for probes that ran to a conclusion."""
        return {p.name: p.finding for p in self.probes if p.status == "ok"}

    @property
    def healthy(self) -> bool:
        return all(p.status == "ok" for p in self.probes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "anekit": self.anekit_version,
            "key": self.key,
            "runtime": self.runtime,
            "findings": self.findings,
            "probes": [asdict(p) for p in self.probes],
        }

    def save(self, path: Path | None = None) -> Path:
        target = path or report_path(self.key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        return target

    def format(self) -> str:
        k = self.key
        lines = [f"anekit doctor ({k['framework']} on {k['chip']}, {k['os_build']})"]
        for p in self.probes:
            lines.append(f"  [{p.status:6}] {p.name:16} {p.question}")
            lines.append(f"           finding: {p.finding!r}   ({p.seconds:.2f} s)")
            for case, outcome in p.evidence.items():
                lines.append(f"             {case}: {outcome}")
        return "\n".join(lines)


def load_report(key: dict[str, str]) -> dict[str, Any] | None:
    """The stored findings for ``key`` when a current-schema report exists, else None."""
    path = report_path(key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("schema") != SCHEMA_VERSION or data.get("key") != key:
        return None
    return data.get("findings")
