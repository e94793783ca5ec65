"""Which machine this is: the key doctor reports are saved under, computed once per process.

The key is consulted on every ANE compile (the runtime looks up the settled findings), so it must not cost a
subprocess each time: ``sw_vers`` and ``sysctl`` run at most once per process (:func:`machine_key` caches).
"""

from __future__ import annotations

import functools
import platform
import subprocess

__all__ = ["current_framework_is_fake", "host_system", "machine_key"]


def host_system() -> str:
    """``platform.system()``, behind one name so tests can pretend to be a Mac."""
    return platform.system()


def _command(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


@functools.cache
def _host() -> tuple[str, str]:
    """(OS build, chip) of this host; one ``sw_vers`` and one ``sysctl`` per process on macOS."""
    if host_system() == "Darwin":
        os_build = _command(["sw_vers", "-buildVersion"]) or platform.mac_ver()[0]
        chip = _command(["sysctl", "-n", "machdep.cpu.brand_string"]) or platform.machine()
        version = platform.mac_ver()[0]
        return (f"macOS {version} ({os_build})" if version else os_build), chip
    return f"{platform.system()}-{platform.release()}", platform.machine()


def machine_key(fake: bool) -> dict[str, str]:
    """OS build and chip of this machine and which framework was probed (macOS: ``sw_vers -buildVersion`` and
    the CPU brand string). Cached: the host is asked once per process."""
    os_build, chip = _host()
    return {"os_build": os_build, "chip": chip, "framework": "fake" if fake else "AppleNeuralEngine"}


def current_framework_is_fake() -> bool:
    """Whether findings for this process should come from the fake's report: the fake is loaded, or no
    framework is loaded and this is not a Mac (the only framework Linux can load is the fake)."""
    from .. import _core

    if _core.ane.built():
        info = _core.ane.runtime_info()
        if info.get("available") and info.get("framework_path"):  # a failed dlopen leaves its path behind
            return bool(info.get("is_fake"))
    return host_system() != "Darwin"
