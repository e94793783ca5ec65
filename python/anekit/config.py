"""Run-time configuration: every ``ANEKIT_*`` environment variable, read in one place.

Precedence: explicit keyword arguments at a call site (``backend=``, ``limit=`` ...) override the active
configuration; the active configuration (including :func:`override` blocks) overrides the environment
defaults, which are read when this module is imported (and again by :func:`reload_from_env`). C++ never reads
the environment: values are passed to it explicitly.

Three values are settled per machine by ``anekit doctor`` (:data:`DOCTOR_SETTLED`): the ANE surface allocation
rule, the smallest surface allocation and the compile limit. Read them with :func:`setting`, which applies the
precedence environment variable / :func:`override` > this machine's saved doctor report > documented default and
says where the value came from (``anekit.info()["settings"]`` shows the same).

Variables:

=================================  =====================================================================
``ANEKIT_BACKEND``                 default backend name (``ane`` or ``reference``); unset = best available
``ANEKIT_COMPILE_LIMIT``           compiles allowed per process (default 119, docs/internals/ane-private-api.md §16)
``ANEKIT_SIMULATE_COMPILE_LIMIT``  reference backend: fail compiles past N per process (tests)
``ANEKIT_SIMULATE_COMPILE_FAILURE`` ``raise``, ``silent`` or ``crash``: how simulated over-limit compiles fail
``ANEKIT_SIMULATE_COMPILE_LATENCY_MS`` reference backend: sleep this long in every compile (benchmarks)
``ANEKIT_BUDGET_POLICY``           ``raise``, ``warn`` or ``recycle``: what a compile past the limit does
``ANEKIT_COMPILE_SAFETY_MARGIN``   compiles kept in reserve below the limit (default 4, at most limit - 1)
``ANEKIT_POOL_SPREAD``             ``1``: the recycling pool may spread kernels in use over several workers
``ANEKIT_CACHE_SIZE``              loaded programs kept by the in-process content cache (default 256)
``ANEKIT_ANE_FRAMEWORK``           framework binary to dlopen (default: the system's private framework)
``ANEKIT_ANE_SURFACES``            ``uniform`` (default: one allocation size per side) or ``exact``: ANE surface sizes
``ANEKIT_ANE_MIN_SURFACE_BYTES``   smallest ANE surface allocation (default 49152, docs/internals/ane-private-api.md
§25.3) ``ANEKIT_ASSERT_NO_COMPILE``       ``1``: any real compile raises (proves a loop runs from cache)
``ANEKIT_CACHE_DIR``               where persistent artefacts live
``ANEKIT_DEBUG``                   verbosity (0 = quiet)
``ANEKIT_PROGRESS``                ``0``: never show progress; ``1``: always (stderr); unset: on a TTY or notebook
``ANEKIT_REFERENCE_BLAS_THREADS``  OpenBLAS threads while the reference executor runs (default 1; 0: leave alone)
=================================  =====================================================================

Unset, ``ANEKIT_COMPILE_LIMIT``, ``ANEKIT_ANE_SURFACES`` and ``ANEKIT_ANE_MIN_SURFACE_BYTES`` take this machine's
saved ``anekit doctor`` finding before their default (:func:`setting`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_FRAMEWORK_PATH",
    "DOCTOR_SETTLED",
    "Config",
    "Setting",
    "get",
    "override",
    "reload_from_env",
    "setting",
]

#: Where macOS keeps the private framework (docs/internals/ane-private-api.md §3.1).
DEFAULT_FRAMEWORK_PATH = "/System/Library/PrivateFrameworks/AppleNeuralEngine.framework/AppleNeuralEngine"

#: Compiles a process gets before the ANE compiler starts failing (docs/internals/ane-private-api.md §16.1: ~119
#: observed).
DEFAULT_COMPILE_LIMIT = 119
#: Compiles kept in reserve below the limit by default: the limit varies by machine and OS (~119-132 on M4,
#: maderix/ANE#23; libane refuses at 115, docs/internals/ane-private-api.md §16.1-16.2) and its end can be silent, so
#: anekit stops a few compiles short of it (issue #10).
DEFAULT_COMPILE_SAFETY_MARGIN = 4

_BACKENDS = ("ane", "reference")
_FAILURE_MODES = ("raise", "silent", "crash")
_POLICIES = ("raise", "warn", "recycle")


@dataclass(frozen=True)
class Config:
    """A snapshot of anekit's configuration. Use :func:`get` to read it, :func:`override` to change it."""

    backend: str | None = None
    compile_limit: int = DEFAULT_COMPILE_LIMIT
    simulate_compile_limit: int | None = None
    simulate_compile_failure: str = "raise"
    simulate_compile_latency_ms: float = 0.0
    budget_policy: str = "raise"
    #: None: the default, ``min(DEFAULT_COMPILE_SAFETY_MARGIN, compile_limit - 1)`` (``anekit.budget.safety_margin()``).
    compile_safety_margin: int | None = None
    pool_spread: bool = False
    cache_size: int = 256
    ane_framework: str = DEFAULT_FRAMEWORK_PATH
    ane_surfaces: str = "uniform"
    ane_min_surface_bytes: int = 49152
    assert_no_compile: bool = False
    cache_dir: str = str(Path.home() / ".cache" / "anekit")
    debug: int = 0
    progress: bool | None = None
    #: OpenBLAS threads during reference-executor runs (:mod:`anekit.reference.blas_threads`); 0 leaves BLAS alone.
    reference_blas_threads: int = 1
    #: Field name -> where its value was set explicitly (``"env ANEKIT_..."`` or ``"config.override"``); fields
    #: absent here hold their documented default. Lets :func:`setting` give doctor's findings precedence over a
    #: default but never over a value the user chose.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.backend is not None and self.backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS} or None, got {self.backend!r}")
        if not isinstance(self.compile_limit, int) or self.compile_limit < 1:
            raise ValueError(f"compile_limit must be a positive int, got {self.compile_limit!r}")
        if self.simulate_compile_limit is not None and (
            not isinstance(self.simulate_compile_limit, int) or self.simulate_compile_limit < 0
        ):
            raise ValueError(
                f"simulate_compile_limit must be a non-negative int or None, got {self.simulate_compile_limit!r}"
            )
        if self.simulate_compile_failure not in _FAILURE_MODES:
            raise ValueError(
                f"simulate_compile_failure must be one of {_FAILURE_MODES}, got {self.simulate_compile_failure!r}"
            )
        if not isinstance(self.simulate_compile_latency_ms, (int, float)) or self.simulate_compile_latency_ms < 0:
            raise ValueError(
                f"simulate_compile_latency_ms must be a non-negative number, got {self.simulate_compile_latency_ms!r}"
            )
        if self.budget_policy not in _POLICIES:
            raise ValueError(f"budget_policy must be one of {_POLICIES}, got {self.budget_policy!r}")
        margin = self.compile_safety_margin
        if margin is not None and (
            isinstance(margin, bool) or not isinstance(margin, int) or not 0 <= margin < self.compile_limit
        ):
            raise ValueError(
                f"compile_safety_margin must be an int in [0, compile_limit={self.compile_limit}), "
                f"got {self.compile_safety_margin!r}"
            )
        if not isinstance(self.pool_spread, bool):
            raise ValueError(f"pool_spread must be a bool, got {self.pool_spread!r}")
        threads = self.reference_blas_threads
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ValueError(f"reference_blas_threads must be an int >= 0 (0: leave BLAS alone), got {threads!r}")
        if not isinstance(self.cache_size, int) or self.cache_size < 0:
            raise ValueError(f"cache_size must be a non-negative int, got {self.cache_size!r}")
        if self.ane_surfaces not in ("uniform", "exact"):
            raise ValueError(f"ane_surfaces must be 'uniform' or 'exact', got {self.ane_surfaces!r}")
        if (
            isinstance(self.ane_min_surface_bytes, bool)
            or not isinstance(self.ane_min_surface_bytes, int)
            or not 0 <= self.ane_min_surface_bytes <= 1 << 30
        ):
            raise ValueError(f"ane_min_surface_bytes must be an int in [0, 2**30], got {self.ane_min_surface_bytes!r}")
        if not isinstance(self.debug, int) or self.debug < 0:
            raise ValueError(f"debug must be a non-negative int, got {self.debug!r}")
        if self.progress is not None and not isinstance(self.progress, bool):
            raise ValueError(f"progress must be a bool or None (automatic), got {self.progress!r}")


