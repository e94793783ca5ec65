"""``anekit.compile``: program -> :class:`Kernel` on the best (or the named) backend.

Every compile goes through the budget rules (:mod:`anekit.budget`) and the content cache
(:mod:`anekit.runtime.cache`): a program already compiled in this process with the same options is served from
the cache without spending budget; a real compile is checked against the limit and the policy first. Under the
``"recycle"`` policy the kernel is compiled and run in the recycling worker pool (:mod:`anekit.runtime.pool`).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from .. import budget, config
from ..errors import AnekitError
from ..mil.ir import Program
from ..progress import progress
from .backend import Backend, get_backend
from .cache import default_cache, program_key
from .kernel import DEFAULT_QOS, Kernel

__all__ = ["compile", "not_a_program", "resolve_backend"]


def not_a_program(caller: str, value: object) -> str:
    """Why ``value`` is not accepted where a Program is expected, and how to get a Program from it."""
    kind = type(value)
    where = f"{kind.__module__}.{kind.__qualname__}"
    message = f"{caller}: expected an anekit.mil.Program, got {where}"
    if kind.__module__.split(".")[0] == "torch":
        return (
            f"{message}. Convert the module first: program = anekit.from_torch(module, example_inputs) "
            "(needs coremltools and torch), then anekit.compile(program); or write the network with "
            "anekit.mil.Builder"
        )
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        return (
            f"{message}; to compile a model file (.mlmodelc, .mlpackage, .mlmodel), load it first: "
            "anekit.mil.load(path) (or mil.parse(text))"
        )
    return message


class _BackendMemo:
    """Resolved backends per (requested name, active config): ``get_backend(None)`` probes the platform, which
    costs more than a cache hit is allowed to (≤ 50 µs, issue #6)."""

    lock = threading.Lock()
    resolved: ClassVar[dict[tuple[str | None, config.Config, bool], Backend]] = {}


def _fake_active() -> bool:
    from ..testing import active_fake

    return active_fake() is not None


def resolve_backend(name: str | None) -> Backend:
    """:func:`~anekit.runtime.backend.get_backend`, memoised for the active configuration."""
    # The fake ANE framework serves only the thread inside its block, so whether one is active is part of the key.
    key = (name, config.get(), _fake_active())
    hit = _BackendMemo.resolved.get(key)
    if hit is None:
        hit = get_backend(name)
        with _BackendMemo.lock:
            if len(_BackendMemo.resolved) > 16:
                _BackendMemo.resolved.clear()
            _BackendMemo.resolved[key] = hit
    return hit


def refuse_invalid(program: Program, function: str) -> None:
    """Raise before any budget is spent or memory allocated when ``mil.validate`` finds an error.

    Validation errors are programs the ANE compiler is documented to reject (or that are not valid MIL); the
    reference backend models the ANE, so it refuses them too. Checking first matters for sizes: a
    ``[1, 2**31, 1, 1]`` input (``ane-dim-limit``) used to "compile" on the reference backend by zero-filling
    8 GB of surfaces (issue #11 item 13). Only the compiled function's findings count.

    Raises:
        MILError: listing every error finding of ``function`` (or of the program as a whole).
    """
    from ..errors import MILError
    from ..mil.validate import validate

    errors = [d for d in validate(program, "ane") if d.severity == "error" and d.function in (None, function)]
    if errors:
        lines = "\n".join(f"  {d}" for d in errors[:20])
        if len(errors) > 20:
            lines += f"\n  … and {len(errors) - 20} more"
        raise MILError(f"anekit.compile: function {function!r} fails validation, nothing was compiled:\n{lines}")


def compile(
    program: Program,
    *,
    backend: str | None = None,
    function: str = "main",
    path: str = "standard",
    qos: int = DEFAULT_QOS,
    cache: bool = True,
    **options: Any,
) -> Kernel:
    """Compile ``program`` and return a ready-to-run :class:`Kernel`.

    Args:
        program: the MIL program (``anekit.mil.Program``: built, parsed or loaded).
        backend: ``"ane"``, ``"reference"``, or None for the best usable one (the ANE when usable, otherwise
            the reference executor; ``anekit.info()["ane_reason"]`` says why the ANE is not used).
        function: which function of the program to compile.
        path: default execution path of the kernel's :meth:`Kernel.run` (``"standard"``, ``"realtime"``,
            ``"process_request"``, ``"direct"``).
        qos: QoS for the framework calls (0..63, default 21).
        cache: serve identical programs from the content cache (False: always compile, never cache).
        **options: backend-specific options (e.g. ``perf_stats=True`` on the ANE).

    Raises:
        TypeError: ``program`` is not a Program, or an unknown option.
        AneUnavailableError: ``backend="ane"`` when the ANE cannot be used (the message says why).
        CompileError: the backend rejected the program (with the framework's message and code).
        CompileBudgetExceeded: the compile would pass the budget under the ``"raise"`` policy.
        UnexpectedCompileError: a real compile while ``ANEKIT_ASSERT_NO_COMPILE`` is on.
    """
    if not isinstance(program, Program):
        raise TypeError(not_a_program("anekit.compile", program))
    if not isinstance(cache, bool):
        raise TypeError(f"anekit.compile: cache must be a bool, got {cache!r}")
    if budget.get_policy() == "recycle":
        from .pool import default_pool

        return default_pool().compile(
            program, backend=backend, function=function, path=path, qos=qos, cache=cache, **options
        )
    chosen = resolve_backend(backend)
    opts = {"qos": qos, "path": path, **options}
    store = default_cache()
    key = None
    if cache and store.capacity:
        try:
            key = program_key(program, chosen.name, function, opts)
        except AnekitError:
            key = None  # a program that cannot be written as text: compile it uncached; the backend decides
    lease = store.lookup(key) if key is not None else None
    if lease is None:
        refuse_invalid(program, function)
        n_ops = len(program.functions[function].operations) if function in program.functions else "?"
        label = f"compiling {function} ({n_ops} op{'' if n_ops == 1 else 's'}) on {chosen.name}"
        with progress(label):  # silent unless the compile takes over a second and someone is watching
            compiled = budget.compile_within_budget(
                chosen, lambda: chosen.compile(program, function=function, options=opts), what=f"function {function!r}"
            )
        lease = store.insert(key, compiled)
    try:
        return Kernel(lease, backend=chosen.name, paths=chosen.paths, path=path, qos=qos, name=function)
    except BaseException:
        lease.close()
        raise
