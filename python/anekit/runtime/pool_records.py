"""Pool bookkeeping: the errors, one compiled program's record, and the Executable behind a pool-backed Kernel."""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AnekitError, AneUnavailableError, CompileError, EvaluateError, MILError
from ..mil.ir import Program
from .backend import IOSpec
from .cache import CacheKey
from .shm import SharedSurface, np_dtype
from .signature import function_io

if TYPE_CHECKING:
    from .pool import WorkerPool

__all__ = ["PoolClosedError", "PoolExecutable", "Record", "WorkerError", "WorkingSetTooLarge", "remote_error"]


class WorkerError(EvaluateError):
    """A pool worker failed twice in a row for the same call (the message says how)."""


class PoolClosedError(EvaluateError):
    """The pool, or the pool-backed kernel, was closed (or the pool no longer holds the kernel)."""


class WorkingSetTooLarge(AnekitError, RuntimeError):
    """The kernels in use do not fit: in one worker's budget (the default), or with ``spread=True`` in
    ``max_workers`` worker processes (see :mod:`anekit.runtime.pool`)."""


_ERRORS: dict[str, type[Exception]] = {
    "CompileError": CompileError,
    "MILError": MILError,
    "MILParseError": MILError,
    "AneUnavailableError": AneUnavailableError,
    "TypeError": TypeError,
    "ValueError": ValueError,
}


def remote_error(reply: tuple[Any, ...], pid: int) -> Exception:
    _, _, name, message, code, domain = reply
    cls = _ERRORS.get(name, EvaluateError)
    text = f"{message} (in pool worker pid {pid})"
    if cls is CompileError:
        return CompileError(text, code=code, domain=domain)
    return cls(text) if cls is not EvaluateError else EvaluateError(f"{name}: {text}")


class Record:
    """One compiled program as the pool knows it, shared by every handle on it."""

    __slots__ = ("backend", "function", "gen", "inputs", "key", "options", "outputs", "payload", "refs", "rid")
    __slots__ += ("used_gen", "workers")

    def __init__(self, rid: int, key: CacheKey | None, program: Program, backend: str, function: str,
                 options: dict[str, Any], gen: int) -> None:  # fmt: skip
        self.rid = rid
        self.key = key
        self.inputs: list[IOSpec]
        self.outputs: list[IOSpec]
        self.inputs, self.outputs = function_io(program, function)
        # An immutable snapshot: later edits to the Program must not leak into a recompile under this key.
        try:
            self.payload: tuple[str, Any, Any] = ("pickle", pickle.dumps(program, protocol=5), None)
        except (pickle.PicklingError, TypeError, AttributeError):
            self.payload = ("text", program.to_mil(), program.weights())
        self.backend = backend
        self.function = function
        self.options = options
        self.gen = gen
        self.used_gen = gen
        self.refs = 0
        self.workers: set[int] = set()


class PoolExecutable:
    """The Executable behind a pool-backed Kernel: forwards to the pool, owns the kernel's shared surfaces."""

    def __init__(self, pool: WorkerPool, rec: Record) -> None:
        self._pool: WorkerPool | None = pool
        self._rec = rec
        self.inputs = rec.inputs
        self.outputs = rec.outputs
        self.surfaces: list[SharedSurface] = []
        self.mapped_on: set[int] = set()  # workers that mapped the surfaces (told to unmap them on close)

    def new_surface(self, shape: tuple[int, ...], dtype: str) -> SharedSurface:
        assert self._pool is not None  # only called while the Kernel is being built
        nbytes = math.prod(int(d) for d in shape) * np_dtype(dtype).itemsize
        surface = SharedSurface(shape, dtype, segment=self._pool._spares.take(nbytes))
        self.surfaces.append(surface)
        self._pool._segments[surface.name] = surface
        return surface

    def _live(self) -> WorkerPool:
        if self._pool is None:
            raise PoolClosedError(f"kernel {self._rec.function!r} has been closed")
        return self._pool

    def evaluate(self, inputs: Sequence[Any], outputs: Sequence[Any], *, path: str, qos: int) -> float | None:
        return self._live()._run(self._rec, inputs, outputs, path, qos, self.mapped_on)

    def evaluate_arrays(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._live()._run_arrays(self._rec, inputs)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool._release(self._rec, self.surfaces, self.mapped_on)
