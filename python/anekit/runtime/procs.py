"""Parent-side handle of one pool worker process (:mod:`anekit.runtime.worker`): start, request, stop.

Workers are started with ``subprocess`` (fork+exec of a fresh interpreter running ``-m anekit.runtime.worker``),
the spawn-safe way: a forked child of a process that has used the Objective-C runtime is unsafe on macOS, and an
exec'd interpreter also never re-imports the user's ``__main__`` (which multiprocessing's "spawn" would do).
Every wait has a timeout and also ends when the worker dies (the socket reaches end of file), so a dead or
stuck worker never hangs the parent: it raises :class:`WorkerLost` and the pool decides what to do.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["WorkerLost", "WorkerProcess"]


class WorkerLost(Exception):
    """A worker died, closed its socket, or did not answer in time (internal to the pool)."""


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The worker must import this very anekit, wherever it was imported from (source tree or installation).
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    return env


class WorkerProcess:
    """One worker: its process, its socket, and the parent's view of its compile budget.

    Attributes:
        wid: the pool's id for this worker (increasing: a higher id is a younger worker).
        budget: compiles this worker may spend.
        used: compiles it has spent (reported by the worker's native counter after each compile).
        state: ``"standby"``, ``"active"``, ``"draining"`` or ``"dead"``.
        drops: kernel ids to unload with the next request.
        unmaps: shared-memory segment names to unmap with the next request (closed kernels' surfaces).
    """

    def __init__(
        self,
        wid: int,
        budget: int,
        config_fields: dict[str, Any],
        start_timeout: float,
        context: tuple[str, str, dict[str, Any]] | None = None,
    ) -> None:
        self.wid = wid
        self.budget = budget
        self.used = 0
        self.state = "standby"
        self.drops: list[int] = []
        self.unmaps: list[str] = []
        # Re-entrant: a request that finds the worker dead calls kill() while holding it (see kill()).
        self.lock = threading.RLock()
        self._ready = False
        self._start_timeout = start_timeout
        parent_sock, child_sock = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "anekit.runtime.worker", str(child_sock.fileno())],
                pass_fds=(child_sock.fileno(),),
                env=_child_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                close_fds=True,
            )
        except BaseException:
            parent_sock.close()
            raise
        finally:
            child_sock.close()
        self.conn = Connection(parent_sock.detach())
        self.conn.send(("init", config_fields, context))

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.state != "dead" and self.proc.poll() is None

    @property
    def remaining(self) -> int:
        return self.budget - self.used

    def _lost(self, what: str) -> WorkerLost:
        self.kill()
        code = self.proc.returncode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        return WorkerLost(f"worker pid {self.pid} {what} ({how})")

    def wait_ready(self) -> None:
        """Wait for the worker's ``ready`` message (it imports anekit first).

        Raises:
            WorkerLost: it exited or did not start in time.
        """
        if self._ready:
            return
        try:
            if not self.conn.poll(self._start_timeout):
                raise self._lost(f"did not start within {self._start_timeout:g} s")
            tag, _pid, used = self.conn.recv()
        except (EOFError, OSError):
            raise self._lost("exited while starting (its stderr says why)") from None
        if tag != "ready":
            raise self._lost(f"sent {tag!r} instead of 'ready'")
        self.used = int(used)
        self._ready = True

    def request(self, op: str, *args: Any, timeout: float) -> tuple[Any, ...]:
        """Send one request (with the pending drops) and return the reply.

        Raises:
            WorkerLost: the worker is dead, died during the request, or did not answer within ``timeout`` s.
        """
        with self.lock:
            if self.state == "dead":
                raise WorkerLost(f"worker pid {self.pid} is no longer running")
            self.wait_ready()
            drops, unmaps = self.drops, self.unmaps
            self.drops, self.unmaps = [], []
            try:
                self.conn.send((op, (drops, unmaps), *args))
                if not self.conn.poll(timeout):
                    raise self._lost(f"did not answer {op!r} within {timeout:g} s and was stopped")
                return self.conn.recv()
            except (EOFError, OSError):
                raise self._lost(f"died during {op!r}") from None

    def kill(self) -> None:
        """Stop the process now and reap it (idempotent)."""
        self.state = "dead"
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL not delivered within 10 s
            self.proc.wait(timeout=10)
        # Close the pipe only if no other thread is inside a request on it: closing a descriptor another thread
        # is reading lets the number be reused by an unrelated open() before that read (closing or reading the
        # wrong file). A thread mid-request sees EOF from the dead process and comes back here holding the lock.
        if self.lock.acquire(blocking=False):
            try:
                self.conn.close()
            finally:
                self.lock.release()

    def request_exit(self) -> None:
        """Ask the worker to unload everything and exit, without waiting (see :meth:`reap`)."""
        if self.state != "dead" and self.proc.poll() is None and self.lock.acquire(timeout=0.5):
            try:
                self.conn.send(("exit", ([], [])))
            except OSError:
                pass
            finally:
                self.lock.release()
        self.state = "stopping"

    def reap(self, timeout: float = 0.0) -> bool:
        """True once the process has exited (killing it after ``timeout`` s if > 0); releases the socket."""
        if timeout > 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        if self.proc.poll() is None and timeout <= 0:
            return False
        self.kill()
        return True

    def shutdown(self, timeout: float = 5.0) -> None:
        """Ask the worker to exit (unloading everything), then make sure it did (idempotent)."""
        if self.state != "dead" and self.proc.poll() is None:
            try:
                if self.lock.acquire(timeout=timeout):
                    try:
                        self.conn.send(("exit", ([], [])))
                        if self.conn.poll(timeout):
                            self.conn.recv()
                    finally:
                        self.lock.release()
                self.proc.wait(timeout=timeout)
            except (EOFError, OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
