"""Test ANE code without a Mac: :func:`fake_ane` points the ANE backend at the bundled fake framework.

The fake is a shared library that defines the private AppleNeuralEngine classes and selectors with the
signatures of the decompiled framework (iOS 26.1 restore image, docs/internals/ane-private-api.md §25) and enforces its
contract loudly: MIL text as UTF-8 NSData that :func:`anekit.mil.parse` accepts, the weights dictionary layout,
model files on disk before compile, ``-[_ANERequest validate]``, the ``processRequest:`` argument types, no
evaluate before load. It is part of Linux builds configured with ``-Ccmake.define.ANEKIT_BUILD_ANE=ON`` and is
never selected implicitly: only this context manager turns it on, for the thread (context) that entered it,
and :func:`anekit.info` reports ``ane_fake: True`` while it is in use.

What public sources still disagree on is a *mode*, so tests can run under every plausible real behaviour:

* ``mode``: ``"reference"`` (evaluation runs the CPU reference executor, so results are right end to end) or
  ``"echo"`` (outputs are copies of the inputs, for host-overhead benchmarks).
* ``binding``: which symbol request index *k* names. ``"declaration"``: the *k*-th input (output) as declared,
  the reading of every upstream bridge (docs/internals/ane-private-api.md §13). ``"alphabetical"``: the *k*-th in
  bytewise sorted name order, as Orion measured on an M4 Max (``docs/ane_constraints.md`` #3/#13, "tested all 6
  permutations of 3 inputs"; dev-erik's abandoned ``-> (q, k, v)`` kernels fit it, §25.2).
* ``surfaces``: ``"exact"`` accepts any surface at least as large as its tensor, page-rounded allocations
  included (``_ANEIOSurfaceObject``, §25.1); ``"uniform"`` also requires every input surface to share one
  allocation size and every output surface one (Orion #2/#12: evaluation fails with status 0x1d).
* ``min_surface_bytes``: smaller surfaces fail at evaluate (Orion #4: about 49,152 bytes on M4 Max).
  Tensors are always read packed from offset 0 of their surface (Orion #14).
* ``budget_end``: how the per-process compile budget ends (``compile_budget``): ``"loud"`` (compile fails with
  an NSError, §16), ``"silent"`` (compile and load "succeed", evaluations write zeros, §16.1) or ``"crash"``
  (the process dies with SIGSEGV, as libane reports; run it in a child process).

Each model keeps the mode, binding and surface rule it was compiled under. Worker processes (the recycling
pool, doctor's child probes) read their defaults from ``ANEKIT_FAKE_MODE``, ``ANEKIT_FAKE_BINDING``,
``ANEKIT_FAKE_SURFACES``, ``ANEKIT_FAKE_MIN_SURFACE_BYTES`` and ``ANEKIT_FAKE_BUDGET_END``;
:meth:`FakeAne.environment` gives the variables describing a block's configuration.

Example::

    with anekit.testing.fake_ane(mode="reference", binding="alphabetical", surfaces="uniform"):
        kernel = anekit.compile(program, backend="ane")
        y = kernel(x=x)

Scope: the block applies to the thread (``contextvars`` context) that entered it; other threads keep choosing
the reference backend. Nested blocks restore the outer configuration when they end. A kernel compiled inside a
block refuses to run once its block has ended (AneUnavailableError) instead of silently changing behaviour.
A process loads one framework for its whole life (Objective-C classes cannot be unloaded,
docs/internals/ane-private-api.md §3.1): after a ``fake_ane`` block the ANE backend stays unusable in that process
rather than silently switching frameworks.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _core, config
from .errors import AneUnavailableError

if TYPE_CHECKING:
    from .mil import Program, Var

__all__ = ["ENV_VARS", "FAULTS", "FakeAne", "FakeConfig", "active_fake", "fake_ane", "fake_framework_path"]

#: Faults the fake can inject: each makes the named framework call fail (*_exception: throw an NSException;
#: ``load_once``: each model's first load fails and a retry succeeds; ``load_unloaded``: load returns YES without
#: loading anything, as near the end of the compile budget).
FAULTS = frozenset(
    {
        "compile",
        "load",
        "evaluate",
        "unload",
        "compile_exception",
        "load_exception",
        "evaluate_exception",
        "load_once",
        "load_unloaded",
    }
)

#: Environment variables that give :func:`fake_ane` its defaults (for worker processes), by argument name.
ENV_VARS: Mapping[str, str] = {
    "mode": "ANEKIT_FAKE_MODE",
    "binding": "ANEKIT_FAKE_BINDING",
    "surfaces": "ANEKIT_FAKE_SURFACES",
    "min_surface_bytes": "ANEKIT_FAKE_MIN_SURFACE_BYTES",
    "budget_end": "ANEKIT_FAKE_BUDGET_END",
}

_CHOICES: Mapping[str, tuple[str, ...]] = {
    "mode": ("reference", "echo"),
    "binding": ("declaration", "alphabetical"),
    "surfaces": ("exact", "uniform"),
    "budget_end": ("loud", "silent", "crash"),
}

_FAKE_LIBRARY = "libFakeAppleNeuralEngine.so"
_lock = threading.Lock()


def fake_framework_path() -> Path:
    """Path of the bundled fake framework.

    Raises:
        AneUnavailableError: this build has no fake (macOS builds, or Linux without ``ANEKIT_BUILD_ANE=ON``).
    """
    if not _core.ane.built():
        raise AneUnavailableError(
            "the fake ANE framework needs the Objective-C++ backend: reinstall with "
            "`pip install . -Ccmake.define.ANEKIT_BUILD_ANE=ON` (Linux: clang + GNUstep, see "
            "scripts/install_objc_toolchain.sh)"
        )
    # Next to the extension module: in an editable install that is site-packages, not the source tree.
    path = Path(_core.__file__).resolve().parent / "_fake" / _FAKE_LIBRARY
    if not path.exists():
        raise AneUnavailableError(f"the fake ANE framework is not part of this build (looked for {path})")
    return path


class _ReferenceEvaluator:
    """The fake's evaluation callback in ``reference`` mode: parse once, run the reference executor.

    Prepared executors are cached by the MIL text and a CRC of every weight file, so repeated evaluations of
    one model cost one parse, while recompiles with new weights (training loops) get fresh executors.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[str, tuple[tuple[str, int, int], ...]], Any] = {}

    def _executor(self, mil_text: str, weights: dict[str, memoryview]) -> Any:
        from .reference.executor import Executor

        key = (mil_text, tuple(sorted((k, len(v), zlib.crc32(v)) for k, v in weights.items())))
        exe = self._cache.get(key)
        if exe is None:
            exe = Executor(_parse(mil_text, weights), precision="ane")
            if len(self._cache) >= 64:  # bounded: drop the oldest
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = exe
        return exe

    def __call__(
        self,
        mil_text: str,
        weights: dict[str, memoryview],
        inputs: dict[str, memoryview],
        outputs: dict[str, memoryview],
    ) -> None:
        exe = self._executor(mil_text, weights)
        fn = exe.function
        result = exe({name: _array(inputs[name], var) for name, var in fn.inputs.items()})
        for var in fn.outputs:
            _array(outputs[var.name], var)[...] = result[var.name]


