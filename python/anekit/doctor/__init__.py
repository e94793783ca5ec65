"""``anekit.doctor()``: settle, on this machine, the facts about the ANE that public sources disagree on.

On a Mac the probes run on the Neural Engine itself; elsewhere they run against the bundled fake framework
(:func:`anekit.testing.fake_ane`), which is how the probe logic is tested. The report is saved under
``ANEKIT_CACHE_DIR/doctor/`` keyed by OS build and chip, where the runtime and :func:`anekit.mil.validate`
consult it.

The package is callable: ``anekit.doctor()`` is :func:`run` (``import anekit.doctor`` and
``anekit.doctor.run`` keep working).
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .. import _core
from .. import progress as _progress
from ..errors import AneUnavailableError
from .machine import host_system, machine_key
from .probes import PROBES, ProbeResult, Settled, run_probe
from .report import DoctorReport, load_findings, load_report

__all__ = ["PROBES", "DoctorReport", "ProbeResult", "load_findings", "load_report", "machine_key", "run"]


@contextlib.contextmanager
def _framework(use_fake: bool | None, fake: Mapping[str, Any] | None) -> Iterator[bool]:
    """Select the framework to probe; yields whether it is the fake."""
    want_fake = host_system() != "Darwin" if use_fake is None else use_fake
    if want_fake:
        from ..testing import fake_ane

        with fake_ane(**dict(fake or {"mode": "reference"})):
            yield True
        return
    from .._info import ane_status

    usable, why = ane_status()
    if not usable:
        raise AneUnavailableError(f"doctor: the ANE backend is not usable here: {why}")
    yield False


@contextlib.contextmanager
def _step(label: str, show: Callable[[str], None] | bool | None) -> Iterator[None]:
    """One doctor step: announced to ``show`` when the caller gave a callable, silent for False, else shown by
    :mod:`anekit.progress` (a status line with the elapsed time when someone is watching and the step takes
    over a second; ``ANEKIT_PROGRESS`` decides, as everywhere else in anekit)."""
    if callable(show):
        show(label)
        yield
    elif show is False:
        yield
    else:
        with _progress.progress(f"anekit doctor: {label}"):
            yield


def _device(key: dict[str, str]) -> dict[str, Any]:
    """Chip, OS build and ``_ANEDeviceInfo``'s answers (``aneSubType``, core counts, ...) for the report."""
    from .device_info import ane_device_info

    return {"chip": key["chip"], "os_build": key["os_build"], **ane_device_info()}


def run(
    *,
    ops: bool | Iterable[str] = True,
    budget: bool = False,
    save: bool = True,
    use_fake: bool | None = None,
    fake: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | bool | None = None,
) -> DoctorReport:
    """Run the on-device probes and return (and by default save) the report.

    Args:
        ops: build the op support matrix (every registered op, or the given op names) through the recycling
            worker pool; False skips it.
        budget: also measure the compile limit, in a child process (slow: spends a whole process's budget).
        save: write the report where the runtime and the validator consult it.
        use_fake: force the fake framework (default: the fake everywhere but macOS).
        fake: :func:`anekit.testing.fake_ane` arguments for the fake (its worker processes get the same).
        progress: called with a message before each probe; None: :mod:`anekit.progress` shows long steps
            (where someone is watching, per ``ANEKIT_PROGRESS``); False: never.

    Raises:
        AneUnavailableError: no framework to probe (on Linux: the build has no fake).
        ValueError: ``fake`` given without the fake, or an unknown op name.
    """
    from .. import __version__

    if fake is not None and use_fake is False:
        raise ValueError("doctor: fake=... configures the fake framework; it cannot be combined with use_fake=False")
    if not isinstance(ops, bool):
        from ..mil.ops import OP_REGISTRY

        ops = list(ops)
        unknown = [op for op in ops if op not in OP_REGISTRY]
        if unknown or not ops:
            raise ValueError(f"doctor: ops must name registered MIL ops, got unknown {unknown or 'none at all'}")
    say = progress if callable(progress) else None  # the op matrix reports each op to a callable only
    fake_args = dict(fake or {"mode": "reference"})
    settled = Settled()
    results: list[ProbeResult] = []
    with _framework(use_fake, fake_args) as is_fake:
        key = machine_key(is_fake)
        previous = load_report(key)
        steps = list(PROBES.items())
        total = len(steps) + (ops is not False) + bool(budget)
        for i, (name, probe) in enumerate(steps, start=1):
            with _step(f"[{i}/{total}] {name}", progress):
                results.append(run_probe(name, lambda probe=probe: probe(settled)))
        if ops is not False:
            with _step(f"[{len(results) + 1}/{total}] op support matrix", progress):
                results.append(run_probe("op_support", lambda: _op_probe(ops, is_fake, fake_args, settled, say)))
        if budget:
            from .compile_limit import probe_compile_limit

            child_fake = fake_args if is_fake else None
            minimum = settled.allocation.minimum
            with _step(f"[{total}/{total}] compile limit (child process)", progress):
                results.append(
                    run_probe("compile_limit", lambda: probe_compile_limit(fake=child_fake, minimum=minimum))
                )
        info = _core.ane.runtime_info()
        device = _device(key)  # while the framework is loaded: _ANEDeviceInfo lives in it
    if say:
        say("done\n")
    runtime = {k: info.get(k) for k in ("framework_path", "is_fake", "execution_paths")}
    report = DoctorReport(
        key=key,
        probes=results,
        anekit_version=__version__,
        runtime=runtime,
        device=device,
        model_attributes=settled.model_attributes,
        previous=previous,
    )
    if save:
        report.save()
    return report


def _op_probe(
    ops: bool | list[str],
    is_fake: bool,
    fake_args: dict[str, Any],
    settled: Settled,
    say: Callable[[str], None] | None,
) -> ProbeResult:
    from .. import config
    from .op_support import op_support_matrix

    result = ProbeResult("op_support", "which MIL ops compile and match the reference here")
    context = ("anekit.testing", "fake_ane", fake_args) if is_fake else None
    with config.override(**settled.runtime_settings()):  # the workers lay out surfaces as settled
        matrix = op_support_matrix(None if ops is True else ops, worker_context=context, progress=say)
    result.finding = matrix
    result.evidence = {
        "surfaces": settled.allocation.describe(),
        "failed": matrix["failed"],
        "untested": matrix["untested"],
        "workers_started": matrix["workers_started"],
    }
    return result


class _CallableModule(types.ModuleType):
    """This package's module type: ``anekit.doctor(...)`` is :func:`run` (the package stays a module)."""

    def __call__(self, **kwargs: Any) -> DoctorReport:
        return run(**kwargs)


sys.modules[__name__].__class__ = _CallableModule
