"""Shared-memory tensors for the recycling pool: parent-side surfaces and their worker-side mappings.

A pool-backed :class:`~anekit.runtime.kernel.Kernel` lives in the parent while its program runs in a worker
process, so its I/O surfaces must be memory both processes see. :class:`SharedSurface` is a POSIX shared-memory
segment laid out exactly like an :class:`anekit.Surface` (``[1, C, 1, S]`` channel-major, fp16 or fp32, no
padding) with the same ``write``/``read``/``view`` API, so code written against ``kernel.inputs[name]`` works
unchanged and tensors cross the process boundary with no pickling. (An ``anekit.Surface`` cannot adopt foreign
memory in this build; on macOS the native alternative would be sharing the IOSurface itself by mach port.)

The parent creates segments with :class:`multiprocessing.shared_memory.SharedMemory`, whose resource tracker
unlinks them even if the parent is killed; the pool unlinks them when a kernel closes and when it closes. The
worker maps them with :func:`attach`, which deliberately bypasses ``SharedMemory`` so the worker never registers
(and never unlinks) segments it does not own.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import secrets
import threading
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from .._surface_view import SurfaceView
from .host_arrays import fit_shape

__all__ = ["SEGMENT_PREFIX", "SegmentStore", "SharedSurface", "attach", "np_dtype"]

#: Every segment anekit creates starts with this, followed by the creating process id (leak checks use it).
SEGMENT_PREFIX = "anekit-"

_DTYPES = {"fp16": np.dtype(np.float16), "fp32": np.dtype(np.float32)}


def np_dtype(dtype: str) -> np.dtype:
    """numpy dtype of a surface dtype name (``"fp16"`` or ``"fp32"``).

    Raises:
        ValueError: another name.
    """
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise ValueError(f"surface dtype must be 'fp16' or 'fp32', got {dtype!r}") from None


class SharedSurface:
    """An I/O tensor in POSIX shared memory with :class:`anekit.Surface`'s API (see the module docstring).

    Attributes:
        name: the segment name (without the leading slash) a worker attaches to.
        shape: the tensor shape.
        dtype: ``"fp16"`` or ``"fp32"``.
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        dtype: str = "fp16",
        *,
        tag: str = "",
        segment: shared_memory.SharedMemory | None = None,
    ) -> None:
        self.shape = tuple(int(d) for d in shape)
        if not self.shape or any(d < 1 for d in self.shape):
            raise ValueError(f"SharedSurface: shape must be non-empty with positive dims, got {shape!r}")
        self.dtype = dtype
        self._np = np_dtype(dtype)
        nbytes = math.prod(self.shape) * self._np.itemsize
        if segment is None:
            # macOS caps shm names at 31 bytes (PSHMNAMLEN) including the slash: prefix+pid+tag+10 hex is short.
            name = f"{SEGMENT_PREFIX}{os.getpid()}-{tag}{secrets.token_hex(5)}"
            segment = shared_memory.SharedMemory(name=name, create=True, size=nbytes)
        elif segment.size < nbytes:
            raise ValueError(f"SharedSurface: segment {segment.name} has {segment.size} bytes, {shape} needs {nbytes}")
        self._shm = segment
        self.name = segment.name
        self._unlinked = False
        self._detached = False
        self._array = np.ndarray(self.shape, self._np, buffer=self._shm.buf)
        self._locks = 0
        self._guard = threading.Lock()

    # -- the anekit.Surface API ------------------------------------------------------------------------------

    @property
    def nbytes(self) -> int:
        return self._array.nbytes

    @property
    def numel(self) -> int:
        return self._array.size

    @property
    def data_ptr(self) -> int:
        """Address of the mapping in this process (for interop)."""
        return int(self._array.ctypes.data)

    @property
    def storage(self) -> str:
        return "shared-memory"

    def write(self, array: Any) -> None:
        """Convert ``array`` into the surface, with :meth:`anekit.Surface.write`'s shape and dtype rules.

        Raises:
            TypeError: a non-numeric array.
            ValueError: a shape that is neither the surface shape, ``(C, S)`` for ``[1, C, 1, S]``, nor broadcasts
                to one of them.
        """
        a = np.asarray(array)
        if a.dtype.kind not in "fiub":
            raise TypeError(
                f"{self!r}.write: expected a real numeric array (float16/32/64, int, uint or bool), got dtype {a.dtype}"
            )
        fitted, cs = fit_shape(a, self.shape)
        if fitted is None:
            forms = f"{self.shape}" + (f", {cs}" if cs is not None else "")
            raise ValueError(
                f"{self!r}.write: cannot write an array of shape {a.shape}; expected {forms} or a shape that "
                f"broadcasts to {'either' if cs is not None else 'it'}"
            )
        np.copyto(self._array, fitted, casting="unsafe")  # numpy float16 casts round to nearest even, like the core

    def read(self, out: np.ndarray | None = None, dtype: Any = np.float32) -> np.ndarray:
        """The contents as a new array of ``dtype`` (float32 by default), or copied into ``out``."""
        if out is not None:
            if not isinstance(out, np.ndarray) or out.shape != self.shape:
                raise ValueError(f"{self!r}.read: out must be an ndarray of shape {self.shape}")
            np.copyto(out, self._array, casting="unsafe")
            return out
        return self._array.astype(dtype, copy=True)

    def view(self, write: bool = True) -> SurfaceView:
        """Zero-copy access with the :mod:`anekit._surface_view` contract: ``with s.view() as a: a[...] = 1``."""
        return SurfaceView(self, write)

    def _lock_array(self, write: bool) -> np.ndarray:
        with self._guard:
            self._locks += 1
        arr = self._array.view()
        arr.flags.writeable = write
        return arr

    def _unlock(self, write: bool) -> None:
        with self._guard:
            self._locks -= 1

    # -- lifetime --------------------------------------------------------------------------------------------

    @property
    def array(self) -> np.ndarray:
        """The raw mapping (the pool's own use; users go through write/read/view)."""
        return self._array

    def unlink(self) -> None:
        """Remove the segment name (idempotent); this mapping stays valid until the object is freed."""
        # The SharedMemory object itself stays referenced: dropping it would unmap memory the array still uses.
        if not self._unlinked and not self._detached:
            self._unlinked = True
            with contextlib.suppress(FileNotFoundError):
                self._shm.unlink()

    def detach(self) -> shared_memory.SharedMemory | None:
        """Hand the segment over for reuse by a new surface (None if already unlinked or detached).

        This object keeps working on a private copy of its contents, so a stale handle (a closed kernel's
        surface) can never write into memory that now belongs to another kernel.
        """
        if self._unlinked or self._detached:
            return None
        self._detached = True
        self._array = self._array.copy()
        return self._shm

    @property
    def unlinked(self) -> bool:
        return self._unlinked

    def __repr__(self) -> str:
        return f"SharedSurface(shape={self.shape}, dtype={self.dtype!r}, storage='shared-memory')"


