"""``anekit.doctor()``: settle, on this machine, the facts about the ANE that public sources disagree on.

On a Mac the probes run on the Neural Engine itself; elsewhere they run against the bundled fake framework
(:func:`anekit.testing.fake_ane`), which is how the probe logic is tested. The report is saved under
``ANEKIT_CACHE_DIR/doctor/`` keyed by OS build and chip, where the runtime consults it.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator

from .. import _core
from ..errors import AneUnavailableError
from .probes import PROBES, ProbeResult, probe_compile_budget, run_probe
from .report import DoctorReport, load_report, machine_key

__all__ = ["PROBES", "DoctorReport", "ProbeResult", "doctor", "load_report", "machine_key"]


@contextlib.contextmanager
def _framework(use_fake: bool | None) -> Iterator[bool]:
    """Select the framework to probe; yields whether it is the fake."""
    fake = platform.system() != "Darwin" if use_fake is None else use_fake
    if fake:
        from ..testing import fake_ane

        with fake_ane(mode="reference"):
            yield True
        return
    from .._info import ane_status

    usable, why = ane_status()
    if not usable:
        raise AneUnavailableError(f"doctor: the ANE backend is not usable here: {why}")
    yield False


def doctor(*, budget: bool = False, save: bool = True, use_fake: bool | None = None) -> DoctorReport:
    """Run the on-device probes and return (and by default save) the report.

    Args:
        budget: also measure how many compiles the process gets (spends this process's whole budget).
        save: write the report where the runtime consults it.
        use_fake: force the fake framework (default: the fake everywhere but macOS).

    Raises:
        AneUnavailableError: no framework to probe (on Linux: the build has no fake).
    """
    from .. import __version__

    with _framework(use_fake) as fake:
        results = [run_probe(name, fn) for name, fn in PROBES.items()]
        if budget:
            results.append(run_probe("compile_budget", probe_compile_budget))
        info = _core.ane.runtime_info()
    runtime = {k: info.get(k) for k in ("framework_path", "is_fake", "execution_paths")}
    report = DoctorReport(key=machine_key(fake), probes=results, anekit_version=__version__, runtime=runtime)
    if save:
        report.save()
    return report
