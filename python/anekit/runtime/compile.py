"""``anekit.compile``: program -> :class:`Kernel` on the best (or the named) backend."""

from __future__ import annotations

from typing import Any

from ..mil.ir import Program
from .backend import get_backend
from .kernel import DEFAULT_QOS, Kernel

__all__ = ["compile"]


def compile(  # noqa: A001 - the public name mirrors the operation, as in tinygrad/MLX
    program: Program,
    *,
    backend: str | None = None,
    function: str = "main",
    path: str = "standard",
    qos: int = DEFAULT_QOS,
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
        **options: backend-specific options (e.g. ``perf_stats=True`` on the ANE).

    Raises:
        TypeError: ``program`` is not a Program, or an unknown option.
        AneUnavailableError: ``backend="ane"`` when the ANE cannot be used (the message says why).
        CompileError: the backend rejected the program (with the framework's message and code).
    """
    if not isinstance(program, Program):
        raise TypeError(f"anekit.compile: expected an anekit.mil.Program, got {type(program).__name__}")
    chosen = get_backend(backend)
    executable = chosen.compile(program, function=function, options={"qos": qos, "path": path, **options})
    try:
        return Kernel(executable, backend=chosen.name, paths=chosen.paths, path=path, qos=qos, name=function)
    except BaseException:
        executable.close()
        raise
