"""The in-process content cache: compiling the same program again returns the loaded model, spending no budget.

Keys are content hashes (docs/internals/architecture.md §8; ANEForge and libane do the same,
docs/internals/ane-private-api.md §16.3): sha256 of the emitted MIL text and every weight blob, plus the backend, the
function and the compile options. Emitting the text costs hundreds of microseconds, so the digest is memoised per
:class:`~anekit.mil.Program` object. Programs are mutable, so a memoised digest is reused only while the program still
consists of the very same objects (functions, operations, bindings, attribute values and their arrays, names, types):
any structural edit, rename or replaced value is detected and the digest recomputed. Constant arrays held by the IR are
read-only, so they cannot change in place; code that deliberately makes one writeable and edits it must call
:func:`forget` (or build a new program).

Proving the memo still valid walks the program once (about a microsecond per operation); everything else
in a hit is constant time.

Loaded models live in an LRU (``ANEKIT_CACHE_SIZE``, default 256). Each :class:`~anekit.runtime.kernel.Kernel`
holds a lease on its entry; closing the kernel returns the lease but keeps the model loaded for the next hit,
together with the kernel's I/O surfaces when nothing else references them, so the next kernel of that model
reuses them instead of allocating new ones. Evicting an entry unloads its model as soon as no kernel holds it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..mil.ir import Program
from .backend import Executable

__all__ = [
    "CacheKey",
    "CacheStats",
    "CachedExecutable",
    "ProgramCache",
    "default_cache",
    "forget",
    "program_digest",
    "program_key",
]

CacheKey = tuple[str, str, str, tuple[tuple[str, str], ...]]
#: Memoised program digests kept (each entry holds the program alive; bounded so nothing grows without end).
_MEMO_SIZE = 1024
#: Compile options that only choose how a kernel runs, not what is compiled.
_RUN_ONLY_OPTIONS = frozenset({"path"})


def _snapshot(program: Program, keep: list[Any]) -> tuple[Any, ...]:
    """Everything a program's text and weights are made of: objects by identity, strings and types by value.

    Constant arrays appear as ``id(array)`` (comparing arrays by value would be slow and ambiguous); ``keep``
    collects the arrays themselves so that the memo can hold them and no id is ever reused while memoised.
    """
    items: list[Any] = [program.version, program.weight_source, *program.attributes.items()]
    extend = items.extend
    for fname, fn in program.functions.items():
        extend((fname, fn, fn.name, fn.opset, *fn.attributes.items()))
        for name, var in fn.inputs.items():
            extend((name, var, var.name, var.type))
        for op in fn.operations:
            extend((op, op.op_type, op.name, *op.inputs.items()))
            for out in op.outputs:
                extend((out, out.name, out.type))
            for key, value in op.attrs.items():
                # A Value's in-memory array, or None while its blob is unread (the slot itself, not the
                # ``data`` property, which would read the blob).
                data = getattr(value, "_data", None)
                extend((key, value, id(data)))
                if data is not None:
                    keep.append(data)
        for var in fn.outputs:
            extend((var, var.name))
    return tuple(items)


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    # Tuple equality runs in C and tries identity before ==; a failing or ambiguous == means "changed".
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


class _DigestMemo:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        # id(program) -> (program, snapshot, arrays kept alive, digest); holding the program keeps its id unique.
        self.entries: OrderedDict[int, tuple[Program, tuple[Any, ...], list[Any], str]] = OrderedDict()


_memo = _DigestMemo()


def program_digest(program: Program) -> str:
    """sha256 (hex) of ``program``'s MIL text and weight blobs, memoised per program object (see module doc).

    Raises:
        TypeError: ``program`` is not an anekit.mil.Program.
        MILError: the program cannot be written as MIL text.
    """
    if not isinstance(program, Program):
        raise TypeError(f"program_digest: expected an anekit.mil.Program, got {type(program).__name__}")
    keep: list[Any] = []  # the arrays behind the snapshot's ids, kept by the memo on a miss
    snap = _snapshot(program, keep)
    with _memo.lock:
        hit = _memo.entries.get(id(program))
        if hit is not None and hit[0] is program and _same(hit[1], snap):
            _memo.entries.move_to_end(id(program))
            return hit[3]
    h = hashlib.sha256(program.to_mil().encode())
    for path, blob in sorted(program.weights().items()):
        h.update(b"\0" + path.encode() + b"\0")
        h.update(blob)
    digest = h.hexdigest()
    with _memo.lock:
        _memo.entries[id(program)] = (program, snap, keep, digest)
        _memo.entries.move_to_end(id(program))
        while len(_memo.entries) > _MEMO_SIZE:
            _memo.entries.popitem(last=False)
    return digest


def forget(program: Program) -> None:
    """Drop ``program``'s memoised digest (after writing into one of its weight arrays in place)."""
    with _memo.lock:
        _memo.entries.pop(id(program), None)


def program_key(program: Program, backend: str, function: str, options: Mapping[str, Any]) -> CacheKey:
    """The cache key: program digest, backend, function, and the options that change what is compiled."""
    opts = tuple(sorted([(k, repr(v)) for k, v in options.items() if k not in _RUN_ONLY_OPTIONS]))
    return (program_digest(program), backend, function, opts)


#: Sets of I/O surfaces of closed kernels kept per cached model for the next kernel (two cover the common
#: "compile, call, close" loop and a kernel overlapping its successor; more would only hold memory).
_SPARE_SURFACE_SETS = 2


