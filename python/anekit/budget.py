"""``anekit.budget``: the per-process ANE compile budget, the policy applied when it runs out, and helpers.

A process can compile only about 119 programs on the ANE; past that, compiles fail (sometimes silently) and
unloading gives nothing back (ane-private-api.md §16.1). anekit counts every compile that reaches a backend in
the native core (``anekit._core.compile_count()``, the single source of truth, architecture.md §8), so every
compile path is counted and cache hits are not.

* :func:`used`, :func:`limit`, :func:`safety_margin`, :func:`remaining`: the numbers. A compile is allowed
  while ``used() + 1 <= limit() - safety_margin()``.
* :func:`set_policy` / ``with policy(name):`` choose what a compile past the limit does:

  - ``"raise"`` (default): raise :class:`~anekit.errors.CompileBudgetExceeded` before the backend is called,
    with the numbers and what to do;
  - ``"warn"``: warn with :class:`CompileBudgetWarning` and compile anyway;
  - ``"recycle"``: compile and run every kernel in worker processes that are replaced (prewarmed) before their
    budget runs out (:mod:`anekit.runtime.pool`); kernels keep the :class:`~anekit.Kernel` API.

* :func:`simulate`: the reference backend's simulated limit, latency and failure mode (tests, benchmarks).
* :func:`restart_if_needed`, :func:`save_checkpoint`, :func:`load_checkpoint`, :func:`resume_state`: the
  upstream checkpoint-and-exec-restart approach (§16.3), see :mod:`anekit.runtime.checkpoint`.

Precedence: a ``with policy(...)`` block overrides :func:`set_policy`, which overrides the configuration
(``ANEKIT_BUDGET_POLICY``); :func:`set_limit` / :func:`set_safety_margin` override ``ANEKIT_COMPILE_LIMIT`` /
``ANEKIT_COMPILE_SAFETY_MARGIN``. These settings are process-wide because the budget itself is.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import warnings
from collections.abc import Iterator

from . import _core, config
from .errors import AnekitError, CompileBudgetExceeded
from .runtime.checkpoint import load_checkpoint, restart_if_needed, resume_state, save_checkpoint

__all__ = [
    "POLICIES",
    "CompileBudgetWarning",
    "UnexpectedCompileError",
    "backend_has_budget",
    "check_compile",
    "get_policy",
    "limit",
    "load_checkpoint",
    "policy",
    "remaining",
    "restart_if_needed",
    "resume_state",
    "safety_margin",
    "save_checkpoint",
    "set_limit",
    "set_policy",
    "set_safety_margin",
    "simulate",
    "used",
]

#: The policies a compile past the limit can follow.
POLICIES: tuple[str, ...] = ("raise", "warn", "recycle")

#: What to do instead, quoted by every budget error (ane-private-api.md §16.3, §20.2).
_ADVICE = (
    "identical programs are served from the cache without spending budget; pass changing weights as inputs "
    "instead of constants (ane-private-api.md §20.2); or use anekit.budget.set_policy('recycle') to compile "
    "in worker processes that are replaced before their budget runs out; or checkpoint and re-exec with "
    "anekit.budget.restart_if_needed()"
)


class CompileBudgetWarning(UserWarning):
    """A compile went past the limit under the ``"warn"`` policy; it may fail or silently return zeros."""


class UnexpectedCompileError(AnekitError, RuntimeError):
    """A real compile was attempted while ``ANEKIT_ASSERT_NO_COMPILE`` (``assert_no_compile``) is on."""


class _Settings:
    """The process-wide overrides set by :func:`set_limit`, :func:`set_policy`, :func:`set_safety_margin`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.limit: int | None = None
        self.margin: int | None = None
        self.policy: str | None = None


_settings = _Settings()
#: The innermost ``with policy(...)`` block of this thread / task (None outside any block).
_scoped_policy: contextvars.ContextVar[str | None] = contextvars.ContextVar("anekit_budget_policy", default=None)


def used() -> int:
    """Compiles spent in this process so far (every backend, every path; cache hits excluded)."""
    return int(_core.compile_count())


def limit() -> int:
    """The per-process compile limit (default 119, ane-private-api.md §16.1)."""
    return _settings.limit if _settings.limit is not None else config.get().compile_limit


def safety_margin() -> int:
    """Compiles kept in reserve below :func:`limit` (default 0)."""
    return _settings.margin if _settings.margin is not None else config.get().compile_safety_margin


def remaining() -> int:
    """Compiles still allowed in this process: ``limit() - safety_margin() - used()``, never negative."""
    return max(0, limit() - safety_margin() - used())