_Number = TypeVar("_Number", int, float)


def _env_number(env: Mapping[str, str], name: str, default: _Number | None, parse: type[_Number]) -> _Number | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError:
        what = "an integer" if parse is int else "a number"
        raise ValueError(f"environment variable {name} must be {what}, got {raw!r}") from None


def _env_bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"environment variable {name} must be 0/1/true/false, got {raw!r}")


#: Config field -> the environment variable that sets it.
_ENV_NAMES = {
    "backend": "ANEKIT_BACKEND",
    "compile_limit": "ANEKIT_COMPILE_LIMIT",
    "simulate_compile_limit": "ANEKIT_SIMULATE_COMPILE_LIMIT",
    "simulate_compile_failure": "ANEKIT_SIMULATE_COMPILE_FAILURE",
    "simulate_compile_latency_ms": "ANEKIT_SIMULATE_COMPILE_LATENCY_MS",
    "budget_policy": "ANEKIT_BUDGET_POLICY",
    "compile_safety_margin": "ANEKIT_COMPILE_SAFETY_MARGIN",
    "pool_spread": "ANEKIT_POOL_SPREAD",
    "cache_size": "ANEKIT_CACHE_SIZE",
    "ane_framework": "ANEKIT_ANE_FRAMEWORK",
    "ane_surfaces": "ANEKIT_ANE_SURFACES",
    "ane_min_surface_bytes": "ANEKIT_ANE_MIN_SURFACE_BYTES",
    "assert_no_compile": "ANEKIT_ASSERT_NO_COMPILE",
    "cache_dir": "ANEKIT_CACHE_DIR",
    "debug": "ANEKIT_DEBUG",
    "progress": "ANEKIT_PROGRESS",
    "reference_blas_threads": "ANEKIT_REFERENCE_BLAS_THREADS",
}