class SegmentStore:
    """Spare segments of closed kernels, reused by new ones: creating a segment costs ~100 µs (shm_open,
    ftruncate, mmap and two resource-tracker messages), reusing one costs an ndarray. Bounded in count and bytes.
    """

    def __init__(self, max_count: int = 128, max_bytes: int = 256 << 20) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._by_size: dict[int, list[shared_memory.SharedMemory]] = {}
        self._count = 0
        self._bytes = 0
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> shared_memory.SharedMemory | None:
        """A spare segment of exactly ``nbytes``, or None."""
        with self._lock:
            spares = self._by_size.get(nbytes)
            if not spares:
                return None
            self._count -= 1
            self._bytes -= nbytes
            return spares.pop()

    def give(self, surface: SharedSurface) -> bool:
        """Keep ``surface``'s segment for reuse (detaching the surface); False when full (caller unlinks)."""
        nbytes = surface.nbytes
        with self._lock:
            if self._count + 1 > self.max_count or self._bytes + nbytes > self.max_bytes:
                return False
            segment = surface.detach()
            if segment is None:
                return False
            self._by_size.setdefault(nbytes, []).append(segment)
            self._count += 1
            self._bytes += nbytes
            return True

    def unlink_all(self) -> None:
        """Unlink every spare segment (idempotent)."""
        with self._lock:
            spares = [s for group in self._by_size.values() for s in group]
            self._by_size.clear()
            self._count = self._bytes = 0
        for segment in spares:
            with contextlib.suppress(FileNotFoundError):
                segment.unlink()


def attach(name: str, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Map the segment ``name`` created by another process as an array (worker side; see the module docstring).

    Raises:
        FileNotFoundError: no such segment.
        ValueError: the segment is smaller than the shape needs.
    """
    import _posixshmem  # CPython's shm_open binding (what multiprocessing.shared_memory uses)

    dt = np_dtype(dtype)
    need = math.prod(int(d) for d in shape) * dt.itemsize
    fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0o600)
    try:
        size = os.fstat(fd).st_size
        if size < need:
            raise ValueError(f"shared-memory segment {name} has {size} bytes; {shape} {dtype} needs {need}")
        mapping = mmap.mmap(fd, need)
    finally:
        os.close(fd)
    return np.ndarray(shape, dt, buffer=mapping)
