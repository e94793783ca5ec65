"""Zero-copy, lock-scoped access to a Surface's memory: ``with surface.view(write=True) as a:``.

Inside the block the surface is locked (read-write, or read-only with ``write=False``) and ``a`` is a numpy
array of the surface's shape and dtype that aliases the surface memory: writes land directly in the buffer the
ANE reads, with no copy.

After the block the surface is unlocked and the array is *retired*:

* the array (and every view or slice taken from it inside the block) is marked read-only, so no write can
  reach the surface outside a lock;
* indexing it, printing it, or passing it to a numpy ufunc or function raises ``RuntimeError`` naming the
  surface, so accidental use is caught;
* the memory itself stays valid for as long as any such array exists (the array keeps the Surface alive), so
  even a raw read through a bypass such as ``np.asarray(a)`` or the buffer protocol never touches freed memory
  and never crashes - it only reads data that is no longer synchronised with the device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SurfaceArray", "SurfaceView"]


class _ViewState:
    __slots__ = ("surface_repr", "valid")

    def __init__(self, surface_repr: str) -> None:
        self.valid = True
        self.surface_repr = surface_repr


class SurfaceArray(np.ndarray):
    """An ndarray aliasing locked surface memory; unusable once its ``with`` block has ended."""

    _anekit_state: _ViewState | None

    def __array_finalize__(self, obj: Any) -> None:
        self._anekit_state = getattr(obj, "_anekit_state", None)

    def _check(self) -> None:
        state = self._anekit_state
        if state is not None and not state.valid:
            raise RuntimeError(
                f"this array was a zero-copy view of {state.surface_repr} and its 'with surface.view()' block "
                "has ended; the surface is unlocked, so take a new view or use surface.read()"
            )

    def __getitem__(self, key: Any) -> Any:
        self._check()
        return super().__getitem__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._check()
        super().__setitem__(key, value)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        for x in (*inputs, *kwargs.get("out", ())):
            if isinstance(x, SurfaceArray):
                x._check()
        args = [x.view(np.ndarray) if isinstance(x, SurfaceArray) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(x.view(np.ndarray) if isinstance(x, SurfaceArray) else x for x in kwargs["out"])
        return getattr(ufunc, method)(*args, **kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        self._check()
        return super().__array_function__(func, types, args, kwargs)

    def __repr__(self) -> str:
        self._check()
        return repr(self.view(np.ndarray))

    def __str__(self) -> str:
        self._check()
        return str(self.view(np.ndarray))


class SurfaceView:
    """Context manager returned by ``Surface.view()``; see the module docstring for the contract."""

    __slots__ = ("_array", "_surface", "_write")

    def __init__(self, surface: Any, write: bool = True) -> None:
        if not isinstance(write, bool):
            raise TypeError(f"Surface.view: write must be a bool, got {write!r}")
        self._surface = surface
        self._write = write
        self._array: SurfaceArray | None = None

    def __enter__(self) -> SurfaceArray:
        if self._array is not None:
            raise RuntimeError(f"this view of {self._surface!r} is already open; a view can be entered once")
        raw = self._surface._lock_array(self._write)
        arr = raw.view(SurfaceArray)
        arr._anekit_state = _ViewState(repr(self._surface))
        self._array = arr
        return arr

    def __exit__(self, *exc: object) -> None:
        arr = self._array
        if arr is None:
            return
        state = arr._anekit_state
        if state is not None:
            state.valid = False
        arr.flags.writeable = False
        self._surface._unlock(self._write)