class _Entry:
    __slots__ = ("evicted", "executable", "key", "leases", "lock", "spare")

    def __init__(self, key: CacheKey | None, executable: Executable) -> None:
        self.key = key
        self.executable = executable
        self.leases = 0
        self.evicted = key is None
        # Kernels sharing one loaded model are serialised on it, as the bindings do per model (architecture §3.1).
        self.lock = threading.Lock()
        self.spare: list[tuple[dict[str, Any], dict[str, Any]]] = []


class CachedExecutable:
    """One kernel's lease on a cached loaded model; implements the Executable protocol."""

    __slots__ = ("_cache", "_entry", "inputs", "outputs", "surface_bytes")

    def __init__(self, cache: ProgramCache, entry: _Entry) -> None:
        self._cache = cache
        self._entry: _Entry | None = entry
        self.inputs = entry.executable.inputs
        self.outputs = entry.executable.outputs
        # Surface allocation sizes the backend asks for (the ANE: one size per side, a minimum), if any.
        self.surface_bytes = getattr(entry.executable, "surface_bytes", None)

    def _live(self) -> _Entry:
        if self._entry is None:
            raise RuntimeError("this kernel has been closed")
        return self._entry

    def evaluate(self, inputs: Sequence[Any], outputs: Sequence[Any], *, path: str, qos: int) -> float | None:
        entry = self._live()
        with entry.lock:
            return entry.executable.evaluate(inputs, outputs, path=path, qos=qos)

    def evaluate_arrays(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        entry = self._live()
        with entry.lock:
            return entry.executable.evaluate_arrays(inputs)

    def model_attributes(self) -> Any:
        """The loaded model's ``modelAttributes`` when the backend reports them (the ANE), else None."""
        entry = self._live()
        getter = getattr(entry.executable, "model_attributes", None)
        if getter is None:
            return None
        with entry.lock:
            return getter()

    def take_surfaces(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """I/O surfaces (inputs, outputs) a closed kernel of this model gave back, or None."""
        entry = self._live()
        with self._cache._lock:
            return entry.spare.pop() if entry.spare else None

    def give_surfaces(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        """Keep a closing kernel's surfaces (which nothing else references) for the next kernel of this model."""
        entry = self._live()
        with self._cache._lock:
            if not entry.evicted and len(entry.spare) < _SPARE_SURFACE_SETS:
                entry.spare.append((inputs, outputs))

    def close(self) -> None:
        entry, self._entry = self._entry, None
        if entry is not None:
            self._cache._release(entry)


class CacheStats:
    """Counters of one :class:`ProgramCache`."""

    __slots__ = ("evictions", "hits", "misses")

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __repr__(self) -> str:
        return f"CacheStats(hits={self.hits}, misses={self.misses}, evictions={self.evictions})"


class ProgramCache:
    """An LRU of loaded models keyed by :func:`program_key`; eviction unloads (once no kernel holds the model)."""

    def __init__(self, capacity: int) -> None:
        """Args:
        capacity: loaded models kept (0 disables caching: every compile is real, close unloads).

        Raises:
            ValueError: a negative or non-int capacity.
        """
        self._lock = threading.RLock()
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self.capacity = _check_capacity(capacity)
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: CacheKey) -> CachedExecutable | None:
        """A new lease on the model cached under ``key``, or None (a miss)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.stats.misses += 1
                return None
            self._entries.move_to_end(key)
            entry.leases += 1
            self.stats.hits += 1
            return CachedExecutable(self, entry)

    def insert(self, key: CacheKey | None, executable: Executable) -> CachedExecutable:
        """Cache a freshly compiled model (``key=None``: do not cache it) and return a lease on it."""
        with self._lock:
            entry = _Entry(key if self.capacity else None, executable)
            entry.leases = 1
            if entry.key is not None:
                old = self._entries.pop(entry.key, None)
                if old is not None:
                    self._evict(old)
                self._entries[entry.key] = entry
                self._trim()
            return CachedExecutable(self, entry)

    def resize(self, capacity: int) -> None:
        """Change the capacity, evicting least-recently-used models beyond it."""
        with self._lock:
            self.capacity = _check_capacity(capacity)
            self._trim()

    def evict_backend(self, backend: str) -> int:
        """Evict every model compiled by ``backend`` (e.g. when the framework behind it goes away); returns
        how many were evicted."""
        with self._lock:
            doomed = [k for k in self._entries if k[1] == backend]
            for k in doomed:
                self._evict(self._entries.pop(k))
            return len(doomed)

    def clear(self) -> None:
        """Evict everything (models still used by kernels are unloaded when those kernels close)."""
        with self._lock:
            while self._entries:
                self._evict(self._entries.popitem(last=False)[1])

    def _trim(self) -> None:
        while len(self._entries) > self.capacity:
            self._evict(self._entries.popitem(last=False)[1])

    def _evict(self, entry: _Entry) -> None:
        entry.evicted = True
        entry.spare.clear()
        self.stats.evictions += 1
        if entry.leases == 0:
            entry.executable.close()

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.leases -= 1
            if entry.leases == 0 and entry.evicted:
                entry.executable.close()


def _check_capacity(capacity: int) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
        raise ValueError(f"cache capacity must be a non-negative int, got {capacity!r}")
    return capacity


class _Default:
    lock = threading.Lock()
    cache: ProgramCache | None = None


def default_cache() -> ProgramCache:
    """The process's cache (created on first use with ``ANEKIT_CACHE_SIZE`` entries)."""
    if _Default.cache is None:
        from .. import config

        with _Default.lock:
            if _Default.cache is None:
                _Default.cache = ProgramCache(config.get().cache_size)
    return _Default.cache