def _array(buffer: memoryview, var: Var) -> np.ndarray:
    """``buffer`` (a surface's bytes, as the fake hands them over) as an array of the MIL variable's type."""
    dtype = np.float16 if var.type.dtype.name == "fp16" else np.float32
    return np.frombuffer(buffer, dtype=dtype).reshape(var.type.shape)


def _parse(mil_text: str, weights: dict[str, memoryview]) -> Program:
    """The program the fake was given: its MIL text with the weight files it wrote (bytes by model path)."""
    from . import mil

    return mil.parse(mil_text, weights={k: bytes(v) for k, v in weights.items()})


def _check_program(mil_text: str, weights: dict[str, memoryview]) -> None:
    """The fake's compile check: the text must be MIL that :func:`anekit.mil.parse` accepts."""
    _parse(mil_text, weights)


@dataclasses.dataclass(frozen=True)
class FakeConfig:
    """One configuration of the fake framework (the arguments of :func:`fake_ane`), validated on creation."""

    mode: str = "reference"
    binding: str = "declaration"
    surfaces: str = "exact"
    min_surface_bytes: int = 0
    budget_end: str = "loud"
    compile_budget: int | None = None
    faults: frozenset[str] = frozenset()
    disabled_selectors: frozenset[str] = frozenset()
    perf_stats_ns: int = 0
    model_attributes: bool = True
    check_programs: bool = True

    def __post_init__(self) -> None:
        for name, choices in _CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise ValueError(f"fake_ane: {name} must be one of {list(choices)}, got {value!r}")
        # Ranges are what the native configuration holds (uint64 ns, int64 counts): a bigger value is refused
        # here, naming the argument, instead of failing in pybind11's conversion.
        for name, limit in (("min_surface_bytes", 2**63), ("perf_stats_ns", 2**64), ("compile_budget", 2**63)):
            value = getattr(self, name)
            if name == "compile_budget" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"fake_ane: {name} must be an int, got {value!r}")
            if not 0 <= value < limit:
                raise ValueError(f"fake_ane: {name} must be in 0..{limit - 1}, got {value}")
        for name in ("faults", "disabled_selectors"):
            value = getattr(self, name)
            items = list(value) if isinstance(value, Iterable) and not isinstance(value, (str, bytes)) else None
            if items is None or not all(isinstance(v, str) for v in items):
                raise TypeError(f"fake_ane: {name} must be an iterable of str, got {value!r}")
            object.__setattr__(self, name, frozenset(items))
        bad = sorted(self.faults - FAULTS)
        if bad:
            raise ValueError(f"fake_ane: unknown fault(s) {bad}; expected some of {sorted(FAULTS)}")
        for name in ("model_attributes", "check_programs"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"fake_ane: {name} must be a bool, got {getattr(self, name)!r}")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **given: Any) -> FakeConfig:
        """The configuration from ``given`` arguments, then :data:`ENV_VARS`, then the defaults.

        Raises:
            ValueError: a bad value (an environment value is named with its variable).
        """
        env = os.environ if environ is None else environ
        values = {k: v for k, v in given.items() if v is not None}
        for name, var in ENV_VARS.items():
            if name in values or var not in env:
                continue
            raw = env[var].strip()
            if name == "min_surface_bytes":
                if not raw.isdigit():
                    raise ValueError(f"{var} must be a non-negative integer, got {env[var]!r}")
                values[name] = int(raw)
            elif raw not in _CHOICES[name]:
                raise ValueError(f"{var} must be one of {list(_CHOICES[name])}, got {env[var]!r}")
            else:
                values[name] = raw
        return cls(**values)

    def environment(self) -> dict[str, str]:
        """The :data:`ENV_VARS` that reproduce this configuration's modes in a child process."""
        return {var: str(getattr(self, name)) for name, var in ENV_VARS.items()}

    def apply(self) -> None:
        """Send this configuration to the fake framework and register the matching callbacks."""
        _core.ane.fake_configure(
            mode=self.mode,
            compile_budget=-1 if self.compile_budget is None else self.compile_budget,
            budget_end=self.budget_end,
            binding=self.binding,
            surfaces=self.surfaces,
            min_surface_bytes=self.min_surface_bytes,
            model_attributes=self.model_attributes,
            faults=set(self.faults),
            disabled_selectors=set(self.disabled_selectors),
            perf_stats_ns=self.perf_stats_ns,
        )
        _core.ane.set_fake_compile_checker(_check_program if self.check_programs else None)


