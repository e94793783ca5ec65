"""What the framework says about the Neural Engine itself: ``_ANEDeviceInfo``'s class methods.

The selectors and their return types are those of the decompiled ``_ANEDeviceInfo`` (iOS 26.1,
EthanArbuckle/iPhone18-3_26.1_23B85_Restore, AppleNeuralEngine.framework/_ANEDeviceInfo.mm):
``+ (id)aneSubType`` (``h16`` on M4 and base M5, ``h17`` on M5 Max, maderix/ANE#50),
``+ (id)aneArchitectureType``, ``+ (unsigned)numANEs``, ``+ (unsigned)numANECores``, ``+ (BOOL)hasANE``,
``+ (BOOL)isVirtualMachine``. They are read through the Objective-C runtime with ctypes, after the backend
has loaded the framework. Only on macOS: the fake framework does not define the class, and GNUstep's runtime
has no ``objc_msgSend``. This path has not run on a Mac yet; every failure is reported, never raised.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

from . import machine

__all__ = ["ane_device_info"]

#: selector -> kind of return value (from the decompiled interface above).
_SELECTORS = {
    "aneSubType": "string",
    "aneArchitectureType": "string",
    "numANEs": "unsigned",
    "numANECores": "unsigned",
    "hasANE": "bool",
    "isVirtualMachine": "bool",
}

_RESTYPES = {"string": ctypes.c_void_p, "unsigned": ctypes.c_uint, "bool": ctypes.c_bool}


def _message(objc: Any, restype: Any) -> Any:
    """``objc_msgSend`` cast to ``restype (id, SEL)`` (arm64 needs the exact prototype at each call site)."""
    address = ctypes.cast(objc.objc_msgSend, ctypes.c_void_p).value
    return ctypes.CFUNCTYPE(restype, ctypes.c_void_p, ctypes.c_void_p)(address)


def ane_device_info() -> dict[str, Any]:
    """``_ANEDeviceInfo``'s answers (keys as the selectors), or ``{"error": why}`` when they cannot be read."""
    if machine.host_system() != "Darwin":
        return {"error": "_ANEDeviceInfo is read only on macOS (the fake framework does not define it)"}
    try:
        objc = ctypes.CDLL(ctypes.util.find_library("objc") or "/usr/lib/libobjc.A.dylib")
        objc.objc_getClass.restype = ctypes.c_void_p
        objc.objc_getClass.argtypes = [ctypes.c_char_p]
        objc.sel_registerName.restype = ctypes.c_void_p
        objc.sel_registerName.argtypes = [ctypes.c_char_p]
        objc.object_getClass.restype = ctypes.c_void_p
        objc.object_getClass.argtypes = [ctypes.c_void_p]
        objc.class_respondsToSelector.restype = ctypes.c_bool
        objc.class_respondsToSelector.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    except (OSError, AttributeError) as exc:
        return {"error": f"the Objective-C runtime is not loadable: {exc}"}
    cls = objc.objc_getClass(b"_ANEDeviceInfo")
    if not cls:
        return {"error": "_ANEDeviceInfo is not defined (AppleNeuralEngine.framework not loaded?)"}
    meta = objc.object_getClass(cls)  # class methods live on the metaclass
    utf8 = _message(objc, ctypes.c_char_p)
    utf8_sel = objc.sel_registerName(b"UTF8String")
    info: dict[str, Any] = {}
    for name, kind in _SELECTORS.items():
        sel = objc.sel_registerName(name.encode())
        if not objc.class_respondsToSelector(meta, sel):
            info[name] = None
            continue
        value = _message(objc, _RESTYPES[kind])(cls, sel)
        if kind == "string":
            raw = utf8(value, utf8_sel) if value else None
            value = raw.decode("utf-8", "replace") if raw else None
        info[name] = value
    return info
