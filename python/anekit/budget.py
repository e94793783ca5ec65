"""``anekit.budget``: the per-process ANE compile budget, the policy applied when it runs out, and helpers.

A process can compile only about 119 programs on the ANE; past that, compiles fail (sometimes silently) and
unloading gives nothing back (docs/internals/ane-private-api.md §16.1). anekit counts every compile that reaches a
backend in the native core (``anekit._core.compile_count()``, the single source of truth, docs/internals/architecture.md
§8), so every compile path is counted and cache hits are not.

* :func:`used`, :func:`limit`, :func:`safety_margin`, :func:`observed_limit`, :func:`allowed`,
  :func:`remaining`, :func:`applies`, and :func:`report` (all of them at once, printable): the numbers. A
  compile is allowed while ``used() + in-flight compiles + 1 <= allowed()``, where ``allowed()`` is
  ``limit() - safety_margin()``, or the limit observed in this process when the compiler failed earlier.
  Checking and spending are one step: a compile *reserves* its slot, compiles, then releases it (counted by
  then), so threads compiling at once never spend more than allowed.
* Off the ANE (the reference executor, no simulated limit) no limit applies: compiles are counted by
  :func:`used`, :func:`remaining` is None and nothing is ever refused.
* **The end of the budget.** When a compile fails in a process that compiled before, a known-answer canary
  (:mod:`anekit.runtime.canary`) tells an exhausted budget from an invalid program; an exhausted budget raises
  :class:`CompileBudgetExhausted` (a ``CompileBudgetExceeded`` and a ``CompileError``) naming the limit
  observed, which :func:`allowed` applies from then on (the real limit varies by machine and OS and can be
  lower than configured, docs/internals/ane-private-api.md §16.1); :func:`set_limit` forgets it.
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
import dataclasses
import html
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from . import _core, config
from .errors import AnekitError, CompileBudgetExceeded, CompileError
from .runtime.checkpoint import load_checkpoint, restart_if_needed, resume_state, save_checkpoint

if TYPE_CHECKING:
    from .runtime.backend import Backend

_T = TypeVar("_T")

__all__ = [
    "POLICIES",
    "BudgetReport",
    "CompileBudgetExhausted",
    "CompileBudgetWarning",
    "UnexpectedCompileError",
    "allowed",
    "applies",
    "backend_has_budget",
    "check_compile",
    "compile_within_budget",
    "get_policy",
    "limit",
    "load_checkpoint",
    "observed_limit",
    "policy",
    "remaining",
    "report",
    "restart_if_needed",
    "resume_state",
    "safety_margin",
    "save_checkpoint",
    "set_limit",
    "set_policy",
    "set_safety_margin",
    "simulate",
    "slots_in_flight",
    "used",
]

#: The policies a compile past the limit can follow.
POLICIES: tuple[str, ...] = ("raise", "warn", "recycle")

#: What to do instead, quoted by every budget error (docs/internals/ane-private-api.md §16.3, §20.2).
_ADVICE = (
    "identical programs are served from the cache without spending budget; pass changing weights as inputs "
    "instead of constants (docs/internals/ane-private-api.md §20.2); or use anekit.budget.set_policy('recycle') to "
    "compile "
    "in worker processes that are replaced before their budget runs out; or checkpoint and re-exec with "
    "anekit.budget.restart_if_needed()"
)


class CompileBudgetWarning(UserWarning):
    """A compile went past the limit under the ``"warn"`` policy; it may fail or silently return zeros."""


class CompileBudgetExhausted(CompileBudgetExceeded, CompileError):
    """The compiler failed at the end of this process's budget (the failing compile and a known-answer canary
    both failed). It is both a :class:`~anekit.errors.CompileBudgetExceeded` and, since the compiler did
    reject the program, a :class:`~anekit.errors.CompileError` carrying the framework's code and domain.

    Attributes:
        used: compiles that had succeeded in this process before the failure (the observed limit).
        limit: the observed limit (equal to ``used``).
    """

    def __init__(self, observed: int, hint: str, cause: CompileError) -> None:
        CompileBudgetExceeded.__init__(self, observed, observed, hint)
        self.code = cause.code
        self.domain = cause.domain


class UnexpectedCompileError(AnekitError, RuntimeError):
    """A real compile was attempted while ``ANEKIT_ASSERT_NO_COMPILE`` (``assert_no_compile``) is on."""


class _Settings:
    """The process-wide overrides set by :func:`set_limit`, :func:`set_policy`, :func:`set_safety_margin`,
    the limit learned from a failure, and the compiles in flight (reserved, not yet counted or released)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.limit: int | None = None
        self.margin: int | None = None
        self.policy: str | None = None
        self.observed: int | None = None
        # Guards `in_flight`; notified whenever a reservation is released.
        self.slots = threading.Condition(threading.Lock())
        self.in_flight = 0