class FakeAne:
    """Handle yielded by :func:`fake_ane`: the fake's counters and live reconfiguration.

    Attributes:
        path: the fake framework's shared library.
        config: the configuration in force for this block.
        active: False once the block has ended (kernels compiled in it then refuse to run).
    """

    def __init__(self, path: Path, cfg: FakeConfig) -> None:
        self.path = path
        self.config = cfg
        self.active = True

    def stats(self) -> dict[str, int]:
        """The fake's counters (compiles, evaluations, live models, ...)."""
        return dict(_core.ane.fake_stats())

    def environment(self) -> dict[str, str]:
        """Environment variables that make a child's :func:`fake_ane` default to this block's modes."""
        return self.config.environment()

    def configure(self, **changes: Any) -> None:
        """Change the fake's behaviour inside the block (arguments as for :func:`fake_ane`, unnamed ones kept).

        Models already compiled keep the mode, binding and surface rule they were compiled with.

        Raises:
            ValueError: an unknown argument or a bad value (the configuration is then unchanged).
        """
        fields = {f.name for f in dataclasses.fields(FakeConfig)}
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise ValueError(f"fake_ane: unknown setting(s) {unknown}; expected some of {sorted(fields)}")
        cfg = dataclasses.replace(self.config, **changes)
        with _lock:
            self.config = cfg
            if _blocks and _blocks[-1] is self:
                cfg.apply()


# Blocks open in the process, innermost last: the fake framework is process-wide, so the configuration in force
# is the most recently entered open block's. _current is the innermost block of *this* context (thread).
_blocks: list[FakeAne] = []
_current: contextvars.ContextVar[FakeAne | None] = contextvars.ContextVar("anekit_fake_ane", default=None)


