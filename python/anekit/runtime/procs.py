"""Parent-side handle of one pool worker process (:mod:`anekit.runtime.worker`): start, request, stop.

Workers are started with ``subprocess`` (fork+exec of a fresh interpreter running ``-m anekit.runtime.worker``),
the spawn-safe way: a forked child of a process that has used the Objective-C runtime is unsafe on macOS, and an
exec'd interpreter also never re-imports the user's ``__main__`` (which multiprocessing's "spawn" would do).
Every wait has a timeout and also ends when the worker dies (the socket reaches end of file), so a dead or
stuck worker never hangs the parent: it raises :class:`WorkerLost` and the pool decides what to do.

The channel is strictly one request, one reply. An exception that interrupts a request in the parent (a
KeyboardInterrupt delivered while the caller waits, a SystemExit from a signal handler) must not leave a reply
unread, or every later request on that worker would read the previous one's reply. So an interrupted wait
records the reply as *owed*, and the next request first reads and accounts for the owed replies (a compile
the caller never saw is unloaded, the compile count it reports is kept); an interruption in the middle of
writing or reading a message, where the byte stream itself may be cut, retires the worker instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["WorkerLost", "WorkerProcess"]


#: Signals that end a worker from outside (the pool's own kill, a user's kill or Ctrl-C); any other fatal signal
#: during a compile is a crash of the process itself, as libane reports at the end of the compile budget
#: (SIGSEGV after the silent failures, docs/internals/ane-private-api.md §16.1).
_EXTERNAL_SIGNALS = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP})

#: Requests whose reply carries the worker's compile count in position 1 (see anekit.runtime.worker).
_COUNTING_OPS = frozenset({"compile", "canary", "ping", "exit"})


class WorkerLost(Exception):
    """A worker died, closed its socket, or did not answer in time (internal to the pool).

    Attributes:
        crashed: the process ended by itself during the request with a fatal signal other than a kill
            (``SIGSEGV``, ``SIGBUS``, ``SIGABRT``, ...), not by a timeout or someone stopping it.
    """

    def __init__(self, message: str, *, crashed: bool = False) -> None:
        super().__init__(message)
        self.crashed = crashed


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
        # Requests whose reply is still in the socket because the caller was interrupted while waiting for it.
        self.owed: list[tuple[str, Any]] = []
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

    def _lost(self, what: str, *, by_itself: bool = False) -> WorkerLost:
        """Stop the worker and describe why; ``by_itself``: it ended on its own (EOF), not by our timeout.

        A process already dying of its own signal keeps that signal as its status even though kill() follows.
        """
        self.kill()
        code = self.proc.returncode
        if code is not None and code < 0:
            how = f"killed by signal {-code}"
            with contextlib.suppress(ValueError):
                how += f" ({signal.Signals(-code).name})"
        else:
            how = f"exit status {code}"
        crashed = by_itself and code is not None and code < 0 and -code not in _EXTERNAL_SIGNALS
        return WorkerLost(f"worker pid {self.pid} {what} ({how})", crashed=crashed)

    def wait_ready(self) -> None:
        """Wait for the worker's ``ready`` message (it imports anekit first).

        Raises:
            WorkerLost: it exited or did not start in time.
        """
        if self._ready:
            return
        receiving = False
        try:
            if not self.conn.poll(self._start_timeout):
                raise self._lost(f"did not start within {self._start_timeout:g} s")
            receiving = True
            tag, _pid, used = self.conn.recv()
        except (EOFError, OSError):
            raise self._lost("exited while starting (its stderr says why)") from None
        except WorkerLost:
            raise
        except BaseException:
            if receiving:  # interrupted mid-message: the stream may be cut, so the worker cannot be trusted
                self.kill()
            raise  # interrupted while waiting: the 'ready' message is still there for the next wait
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
            while self.owed:
                self._settle(*self.owed[0], timeout=timeout)
                del self.owed[0]
            drops, unmaps = self.drops, self.unmaps
            self.drops, self.unmaps = [], []
            return self._exchange(op, (op, (drops, unmaps), *args), args[0] if args else None, timeout)

    def _exchange(self, op: str, message: tuple[Any, ...] | None, subject: Any, timeout: float) -> tuple[Any, ...]:
        """Send ``message`` (None: only read the reply owed for ``op``) and read one reply, with the lock held.

        An exception while waiting leaves the reply owed (read by the next request); one while a message is
        half written or half read retires the worker, since the stream may be cut (module docstring).
        """
        stage = "send"
        try:
            if message is not None:
                self.conn.send(message)
            stage = "wait"
            if not self.conn.poll(timeout):
                raise self._lost(f"did not answer {op!r} within {timeout:g} s and was stopped")
            stage = "receive"
            reply: tuple[Any, ...] = self.conn.recv()
        except (EOFError, OSError):
            raise self._lost(f"died during {op!r}", by_itself=True) from None
        except WorkerLost:
            raise
        except BaseException:
            if stage == "wait" and self.state != "dead":
                if message is not None:
                    self.owed.append((op, subject))
            else:
                self.kill()
            raise
        return reply

    def _settle(self, op: str, subject: Any, *, timeout: float) -> None:
        """Read the reply owed for an interrupted ``op`` and undo what the caller never learnt about."""
        reply = self._exchange(op, None, subject, timeout)
        if op in _COUNTING_OPS or reply[0] in ("error", "silent", "missing"):
            self.used = int(reply[1])
        if op == "compile" and reply[0] == "ok":
            self.drops.append(subject)  # compiled for a caller that was interrupted: nobody holds it

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
