"""The recycling pool's worker process: ``python -m anekit.runtime.worker FD``.

A worker is a fresh interpreter (started with exec, never a bare fork: forking a process that has touched the
Objective-C runtime is unsafe on macOS) that compiles and runs kernels for one :class:`~anekit.runtime.pool.
WorkerPool`. It has its own per-process compile budget (docs/internals/ane-private-api.md §16.1), which the pool tracks.

Protocol: the parent sends ``("init", config_fields, context)`` over the inherited socket ``FD``, the worker answers
``("ready", pid, compiles_used)``; then every request is ``(op, (drops, unmaps), *args)`` and gets exactly one
reply (``drops``: kernel ids to unload first; ``unmaps``: shared-memory segments of closed kernels to unmap).
Programs arrive pickled (a snapshot taken at compile time; ~20x cheaper than parsing MIL text) or, when a program
cannot be pickled, as MIL text and weight blobs. Replies start with ``"ok"``, ``"silent"`` (a compile that
"succeeded" but fails the silent-failure check, docs/internals/ane-private-api.md §11.4) or ``"error"``. Tensors are
never
sent: ``run`` names the shared-memory segments holding the inputs and receiving the outputs. The worker exits
on ``exit`` or when the parent goes away (end of file on the socket).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import sys
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from .. import _core, config, mil
from ..errors import CompileBudgetExceeded
from ..reference import run as reference_run
from .backend import get_backend
from .canary import canary_passes
from .kernel import Kernel
from .shm import attach
from .verify import random_inputs

__all__ = ["main"]

#: Shared-memory mappings a worker keeps open (kernels closed in the parent leave theirs behind until evicted).
_MAX_MAPPINGS = 1024
#: Seed of the probe inputs used by the silent-failure check.
_PROBE_SEED = 0x5EED


def silent_failure(kernel: Kernel, program: mil.Program, function: str) -> str | None:
    """Why ``kernel`` looks silently broken, or None: every float output is zeros on random probe inputs while
    the reference executor's are not (the silent-zero failure mode, docs/internals/ane-private-api.md §11.4, §16.1)."""
    probe = random_inputs(program, function, seed=_PROBE_SEED)
    try:
        got = kernel(probe)
    except CompileBudgetExceeded as exc:  # the ANE backend's own all-zeros check caught it first
        return str(exc)
    floats = [name for name, value in got.items() if value.dtype.kind == "f"]
    if not floats or any(np.any(got[name]) for name in floats):
        return None
    want = reference_run(program, probe, function=function)
    wrong = [name for name in floats if np.any(want[name])]
    if not wrong:
        return None
    return f"outputs {wrong} are all zeros on the probe inputs while the reference executor's are not"