_settings = _Settings()
#: The innermost ``with policy(...)`` block of this thread / task (None outside any block).
_scoped_policy: contextvars.ContextVar[str | None] = contextvars.ContextVar("anekit_budget_policy", default=None)


def used() -> int:
    """Compiles spent in this process so far (every backend, every path; cache hits excluded)."""
    return int(_core.compile_count())


def limit() -> int:
    """The per-process compile limit: :func:`set_limit`'s, else ``ANEKIT_COMPILE_LIMIT`` / ``config.override``,
    else the limit ``anekit doctor --budget`` measured on this machine, else 119 (docs/internals/ane-private-api.md
    §16.1)."""
    return _settings.limit if _settings.limit is not None else config.setting("compile_limit").value


def safety_margin() -> int:
    """Compiles kept in reserve below :func:`limit` (default 4, or ``limit() - 1`` when the limit is below 5).

    The real limit varies by machine and OS (~119-132 on M4; libane refuses at 115;
    docs/internals/ane-private-api.md §16.1-2) and its end can be silent, so the default stops a few compiles short
    of the configured limit.
    """
    if _settings.margin is not None:
        return _settings.margin
    configured = config.get().compile_safety_margin
    if configured is not None:
        return configured
    return min(config.DEFAULT_COMPILE_SAFETY_MARGIN, limit() - 1)


def observed_limit() -> int | None:
    """The limit this process observed: compiles that had succeeded when the compiler refused one and the
    known-answer canary failed too (None: never observed). :func:`set_limit` clears it."""
    return _settings.observed


def allowed() -> int:
    """Compiles this process may spend in all: ``limit() - safety_margin()``, or the observed limit if lower."""
    configured = limit() - safety_margin()
    observed = _settings.observed
    return configured if observed is None else min(configured, observed)


def applies(backend: str | None = None) -> bool:
    """Whether a compile limit applies to ``backend`` (None: the backend ``anekit.compile`` picks by default).

    On the ANE it does; on the reference executor only while a limit is simulated (:func:`backend_has_budget`).
    """
    if backend is None:
        from .runtime.compile import resolve_backend

        backend = resolve_backend(None).name
    return backend_has_budget(backend)


def remaining() -> int | None:
    """Compiles still allowed in this process (``allowed() - used()``, never negative), or None when no limit
    applies to the default backend (off the ANE: compiles are counted by :func:`used` but never refused)."""
    if not applies():
        return None
    return max(0, allowed() - used())


def set_limit(n: int | None) -> None:
    """Set the per-process compile limit; None goes back to the configuration (``ANEKIT_COMPILE_LIMIT``).
    Either way the limit observed after a failure (:func:`observed_limit`) is forgotten: you decide.

    Raises:
        ValueError: ``n`` is not a positive int, or is not above an explicitly set safety margin.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"anekit.budget.set_limit: expected a positive int or None, got {n!r}")
    explicit_margin = _settings.margin if _settings.margin is not None else config.get().compile_safety_margin
    if n is not None and explicit_margin is not None and explicit_margin >= n:
        raise ValueError(f"anekit.budget.set_limit: limit {n} must be above the safety margin {explicit_margin}")
    with _settings.lock:
        _settings.limit = n
        _settings.observed = None


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
        failure: ``"raise"`` (CompileError), ``"silent"`` (the compile "succeeds", outputs are zeros) or
            ``"crash"`` (the process dies of SIGSEGV, as libane reports; meant for pool workers, since it ends
            the process that compiles).
        latency_ms: every reference compile sleeps this long.

    Raises:
        ValueError: an invalid value.
    """
    with config.override(
        simulate_compile_limit=limit, simulate_compile_failure=failure, simulate_compile_latency_ms=latency_ms
    ) as cfg:
        yield cfg


def _exceeded_hint() -> str:
    margin, observed = safety_margin(), _settings.observed
    if observed is not None and observed < limit() - margin:
        kept = f" (the limit observed in this process, below the configured {limit()} minus safety margin {margin})"
    elif margin:
        kept = f" (limit {limit()} minus safety margin {margin})"
    else:
        kept = ""
    return f"the next compile would pass the limit{kept}; {_ADVICE}"


