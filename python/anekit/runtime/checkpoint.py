"""Checkpoint and exec-restart: the upstream way to live with the compile budget (docs/internals/ane-private-api.md
§16.3).

Upstream training loops free their kernels, save a checkpoint, and ``execl`` the program again with a resume
flag once the budget is nearly spent; the fresh process has a fresh budget. These helpers do that for a Python
script (the recycling pool, ``anekit.budget.set_policy("recycle")``, avoids the restarts altogether)::

    import anekit

    state = anekit.budget.resume_state() or {"step": 0, "w": init_weights()}
    while state["step"] < steps:
        anekit.budget.restart_if_needed(lambda: state, "/tmp/train.ckpt.npz", needed=60)
        state["w"] = train_step(state["w"])          # compiles 60 kernels with the new weights
        state["step"] += 1

A state is a flat dict of str -> numpy array or JSON-serialisable value (numbers, strings, lists, dicts). It is
written atomically with ``numpy.savez`` (no pickle, so loading a checkpoint never runs code). The resumed
process finds the checkpoint path in the ``ANEKIT_RESUME_CHECKPOINT`` environment variable (the "resume flag"),
so the script's own command line and argument parser are left untouched.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RESUME_ENV", "load_checkpoint", "restart_if_needed", "resume_state", "save_checkpoint"]

#: Environment variable carrying the checkpoint path into the re-executed process.
RESUME_ENV = "ANEKIT_RESUME_CHECKPOINT"
#: Key of the JSON metadata member inside the .npz file (arrays use their own names).
_META = "__anekit_meta__"
#: Key counting how many restarts led to this state (kept in the metadata).
RESTARTS_KEY = "anekit_restarts"


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``state`` (str -> array or JSON value) to ``path`` atomically; returns the path.

    Raises:
        TypeError: ``state`` is not a mapping with str keys, or a value is neither an array nor JSON-serialisable.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"save_checkpoint: state must be a mapping of str -> value, got {type(state).__name__}")
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for key, value in state.items():
        if not isinstance(key, str) or key == _META:
            raise TypeError(f"save_checkpoint: keys must be str (and not {_META!r}), got {key!r}")
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise TypeError(f"save_checkpoint: array {key!r} has dtype object, which would need pickle")
            arrays[key] = value
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"save_checkpoint: value of {key!r} ({type(value).__name__}) is neither a numpy array nor "
                f"JSON-serialisable: {exc}"
            ) from None
        meta[key] = value
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    payload = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(tmp, "wb") as f:
        np.savez(f, **arrays, **{_META: payload})
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)  # atomic: a crash mid-write leaves the previous checkpoint intact
    return target


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a state written by :func:`save_checkpoint`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not an anekit checkpoint.
    """
    with np.load(Path(path), allow_pickle=False) as data:
        if _META not in data.files:
            raise ValueError(f"{path} is not an anekit checkpoint (no {_META!r} member)")
        state: dict[str, Any] = json.loads(bytes(data[_META]).decode())
        for key in data.files:
            if key != _META:
                state[key] = data[key]
    return state


def resume_state() -> dict[str, Any] | None:
    """The state saved by :func:`restart_if_needed` when this process is such a restart, else None.

    The resume flag is consumed, so a later restart sets it afresh.
    """
    path = os.environ.pop(RESUME_ENV, None)
    if not path:
        return None
    return load_checkpoint(path)


def restart_if_needed(
    state: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    needed: int = 1,
    argv: list[str] | None = None,
    exec_fn: Callable[[str, list[str]], Any] | None = None,
) -> bool:
    """Checkpoint and re-exec this program if fewer than ``needed`` compiles remain; else return False.

    Where no limit applies (off the ANE, :func:`anekit.budget.applies`) it never restarts.

    Args:
        state: the state to save, or a callable returning it (only called when a restart happens).
        path: where to write the checkpoint (``.npz``).
        needed: compiles the caller is about to spend (e.g. the kernels of one training step).
        argv: the command line to run (default ``sys.orig_argv``: the same interpreter flags, script or
            ``-m`` module and arguments).
        exec_fn: replaces :func:`os.execv` (tests); when it returns, this function returns True.

    Returns:
        False when no restart was needed; True only when ``exec_fn`` returned instead of replacing the process.

    Raises:
        ValueError: ``needed`` is not a positive int, or more than a fresh process can compile.
    """
    from .. import budget  # runtime.checkpoint is imported by anekit.budget

    if isinstance(needed, bool) or not isinstance(needed, int) or needed < 1:
        raise ValueError(f"restart_if_needed: needed must be a positive int, got {needed!r}")
    per_process = budget.allowed()
    if needed > per_process:
        raise ValueError(
            f"restart_if_needed: needed={needed} compiles, but a fresh process may compile only {per_process} "
            f"(limit {budget.limit()}, safety margin {budget.safety_margin()}"
            + (f", observed limit {budget.observed_limit()}" if budget.observed_limit() is not None else "")
            + "); split the work into smaller groups"
        )
    left = budget.remaining()
    if left is None or left >= needed:  # None: no limit applies here (off the ANE), nothing to restart for
        return False
    snapshot = dict(state() if callable(state) else state)
    snapshot[RESTARTS_KEY] = int(snapshot.get(RESTARTS_KEY, 0)) + 1
    saved = save_checkpoint(path, snapshot)
    command = list(argv) if argv is not None else list(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    os.environ[RESUME_ENV] = str(saved.resolve())
    sys.stdout.flush()
    sys.stderr.flush()
    (exec_fn or os.execv)(sys.executable, command)
    return True