class _Server:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.kernels: dict[int, Kernel] = {}
        self.maps: OrderedDict[tuple[str, tuple[int, ...], str], np.ndarray] = OrderedDict()

    def serve(self) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                return  # the parent went away
            op, (drops, unmaps), *args = msg
            if unmaps:
                gone = set(unmaps)
                for key in [k for k in self.maps if k[0] in gone]:
                    del self.maps[key]
            for kid in drops:
                kernel = self.kernels.pop(kid, None)
                if kernel is not None:
                    kernel.close()
            try:
                reply = getattr(self, "op_" + op)(*args)
            except Exception as exc:  # every failure goes back to the parent, which decides what to do
                reply = (
                    "error",
                    _core.compile_count(),
                    type(exc).__name__,
                    str(exc),
                    getattr(exc, "code", None),
                    getattr(exc, "domain", None),
                )
            self.conn.send(reply)
            if op == "exit":
                return

    def _map(self, name: str, shape: Sequence[int], dtype: str) -> np.ndarray:
        # A segment can be reused by a kernel with another shape of the same size: key by shape and dtype too.
        key = (name, tuple(shape), dtype)
        arr = self.maps.get(key)
        if arr is None:
            arr = attach(name, tuple(shape), dtype)
            self.maps[key] = arr
            while len(self.maps) > _MAX_MAPPINGS:
                self.maps.popitem(last=False)
        else:
            self.maps.move_to_end(key)
        return arr

    def op_ping(self) -> tuple[Any, ...]:
        return ("ok", _core.compile_count())

    def op_compile(
        self,
        kid: int,
        payload: tuple[str, Any, Any],
        function: str,
        backend: str,
        options: Mapping[str, Any],
        check: bool,
    ) -> tuple[Any, ...]:
        kind, first, second = payload
        if kind == "pickle":
            program = pickle.loads(first)  # a snapshot pickled by our own parent over a private socket
        else:
            program = mil.parse(first, weights=dict(second)) if second else mil.parse(first)
        chosen = get_backend(backend)
        exe = chosen.compile(program, function=function, options=dict(options))
        kernel = Kernel(
            exe,
            backend=chosen.name,
            paths=chosen.paths,
            path=str(options.get("path", "standard")),
            qos=int(options.get("qos", 21)),
            name=function,
        )
        why = silent_failure(kernel, program, function) if check else None
        if why is not None:
            kernel.close()
            return ("silent", _core.compile_count(), why)
        old = self.kernels.pop(kid, None)
        if old is not None:
            old.close()
        self.kernels[kid] = kernel
        return ("ok", _core.compile_count())

    def op_canary(self, backend: str) -> tuple[Any, ...]:
        return ("ok", _core.compile_count(), canary_passes(get_backend(backend)))

    def op_run(
        self,
        kid: int,
        ins: Sequence[tuple[str, str, Sequence[int], str]],
        outs: Sequence[tuple[str, str, Sequence[int], str]],
        path: str,
        qos: int,
    ) -> tuple[Any, ...]:
        kernel = self.kernels.get(kid)
        if kernel is None:
            return ("missing", _core.compile_count())
        for spec, shm, shape, dtype in ins:
            kernel.inputs[spec].write(self._map(shm, shape, dtype))
        kernel.qos = qos
        hw = kernel.run(path)
        for spec, shm, shape, dtype in outs:
            target = self._map(shm, shape, dtype)
            kernel.outputs[spec].read(out=target, dtype=target.dtype)
        return ("ok", hw)

    def op_run_arrays(self, kid: int, arrays: Mapping[str, np.ndarray]) -> tuple[Any, ...]:
        kernel = self.kernels.get(kid)
        if kernel is None:
            return ("missing", _core.compile_count())
        return ("ok", kernel._live().evaluate_arrays(arrays))

    def op_exit(self) -> tuple[Any, ...]:
        for kernel in self.kernels.values():
            kernel.close()
        self.kernels.clear()
        self.maps.clear()
        return ("ok", _core.compile_count())


def _worker_context(spec: tuple[str, str, dict[str, Any]] | None) -> contextlib.AbstractContextManager[Any]:
    """The context manager named by the pool's ``worker_context`` (e.g. ``anekit.testing.fake_ane``), entered
    for the worker's whole life."""
    if spec is None:
        return contextlib.nullcontext()
    module, name, kwargs = spec
    return getattr(importlib.import_module(module), name)(**kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one pool over the socket whose descriptor is ``argv[1]``; returns the exit status."""
    args = list(sys.argv if argv is None else argv)
    if len(args) != 2 or not args[1].isdigit():
        print("usage: python -m anekit.runtime.worker FD (started by anekit.runtime.pool)", file=sys.stderr)
        return 2
    conn = Connection(int(args[1]))
    try:
        op, fields, context = conn.recv()
    except (EOFError, OSError):
        return 0
    if op != "init":
        return 2
    with config.override(**fields), _worker_context(context):
        conn.send(("ready", os.getpid(), _core.compile_count()))
        _Server(conn).serve()
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
