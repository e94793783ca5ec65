"""The machine a result file describes: chip, ``aneSubType``, OS build, anekit version, doctor findings."""

from __future__ import annotations

import os
import platform
import re
import sys
from typing import Any

from .. import _core, config

__all__ = ["describe", "nominal_fp16_tflops"]

#: Apple's published Neural Engine throughput per chip family, as fp16 TFLOPS. M1 11, M2 15.8 and M3 18 TOPS
#: are Apple's launch figures; M4's "38 TOPS" counts INT8, about 19 TFLOPS fp16 (reference-numbers.md §5.2).
#: The Ultra parts join two dies (two Neural Engines). Chips not listed (M5 ...) have no nominal figure here, so
#: no "% of nominal peak" is printed for them rather than a guess.
_NOMINAL_FP16_TFLOPS: dict[str, float] = {"M1": 11.0, "M2": 15.8, "M3": 18.0, "M4": 19.0}


def nominal_fp16_tflops(chip: str) -> float | None:
    """Apple's nominal fp16 peak for a chip brand string such as ``"Apple M4 Max"``; None when unknown."""
    if not isinstance(chip, str):
        raise TypeError(f"nominal_fp16_tflops: chip must be a string, got {type(chip).__name__}")
    m = re.search(r"\bM(\d+)\b(\s+Ultra)?", chip)
    if m is None:
        return None
    base = _NOMINAL_FP16_TFLOPS.get(f"M{m.group(1)}")
    if base is None:
        return None
    return base * (2 if m.group(2) else 1)


def _ane_subtype() -> str | None:
    """``+[_ANEDeviceInfo aneSubType]`` (e.g. ``"h16"``) on macOS, else None.

    The class method returns an NSString (decompiled ``_ANEDeviceInfo.m``, AppleNeuralEngine.framework in
    EthanArbuckle/iPhone18-3_26.1_23B85_Restore); it is read through the Objective-C runtime with ctypes so no
    native code is needed for a metadata field. Any failure gives None: a missing field, never a wrong one.
    """
    if sys.platform != "darwin":
        return None
    try:
        import ctypes

        objc = ctypes.CDLL("/usr/lib/libobjc.A.dylib")
        ctypes.CDLL(config.get().ane_framework)  # defines the class (a no-op when the backend loaded it already)
        objc.objc_getClass.restype = ctypes.c_void_p
        objc.objc_getClass.argtypes = [ctypes.c_char_p]
        objc.sel_registerName.restype = ctypes.c_void_p
        objc.sel_registerName.argtypes = [ctypes.c_char_p]
        send_id = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(("objc_msgSend", objc))
        send_str = ctypes.CFUNCTYPE(ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p)(("objc_msgSend", objc))
        cls = objc.objc_getClass(b"_ANEDeviceInfo")
        if not cls:
            return None
        value = send_id(cls, objc.sel_registerName(b"aneSubType"))
        if not value:
            return None
        raw = send_str(value, objc.sel_registerName(b"UTF8String"))
        return raw.decode("utf-8") if raw else None
    except (OSError, AttributeError, ValueError, UnicodeDecodeError):
        return None


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(*, fake: bool = False) -> dict[str, Any]:
    """What a result file records about the machine.

    Keys: ``system``, ``chip``, ``os_build`` (macOS: ``sw_vers -buildVersion``), ``ane_subtype``, ``anekit``,
    ``doctor`` (the stored doctor findings for this OS build and chip, which the runtime acts on; None when
    the doctor has not run), ``cpu``, ``cores``, ``python``, ``numpy``, ``fp16_simd``, ``nominal_fp16_tflops``,
    ``settings`` (the ``ANEKIT_*`` configuration in force).

    Args:
        fake: the figures come from the bundled fake framework (the doctor's report key says so).
    """
    import numpy as np

    from .. import __version__
    from ..doctor.report import load_report, machine_key

    key = machine_key(fake)
    cfg = config.get()
    return {
        "system": platform.system(),
        "chip": key["chip"],
        "os_build": key["os_build"],
        "ane_subtype": _ane_subtype(),
        "anekit": __version__,
        "doctor": load_report(key),
        "cpu": _cpu(),
        "cores": os.cpu_count() or 0,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "fp16_simd": _core.fp16_path(),
        "nominal_fp16_tflops": nominal_fp16_tflops(key["chip"]),
        "settings": {
            "compile_limit": cfg.compile_limit,
            "budget_policy": cfg.budget_policy,
            "compile_safety_margin": cfg.compile_safety_margin,
            "cache_size": cfg.cache_size,
            "ane_framework": cfg.ane_framework,
        },
    }