def active_fake() -> FakeAne | None:
    """The innermost :func:`fake_ane` block of the calling thread (context), or None outside any block."""
    block = _current.get()
    return block if block is not None and block.active else None



@contextlib.contextmanager
def fake_ane(
    mode: str | None = None,
    *,
    binding: str | None = None,
    surfaces: str | None = None,
    min_surface_bytes: int | None = None,
    budget_end: str | None = None,
    faults: Iterable[str] = (),
    compile_budget: int | None = None,
    disabled_selectors: Iterable[str] = (),
    perf_stats_ns: int = 0,
    model_attributes: bool = True,
    check_programs: bool = True,
) -> Iterator[FakeAne]:
    """Run the ANE backend against the bundled fake framework for the duration of the block.

    Arguments left as None take their value from :data:`ENV_VARS`, then from the defaults shown.

    Args:
        mode: ``"reference"`` (default; outputs computed by the reference executor) or ``"echo"``.
        binding: ``"declaration"`` (default) or ``"alphabetical"``: which symbol request index *k* names.
        surfaces: ``"exact"`` (default; each surface at least its tensor's size) or ``"uniform"`` (also one
            allocation size per side).
        min_surface_bytes: surfaces smaller than this fail at evaluate (default 0).
        budget_end: ``"loud"`` (default), ``"silent"`` or ``"crash"``: how compiles past ``compile_budget`` end.
        faults: framework calls that fail (see :data:`FAULTS`).
        compile_budget: compiles the fake allows per process (None = unlimited), as the real framework does after
            about 119 (docs/internals/ane-private-api.md §16).
        disabled_selectors: ``_ANEClient`` selectors the fake pretends not to have (to test path fallbacks).
        perf_stats_ns: when > 0, the fake writes this hardware time into statType-2 performance-statistics
            surfaces (the backend's ``perf_stats=True``).
        model_attributes: loaded models report their symbol tables through ``modelAttributes``.
        check_programs: reject, at compile time, MIL text that :func:`anekit.mil.parse` does not accept.

    Raises:
        AneUnavailableError: the fake is not part of this build, or another framework is already loaded.
        ValueError: an unknown mode, fault or setting (environment values are named with their variable).
    """
    cfg = FakeConfig.from_environment(
        mode=mode,
        binding=binding,
        surfaces=surfaces,
        min_surface_bytes=min_surface_bytes,
        budget_end=budget_end,
        faults=faults,  # type: ignore[arg-type]  (FakeConfig checks and freezes it)
        compile_budget=compile_budget,
        disabled_selectors=disabled_selectors,  # type: ignore[arg-type]
        perf_stats_ns=perf_stats_ns,
        model_attributes=model_attributes,
        check_programs=check_programs,
    )
    path = fake_framework_path()
    handle = FakeAne(path, cfg)
    with _lock:
        usable, why = _core.ane.initialize(str(path))
        if not usable:
            raise AneUnavailableError(f"cannot load the fake ANE framework: {why}")
        if not _core.ane.runtime_info().get("is_fake"):
            raise AneUnavailableError("another ANE framework is already loaded in this process")
        if not _blocks:
            _core.ane.fake_reset()  # counters and budget start from zero with the outermost block
            _core.ane.set_fake_evaluator(_ReferenceEvaluator())
        _blocks.append(handle)
        try:
            cfg.apply()
        except BaseException:
            _blocks.remove(handle)
            raise
    token = _current.set(handle)
    try:
        with config.override(ane_framework=str(path)):
            yield handle
    finally:
        _current.reset(token)
        _end_block(handle)


def _end_block(handle: FakeAne) -> None:
    """Close ``handle``'s block: its kernels stop running, the enclosing configuration comes back."""
    from .runtime.cache import default_cache

    with _lock:
        handle.active = False
        was_last = _blocks[-1] is handle
        _blocks.remove(handle)
        # Faults must not stop the cleanup below (an injected unload failure would fail every eviction).
        _core.ane.fake_configure(mode=handle.config.mode)
    try:
        # Models compiled on the fake must not be served from the content cache after the block.
        default_cache().evict_backend("ane")
    finally:
        with _lock:
            if _blocks:
                if was_last:
                    _blocks[-1].config.apply()
            else:
                _core.ane.set_fake_evaluator(None)
                _core.ane.set_fake_compile_checker(None)
                _core.ane.fake_reset()