def backend_has_budget(backend: str) -> bool:
    """Whether compiles on ``backend`` spend a budget the limit protects.

    The ANE has one (docs/internals/ane-private-api.md §16). The reference executor has none, except while a limit
    is being simulated (``ANEKIT_SIMULATE_COMPILE_LIMIT`` / :func:`simulate`), so that budget logic is testable
    anywhere; otherwise a Linux user would hit a limit that does not exist. Its compiles are still counted by
    :func:`used`.
    """
    return backend != "reference" or config.get().simulate_compile_limit is not None


def _refuse_or_warn(n: int, cap: int, stacklevel: int) -> None:
    """The policy's answer to a compile that would make ``n + 1`` compiles with ``cap`` allowed; ``stacklevel``
    points the warning at the user's call (counted from the caller of this function)."""
    if get_policy() == "warn":
        warnings.warn(
            f"compile {n + 1} passes the compile limit of {cap} in this process; the ANE may fail it or "
            f"return zeros silently (docs/internals/ane-private-api.md §16.1); {_ADVICE}",
            CompileBudgetWarning,
            stacklevel=stacklevel + 1,
        )
        return
    # "raise", and "recycle" reaching an in-process compile (the pool compiles in its workers instead).
    raise CompileBudgetExceeded(n, cap, _exceeded_hint())


def _check_assert_no_compile(what: str) -> None:
    if config.get().assert_no_compile:
        raise UnexpectedCompileError(
            f"ANEKIT_ASSERT_NO_COMPILE is set but compiling {what} was not served from the cache "
            f"({used()} compiles spent so far)"
        )


def check_compile(what: str = "a program", *, backend: str = "ane") -> None:
    """Apply the budget rules to one compile about to happen, without reserving a slot for it.

    Use :func:`compile_within_budget` to compile: it checks and reserves in one step, so that concurrent
    compiles cannot all pass the check before any of them is counted.

    Args:
        what: names the compile in messages.
        backend: the backend about to compile; the limit applies only where :func:`backend_has_budget`.

    Raises:
        UnexpectedCompileError: ``assert_no_compile`` is on (``ANEKIT_ASSERT_NO_COMPILE=1``).
        CompileBudgetExceeded: the compile would pass the limit and the policy is ``"raise"``.
    """
    _check_assert_no_compile(what)
    if not backend_has_budget(backend):
        return
    with _settings.slots:
        n, cap = used() + _settings.in_flight, allowed()
    if n + 1 > cap:
        _refuse_or_warn(n, cap, stacklevel=3)  # check_compile <- anekit's caller <- the user


def _reserve(what: str, backend: str) -> bool:
    """Check the limit and take a slot in one step; True when a slot was taken (release it afterwards).

    A compile in flight is counted twice between the moment the native counter counts it and the moment its
    slot is released, so a compile that would not fit while others are in flight waits for them rather than be
    refused on a count that is too high: the limit is then spent exactly, never passed.
    """
    _check_assert_no_compile(what)
    if not backend_has_budget(backend):
        return False
    slots = _settings.slots
    with slots:
        while True:
            n, cap = used(), allowed()
            if n + _settings.in_flight + 1 <= cap:
                _settings.in_flight += 1
                return True
            if not _settings.in_flight:
                break
            slots.wait(timeout=1.0)
    _refuse_or_warn(n, cap, stacklevel=4)  # _reserve <- compile_within_budget <- anekit.compile <- the user
    return False


def slots_in_flight() -> int:
    """Compiles reserved and not yet finished in this process (they count against :func:`allowed`)."""
    return _settings.in_flight


def _release() -> None:
    with _settings.slots:
        _settings.in_flight -= 1
        _settings.slots.notify_all()


