"""``anekit.info()``: what this installation can do, and why not when it cannot."""

from __future__ import annotations

import json
import platform
import sys
from typing import Any

from . import _core, config

__all__ = ["ane_status", "format_info", "info"]


def ane_status(framework_path: str | None = None) -> tuple[bool, str]:
    """Whether the ANE backend is usable here, and if not, why.

    Args:
        framework_path: framework binary to try (default: the configured ``ANEKIT_ANE_FRAMEWORK``).

    Returns:
        ``(usable, reason)``; ``reason`` is empty when usable.
    """
    path = framework_path or config.get().ane_framework
    # When the backend was not built, the stub's reason says so (and how to build it).
    usable, why = _core.ane.initialize(path)
    if not usable and sys.platform != "darwin" and not _core.ane.built():
        why = f"not macOS ({platform.system()}): {why}"
    return bool(usable), str(why)


def info() -> dict[str, Any]:
    """A dictionary describing the platform and the backends.

    Keys: ``anekit``, ``platform``, ``machine``, ``python``, ``numpy``, ``ane_built``, ``ane_usable``,
    ``ane_reason`` (why the ANE is not usable; empty when it is), ``ane_framework``, ``ane_fake`` (the bundled
    fake framework is in use), ``default_backend``,
    ``fp16_simd``, ``surface_storage``, ``compile_count``, ``budget``, ``settings``.

    ``settings`` maps each value ``anekit doctor`` settles per machine (``ane_surfaces``,
    ``ane_min_surface_bytes``, ``compile_limit``) to ``{"value": ..., "source": ...}``, the source being
    ``"env ANEKIT_..."``, ``"config.override"``, ``"doctor report of <date>"`` or ``"default"``
    (:func:`anekit.config.setting`).

    ``budget`` is :func:`anekit.budget.report` for the default backend, as a dict: ``used`` compiles spent in
    this process (cache hits are free); ``applies``: whether a per-process compile limit applies to the default
    backend (on the ANE it does; on the reference executor only while one is simulated); ``limit``,
    ``safety_margin``, ``observed_limit`` (set when the compiler failed below the configured limit) and
    ``allowed`` (what this process may spend); ``remaining`` (None when no limit applies: nothing is ever
    refused); ``in_flight`` compiles running now; ``policy`` applied past the limit.
    """
    import numpy as np

    from . import __version__, budget

    cfg = config.get()
    usable, why = ane_status(cfg.ane_framework)
    probe = _core.Surface((1, 1, 1, 1))
    return {
        "anekit": __version__,
        "platform": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "ane_built": bool(_core.ane.built()),
        "ane_usable": usable,
        "ane_reason": why,
        "ane_framework": cfg.ane_framework,
        # The fake framework (anekit.testing.fake_ane) is usable but is not a Neural Engine: say so.
        "ane_fake": bool(usable and _core.ane.built() and _core.ane.runtime_info().get("is_fake")),
        "default_backend": cfg.backend or ("ane" if usable else "reference"),
        "fp16_simd": _core.fp16_path(),
        "surface_storage": probe.storage,
        "compile_count": int(_core.compile_count()),
        "budget": budget.report(cfg.backend or ("ane" if usable else "reference")).as_dict(),
        "settings": {
            name: {"value": found.value, "source": found.source}
            for name, found in ((name, config.setting(name)) for name in config.DOCTOR_SETTLED)
        },
    }


def _shown(value: Any) -> str:
    """A nested value of :func:`info`: a setting as ``value (source)``."""
    if isinstance(value, dict) and set(value) == {"value", "source"}:
        return f"{value['value']} ({value['source']})"
    return str(value)


def format_info(data: dict[str, Any], as_json: bool = False) -> str:
    """Render :func:`info` as an aligned two-column table (or JSON)."""
    if as_json:
        return json.dumps(data, indent=2, sort_keys=False)
    width = max(len(k) for k in data)
    lines = []
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={_shown(v)}" for k, v in value.items())
        shown = "-" if value == "" else ("yes" if value is True else "no" if value is False else str(value))
        lines.append(f"{key.ljust(width)}  {shown}")
    return "\n".join(lines)
