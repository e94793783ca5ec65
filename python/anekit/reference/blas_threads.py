"""Fewer OpenBLAS threads while the reference executor runs.

The reference executor's matrix products are small (a decode step multiplies ``[1, C, 1, 32]`` activations whose
columns it computes once, a prefill step 32 columns, by weights of at most a few thousand rows), and OpenBLAS,
which numpy's Linux wheels bundle (``scipy-openblas``), splits even those over one worker thread per core. Its
workers busy-wait for work; when other processes hold the cores, every product waits for a descheduled worker and
the executor becomes 5-30 times slower. One thread made a 32-token prefill about half again slower while the
2-core test machine had a core to spare, and won several times over once it was loaded; the figures are in
docs/guide/llm.md ("Speed of the reference backend"). So the executor asks for one thread (the default of
``ANEKIT_REFERENCE_BLAS_THREADS``) while it runs and gives the previous count back afterwards; numpy work outside
the executor keeps the process's setting.

The library is found among the shared objects the process has mapped (``/proc/self/maps`` on Linux; elsewhere the
process-wide symbol table), and called through its exported ``*_set_num_threads`` / ``*_get_num_threads``. Where
no OpenBLAS is loaded (Apple's Accelerate on macOS, MKL, ...) :func:`limit` does nothing and :func:`controllable`
says so. ``ANEKIT_REFERENCE_BLAS_THREADS`` (:mod:`anekit.config`) sets the count; ``0`` leaves BLAS alone.
"""

from __future__ import annotations

import ctypes
import os
import threading
from functools import lru_cache

__all__ = ["controllable", "get_threads", "limit", "set_threads"]

#: Exported names of the thread-count functions: scipy-openblas (numpy >= 2 wheels, 64-bit integer interface, with
#: and without the ``64_`` suffix), then a plain OpenBLAS build.
_PREFIXES = ("scipy_openblas", "openblas")
_SUFFIXES = ("64_", "")


class _Api:
    def __init__(self, lib: ctypes.CDLL, prefix: str, suffix: str) -> None:
        self.set = getattr(lib, f"{prefix}_set_num_threads{suffix}")
        self.set.argtypes, self.set.restype = [ctypes.c_int], None
        self.get = getattr(lib, f"{prefix}_get_num_threads{suffix}")
        self.get.argtypes, self.get.restype = [], ctypes.c_int


def _bind(lib: ctypes.CDLL) -> _Api | None:
    for prefix in _PREFIXES:
        for suffix in _SUFFIXES:
            try:
                return _Api(lib, prefix, suffix)
            except AttributeError:
                continue
    return None


def _mapped_openblas() -> list[str]:
    """Paths of the OpenBLAS shared objects this process has mapped (Linux), in the order they appear."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    paths: dict[str, None] = {}
    for line in lines:
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and "openblas" in os.path.basename(parts[5]).lower():
            paths[parts[5]] = None
    return list(paths)


@lru_cache(maxsize=1)
def _api() -> _Api | None:
    import numpy  # noqa: F401  (loads the BLAS numpy was built with, so it is mapped before the search)

    for path in _mapped_openblas():
        try:
            api = _bind(ctypes.CDLL(path))  # already loaded: dlopen returns the same handle
        except OSError:
            continue
        if api is not None:
            return api
    try:
        return _bind(ctypes.CDLL(None))
    except OSError:  # pragma: no cover - a platform without a process-wide symbol table
        return None


def controllable() -> bool:
    """True when an OpenBLAS whose thread count anekit can set is loaded in this process."""
    return _api() is not None


def get_threads() -> int | None:
    """OpenBLAS's current thread count, or None when :func:`controllable` is False."""
    api = _api()
    return None if api is None else int(api.get())


def set_threads(count: int) -> None:
    """Set OpenBLAS's thread count for the whole process (nothing happens when :func:`controllable` is False).

    Raises:
        ValueError: ``count`` is not a positive int.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"set_threads: count must be a positive int, got {count!r}")
    api = _api()
    if api is not None:
        api.set(count)


class _Limiter:
    """The limit held by every caller inside :func:`limit` at once: the first in lowers the count, the last out
    restores it (concurrent executor calls on several threads share one process-wide setting)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.saved: int | None = None

    # Called once per executor run with an OpenBLAS present (limit() ignores the block otherwise) and a count
    # limit() has checked: the library's functions are called directly, without re-checking either.

    def enter(self, api: _Api, count: int) -> None:
        with self.lock:
            if self.depth == 0:
                before = int(api.get())
                self.saved = before if before > count else None
                if self.saved is not None:
                    api.set(count)
            self.depth += 1

    def exit(self, api: _Api) -> None:
        with self.lock:
            self.depth -= 1
            if self.depth == 0 and self.saved is not None:
                api.set(self.saved)
                self.saved = None


_LIMITER = _Limiter()


class limit:  # lower-case: used like a function, ``with limit(1):``
    """At most ``count`` OpenBLAS threads inside the block (``0``: leave BLAS alone); the count before the first
    concurrent block is restored when the last one ends.

    Entering and leaving costs about 2 us (three calls into OpenBLAS) on the test machine, once per executor call.

    Raises:
        ValueError: ``count`` is not an int >= 0.
    """

    __slots__ = ("_api", "_count")

    def __init__(self, count: int) -> None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"limit: count must be an int >= 0 (0 leaves BLAS alone), got {count!r}")
        self._api = _api() if count else None
        self._count = count

    def __enter__(self) -> None:
        if self._api is not None:
            _LIMITER.enter(self._api, self._count)

    def __exit__(self, *exc: object) -> None:
        if self._api is not None:
            _LIMITER.exit(self._api)