def compile_within_budget(backend: Backend, compile: Callable[[], _T], *, what: str = "a program") -> _T:
    """Run ``compile()`` (one real compile on ``backend``) under the budget rules, atomically.

    Reserve a slot (or refuse, or warn, per the policy), compile, release the slot. A compile that fails with
    :class:`~anekit.errors.CompileError` in a process that has compiled before, on a backend with a budget, is
    checked with the known-answer canary (:mod:`anekit.runtime.canary`, one more compile): if the canary fails
    too, the budget is exhausted and the limit it showed is learned (:func:`observed_limit`).

    Raises:
        UnexpectedCompileError: ``assert_no_compile`` is on.
        CompileBudgetExceeded: refused before compiling (policy ``"raise"``).
        CompileBudgetExhausted: the compiler failed at the end of the budget (any policy); the message names the
            limit observed. A subclass of both CompileBudgetExceeded and CompileError.
        CompileError: the program itself does not compile (the canary passed).
    """
    held = _reserve(what, backend.name)
    before = used()
    try:
        return compile()
    except CompileError as exc:
        if before == 0 or not backend_has_budget(backend.name):
            raise
        from .runtime.canary import canary_passes

        if canary_passes(backend):
            raise
        configured = limit() - safety_margin()
        with _settings.lock:
            _settings.observed = before if _settings.observed is None else min(_settings.observed, before)
        raise CompileBudgetExhausted(
            before,
            f"the compiler refused compile {before + 1} of this process ({what}: "
            f"{(str(exc).splitlines() or [type(exc).__name__])[0]}) and a known-answer canary "
            f"compile failed as well, so this process's real compile limit is {before}"
            + (" below" if before < configured else "")
            + f" (anekit allowed {configured}: limit {limit()} minus safety margin {safety_margin()}); compiles "
            f"past it are now "
            f"refused before reaching the compiler (anekit.budget.observed_limit(); anekit.budget.set_limit() "
            f"forgets it); {_ADVICE}",
            exc,
        ) from exc
    finally:
        if held:
            _release()


@dataclasses.dataclass(frozen=True, repr=False)
class BudgetReport:
    """The compile budget of this process at one moment (:func:`report`); shows as text (``repr`` and ``str``,
    what each number means), and as a table in Jupyter.

    Attributes:
        used: compiles spent in this process (every backend; cache hits excluded).
        applies: whether a limit applies to the default backend (False off the ANE: nothing is refused).
        backend: the default backend the answer is about.
        limit: the configured per-process limit (``ANEKIT_COMPILE_LIMIT`` / :func:`set_limit`).
        safety_margin: compiles kept in reserve below ``limit``.
        observed_limit: the limit observed when the compiler failed in this process, or None.
        allowed: compiles this process may spend in all (``limit - safety_margin``, or ``observed_limit``).
        remaining: compiles still allowed, or None when no limit applies.
        in_flight: compiles reserved and still running.
        policy: what a compile past the limit does (``"raise"``, ``"warn"``, ``"recycle"``).
    """

    used: int
    applies: bool
    backend: str
    limit: int
    safety_margin: int
    observed_limit: int | None
    allowed: int
    remaining: int | None
    in_flight: int
    policy: str

    def as_dict(self) -> dict[str, object]:
        """The fields as a plain dict (for JSON and ``anekit.info()``)."""
        return dataclasses.asdict(self)

    def _lines(self) -> list[tuple[str, str]]:
        if self.applies:
            observed = (
                f"; the compiler failed after {self.observed_limit} compiles in this process, so "
                f"{self.observed_limit} is the limit now" if self.observed_limit is not None else ""
            )
            limit_text = (
                f"{self.allowed} compiles per process (limit {self.limit} minus safety margin {self.safety_margin}"
                f"{observed})"
            )
            left = f"{self.remaining}" + (f" ({self.in_flight} compiling now)" if self.in_flight else "")
        else:
            limit_text = (
                f"none on the {self.backend} backend (the ANE's limit of {self.limit} would apply on the ANE "
                "or under a simulated limit)"
            )
            left = "no limit: compiles are counted, never refused"
        return [
            ("used", f"{self.used} compiles in this process (cache hits are free)"),
            ("limit", limit_text),
            ("remaining", left),
            ("policy past the limit", self.policy),
        ]

    def __str__(self) -> str:
        rows = self._lines()
        width = max(len(k) for k, _ in rows)
        return "anekit compile budget\n" + "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self._lines()
        )
        return f"<table><caption style='text-align:left'>anekit compile budget</caption>{body}</table>"


def report(backend: str | None = None) -> BudgetReport:
    """The budget's numbers at this moment, for ``backend`` (None: the default backend), and what they mean.

    ``print(anekit.budget.report())`` explains them; ``anekit.info()["budget"]`` holds the same as a dict.
    """
    if backend is None:
        from .runtime.compile import resolve_backend

        backend = resolve_backend(None).name
    has = backend_has_budget(backend)
    n, cap = used(), allowed()
    return BudgetReport(
        used=n,
        applies=has,
        backend=backend,
        limit=limit(),
        safety_margin=safety_margin(),
        observed_limit=_settings.observed,
        allowed=cap,
        remaining=max(0, cap - n) if has else None,
        in_flight=_settings.in_flight,
        policy=get_policy(),
    )