def from_env(env: Mapping[str, str] | None = None) -> Config:
    """Build a :class:`Config` from environment variables (``os.environ`` by default)."""
    env = os.environ if env is None else env
    defaults = Config()
    sources = {name: f"env {var}" for name, var in _ENV_NAMES.items() if env.get(var, "").strip()}
    return Config(
        backend=env.get("ANEKIT_BACKEND") or None,
        compile_limit=_env_number(env, "ANEKIT_COMPILE_LIMIT", defaults.compile_limit, int),
        simulate_compile_limit=_env_number(env, "ANEKIT_SIMULATE_COMPILE_LIMIT", None, int),
        simulate_compile_failure=env.get("ANEKIT_SIMULATE_COMPILE_FAILURE") or "raise",
        simulate_compile_latency_ms=_env_number(env, "ANEKIT_SIMULATE_COMPILE_LATENCY_MS", 0.0, float),
        budget_policy=env.get("ANEKIT_BUDGET_POLICY") or "raise",
        compile_safety_margin=_env_number(env, "ANEKIT_COMPILE_SAFETY_MARGIN", None, int),
        pool_spread=_env_bool(env, "ANEKIT_POOL_SPREAD"),
        cache_size=_env_number(env, "ANEKIT_CACHE_SIZE", defaults.cache_size, int),
        ane_framework=env.get("ANEKIT_ANE_FRAMEWORK") or DEFAULT_FRAMEWORK_PATH,
        ane_surfaces=env.get("ANEKIT_ANE_SURFACES", "").strip() or "uniform",
        ane_min_surface_bytes=_env_number(env, "ANEKIT_ANE_MIN_SURFACE_BYTES", defaults.ane_min_surface_bytes, int),
        assert_no_compile=_env_bool(env, "ANEKIT_ASSERT_NO_COMPILE"),
        cache_dir=env.get("ANEKIT_CACHE_DIR") or defaults.cache_dir,
        debug=_env_number(env, "ANEKIT_DEBUG", 0, int),
        progress=_env_bool(env, "ANEKIT_PROGRESS") if env.get("ANEKIT_PROGRESS", "").strip() else None,
        reference_blas_threads=_env_number(
            env, "ANEKIT_REFERENCE_BLAS_THREADS", defaults.reference_blas_threads, int
        ),
        sources=sources,
    )


_lock = threading.Lock()
_current = from_env()


def get() -> Config:
    """The active configuration."""
    return _current


def reload_from_env() -> Config:
    """Re-read the environment (e.g. after a test changed ``os.environ``) and make it active."""
    global _current
    with _lock:
        _current = from_env()
        return _current


@contextlib.contextmanager
def override(**changes: object) -> Iterator[Config]:
    """Temporarily replace configuration fields: ``with config.override(compile_limit=5): ...``.

    Raises:
        TypeError: an unknown field name.
        ValueError: an invalid value (checked by :class:`Config`).
    """
    global _current
    fields = {f.name for f in dataclasses.fields(Config)} - {"sources"}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise TypeError(f"unknown configuration field(s) {unknown}; expected some of {sorted(fields)}")
    with _lock:
        previous = _current
        sources = {**previous.sources, **dict.fromkeys(changes, "config.override")}
        _current = dataclasses.replace(previous, **changes, sources=sources)  # type: ignore[arg-type]
    try:
        yield _current
    finally:
        with _lock:
            _current = previous


#: The values ``anekit doctor`` settles per machine, which :func:`setting` takes from its saved report when the
#: user has not set them: the surface allocation rule and minimum (docs/internals/ane-private-api.md §25.3) and the
#: compile limit (§16.1).
DOCTOR_SETTLED = ("ane_surfaces", "ane_min_surface_bytes", "compile_limit")


@dataclass(frozen=True)
class Setting:
    """A configuration value and where it came from.

    Attributes:
        value: the value in effect.
        source: ``"env ANEKIT_..."``, ``"config.override"``, ``"doctor report of <date>"`` or ``"default"``.
    """

    value: Any
    source: str


def setting(name: str) -> Setting:
    """The value of a doctor-settled field (:data:`DOCTOR_SETTLED`) in effect now, and where it came from.

    Precedence: an environment variable or :func:`override` the user set; else this machine's saved doctor
    report (``anekit doctor``; only findings it settled, e.g. the compile limit only when it was measured); else
    the documented default.

    Raises:
        ValueError: ``name`` is not one of :data:`DOCTOR_SETTLED`.
    """
    if name not in DOCTOR_SETTLED:
        raise ValueError(f"setting: {name!r} is not settled by doctor; expected one of {DOCTOR_SETTLED}")
    cfg = _current
    if name in cfg.sources:
        return Setting(getattr(cfg, name), cfg.sources[name])
    from .doctor.report import settled_values

    found = settled_values()
    if found is not None and name in found[0]:
        return Setting(found[0][name], found[1])
    return Setting(getattr(cfg, name), "default")