def set_limit(n: int | None) -> None:
    """Set the per-process compile limit; None goes back to the configuration (``ANEKIT_COMPILE_LIMIT``).

    Raises:
        ValueError: ``n`` is not a positive int, or is not above the safety margin.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"anekit.budget.set_limit: expected a positive int or None, got {n!r}")
    if n is not None and safety_margin() >= n:
        raise ValueError(f"anekit.budget.set_limit: limit {n} must be above the safety margin {safety_margin()}")
    with _settings.lock:
        _settings.limit = n


def set_safety_margin(n: int | None) -> None:
    """Keep ``n`` compiles in reserve below the limit; None goes back to ``ANEKIT_COMPILE_SAFETY_MARGIN``.

    Raises:
        ValueError: ``n`` is not an int in ``[0, limit())``.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < limit()):
        raise ValueError(f"anekit.budget.set_safety_margin: expected an int in [0, {limit()}) or None, got {n!r}")
    with _settings.lock:
        _settings.margin = n


def _check_policy(name: object, where: str) -> str:
    if name not in POLICIES:
        raise ValueError(f"{where}: unknown budget policy {name!r}; expected one of {POLICIES}")
    return str(name)


def set_policy(name: str | None) -> None:
    """Set the process-wide policy (``"raise"``, ``"warn"``, ``"recycle"``); None restores the configuration.

    Raises:
        ValueError: unknown policy name.
    """
    if name is not None:
        _check_policy(name, "anekit.budget.set_policy")
    with _settings.lock:
        _settings.policy = name


def get_policy() -> str:
    """The policy in effect here: the innermost ``with policy()``, else :func:`set_policy`, else the config."""
    scoped = _scoped_policy.get()
    if scoped is not None:
        return scoped
    return _settings.policy if _settings.policy is not None else config.get().budget_policy


@contextlib.contextmanager
def policy(name: str) -> Iterator[str]:
    """``with anekit.budget.policy("recycle"): ...``: use ``name`` inside the block (this thread / task only).

    Raises:
        ValueError: unknown policy name.
    """
    token = _scoped_policy.set(_check_policy(name, "anekit.budget.policy"))
    try:
        yield name
    finally:
        _scoped_policy.reset(token)


@contextlib.contextmanager
def simulate(limit: int | None = None, *, failure: str = "raise", latency_ms: float = 0.0) -> Iterator[config.Config]:
    """Simulate the ANE compile budget on the reference backend inside the block (the API equivalent of
    ``ANEKIT_SIMULATE_COMPILE_LIMIT``, ``ANEKIT_SIMULATE_COMPILE_FAILURE``, ``ANEKIT_SIMULATE_COMPILE_LATENCY_MS``).

    Args:
        limit: compiles past this many in the process fail (None: no simulated limit).
        failure: ``"raise"`` (CompileError) or ``"silent"`` (the compile "succeeds", outputs are zeros).
        latency_ms: every reference compile sleeps this long.

    Raises:
        ValueError: an invalid value.
    """
    with config.override(
        simulate_compile_limit=limit, simulate_compile_failure=failure, simulate_compile_latency_ms=latency_ms
    ) as cfg:
        yield cfg


def _exceeded_hint() -> str:
    margin = safety_margin()
    kept = f" (limit {limit()} minus safety margin {margin})" if margin else ""
    return f"the next compile would pass the limit{kept}; {_ADVICE}"


def backend_has_budget(backend: str) -> bool:
    """Whether compiles on ``backend`` spend a budget the limit protects.

    The ANE has one (ane-private-api.md §16). The reference executor has none, except while a limit is being
    simulated (``ANEKIT_SIMULATE_COMPILE_LIMIT`` / :func:`simulate`), so that budget logic is testable anywhere;
    otherwise a Linux user would hit a limit that does not exist. Its compiles are still counted by
    :func:`used`.
    """
    return backend != "reference" or config.get().simulate_compile_limit is not None


def check_compile(what: str = "a program", *, backend: str = "ane") -> None:
    """Apply the budget rules to one real compile about to happen in this process (called by the runtime).

    Args:
        what: names the compile in messages.
        backend: the backend about to compile; the limit applies only where :func:`backend_has_budget`.

    Raises:
        UnexpectedCompileError: ``assert_no_compile`` is on (``ANEKIT_ASSERT_NO_COMPILE=1``).
        CompileBudgetExceeded: the compile would pass the limit and the policy is ``"raise"``.
    """
    if config.get().assert_no_compile:
        raise UnexpectedCompileError(
            f"ANEKIT_ASSERT_NO_COMPILE is set but compiling {what} was not served from the cache "
            f"({used()} compiles spent so far)"
        )
    n, allowed = used(), limit() - safety_margin()
    if n + 1 <= allowed or not backend_has_budget(backend):
        return
    chosen = get_policy()
    if chosen == "warn":
        warnings.warn(
            f"compile {n + 1} passes the compile limit of {allowed} in this process; the ANE may fail it or "
            f"return zeros silently (ane-private-api.md §16.1); {_ADVICE}",
            CompileBudgetWarning,
            stacklevel=3,
        )
        return
    # "raise", and "recycle" reaching an in-process compile (the pool compiles in its workers instead).
    raise CompileBudgetExceeded(n, allowed, _exceeded_hint())
