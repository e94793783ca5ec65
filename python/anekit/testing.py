"""Test ANE code without a Mac: :func:`fake_ane` points the ANE backend at the bundled fake framework.

The fake is a shared library that defines the private AppleNeuralEngine classes and selectors with their real
signatures and enforces the documented contract (MIL text as UTF-8 NSData that :func:`anekit.mil.parse`
accepts, the weights dictionary layout, model files on disk before compile, surface sizes matching the
program's I/O, no evaluate before load). It is part of Linux builds configured with
``-Ccmake.define.ANEKIT_BUILD_ANE=ON`` and is never selected implicitly: only this context manager turns it on,
and :func:`anekit.info` reports ``ane_fake: True`` while it is in use.

Modes:

* ``"reference"``: evaluation delegates to the CPU reference executor, so a program compiled and run through the
  real Objective-C++ backend returns the right numbers end to end;
* ``"echo"``: outputs are copies of the inputs (for host-overhead benchmarks).

Example::

    with anekit.testing.fake_ane(mode="reference"):
        kernel = anekit.compile(program, backend="ane")
        y = kernel(x=x)

A process loads one framework for its whole life (Objective-C classes cannot be unloaded,
ane-private-api.md §3.1): after a ``fake_ane`` block the ANE backend stays unusable in that process rather than
silently switching frameworks.
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _core, config
from .errors import AneUnavailableError

if TYPE_CHECKING:
    from .mil import Program, Var

__all__ = ["FAULTS", "FakeAne", "fake_ane", "fake_framework_path"]

#: Faults the fake can inject (each makes the named framework call fail; *_exception throws an NSException).
FAULTS = frozenset(
    {"compile", "load", "evaluate", "unload", "compile_exception", "load_exception", "evaluate_exception"}
)

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


class FakeAne:
    """Handle yielded by :func:`fake_ane`: the fake's counters and live reconfiguration."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def stats(self) -> dict[str, int]:
        """The fake's counters (compiles, evaluations, live models, ...)."""
        return dict(_core.ane.fake_stats())

    def configure(
        self,
        *,
        mode: str = "reference",
        faults: Iterable[str] = (),
        compile_budget: int | None = None,
        budget_failure: str = "loud",
        disabled_selectors: Iterable[str] = (),
        perf_stats_ns: int = 0,
    ) -> None:
        """Change the fake's behaviour inside the block (arguments as for :func:`fake_ane`)."""
        if mode not in ("reference", "echo"):
            raise ValueError(f"fake_ane: mode must be 'reference' or 'echo', got {mode!r}")
        faults = _str_set("faults", faults)
        disabled_selectors = _str_set("disabled_selectors", disabled_selectors)
        bad = sorted(set(faults) - FAULTS)
        if bad:
            raise ValueError(f"fake_ane: unknown fault(s) {bad}; expected some of {sorted(FAULTS)}")
        if budget_failure not in ("loud", "silent"):
            raise ValueError(f"fake_ane: budget_failure must be 'loud' or 'silent', got {budget_failure!r}")
        if compile_budget is not None and (not isinstance(compile_budget, int) or compile_budget < 0):
            raise ValueError(f"fake_ane: compile_budget must be a non-negative int or None, got {compile_budget!r}")
        _check_uint("compile_budget", compile_budget if compile_budget is not None else 0, 2**63)
        _check_uint("perf_stats_ns", perf_stats_ns, 2**64)
        _core.ane.fake_configure(
            mode=mode,
            compile_budget=-1 if compile_budget is None else compile_budget,
            budget_failure=budget_failure,
            faults=faults,
            disabled_selectors=disabled_selectors,
            perf_stats_ns=perf_stats_ns,
        )
        _core.ane.set_fake_evaluator(_ReferenceEvaluator() if mode == "reference" else None)


def _str_set(what: str, names: object) -> set[str]:
    """``names`` as a set of str, or a TypeError naming the argument (a bare str is refused, not split)."""
    items = list(names) if isinstance(names, Iterable) and not isinstance(names, (str, bytes)) else None
    if items is None or not all(isinstance(n, str) for n in items):
        raise TypeError(f"fake_ane: {what} must be an iterable of str, got {names!r}")
    return set(items)


def _check_uint(what: str, value: object, limit: int) -> None:
    """Refuse what the native configuration cannot hold, naming the argument (no pybind11 cast error)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"fake_ane: {what} must be an int, got {value!r}")
    if not 0 <= value < limit:
        raise ValueError(f"fake_ane: {what} must be in 0..{limit - 1}, got {value}")


@contextlib.contextmanager
def fake_ane(
    mode: str = "reference",
    *,
    faults: Iterable[str] = (),
    compile_budget: int | None = None,
    budget_failure: str = "loud",
    disabled_selectors: Iterable[str] = (),
    perf_stats_ns: int = 0,
    check_programs: bool = True,
) -> Iterator[FakeAne]:
    """Run the ANE backend against the bundled fake framework for the duration of the block.

    Args:
        mode: ``"reference"`` (outputs computed by the reference executor) or ``"echo"`` (inputs copied).
        faults: framework calls that fail (see :data:`FAULTS`).
        compile_budget: compiles the fake allows per process before failing (None = unlimited), as the real
            framework does after about 119 (ane-private-api.md §16).
        budget_failure: how over-budget compiles fail: ``"loud"`` (NSError) or ``"silent"`` (they "succeed" and
            outputs are zeros, as reported on real machines).
        disabled_selectors: ``_ANEClient`` selectors the fake pretends not to have (to test path fallbacks).
        perf_stats_ns: when > 0, the fake reports this hardware execution time through _ANEPerformanceStats.
        check_programs: reject, at compile time, MIL text that :func:`anekit.mil.parse` does not accept.

    Raises:
        AneUnavailableError: the fake is not part of this build, or another framework is already loaded.
        ValueError: an unknown mode, fault or budget setting.
    """
    path = fake_framework_path()
    with _lock:
        usable, why = _core.ane.initialize(str(path))
        if not usable:
            raise AneUnavailableError(f"cannot load the fake ANE framework: {why}")
        if not _core.ane.runtime_info().get("is_fake"):
            raise AneUnavailableError("another ANE framework is already loaded in this process")
        handle = FakeAne(path)
        _core.ane.fake_reset()
        handle.configure(
            mode=mode,
            faults=faults,
            compile_budget=compile_budget,
            budget_failure=budget_failure,
            disabled_selectors=disabled_selectors,
            perf_stats_ns=perf_stats_ns,
        )
        _core.ane.set_fake_compile_checker(_check_program if check_programs else None)
    try:
        with config.override(ane_framework=str(path)):
            yield handle
    finally:
        from .runtime.cache import default_cache

        # Models compiled on the fake must not be served from the content cache after the block.
        default_cache().evict_backend("ane")
        with _lock:
            _core.ane.set_fake_evaluator(None)
            _core.ane.set_fake_compile_checker(None)
            _core.ane.fake_reset()
