"""The backend boundary (docs/internals/architecture.md §3.2): a small protocol every execution backend implements.

A backend turns a MIL function into an :class:`Executable` that evaluates on :class:`anekit.Surface` buffers
laid out as the ANE expects. ``BACKENDS`` names them; :func:`get_backend` picks one explicitly or, with no
name, the best usable one (the ANE when usable, otherwise the reference executor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .. import config
from ..errors import AneUnavailableError
from ..mil.types import TensorType

__all__ = ["BACKENDS", "Backend", "Executable", "IOSpec", "available_backends", "get_backend"]


@dataclass(frozen=True)
class IOSpec:
    """One input or output of a compiled function: its MIL name and tensor type."""

    name: str
    type: TensorType

    @property
    def surface_dtype(self) -> str | None:
        """The Surface dtype carrying this tensor, or None when no ANE surface can hold it.

        Surfaces hold fp16/fp32 tensors of rank 1 to 5 (docs/internals/ane-private-api.md §12, §14).
        """
        name = self.type.dtype.name
        return name if name in ("fp16", "fp32") and 1 <= self.type.rank <= 5 else None


class Executable(Protocol):
    """A compiled function, owned by one :class:`~anekit.runtime.kernel.Kernel`."""

    inputs: Sequence[IOSpec]
    outputs: Sequence[IOSpec]

    def evaluate(self, inputs: Sequence[Any], outputs: Sequence[Any], *, path: str, qos: int) -> float | None:
        """Evaluate with input/output Surfaces in MIL order; return hardware time in seconds when known."""

    def evaluate_arrays(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Evaluate on numpy arrays directly (backends that can exchange non-Surface dtypes)."""

    def close(self) -> None:
        """Free the compiled program (idempotent)."""


class Backend(Protocol):
    """An execution backend."""

    name: str
    paths: tuple[str, ...]

    def availability(self) -> tuple[bool, str]:
        """``(usable, reason_if_not)``."""

    def compile(self, program: Any, *, function: str, options: Mapping[str, Any]) -> Executable:
        """Compile ``program``'s ``function``; raise CompileError when the backend rejects it."""


def _make(name: str) -> Backend:
    if name == "reference":
        from .reference import ReferenceBackend

        return ReferenceBackend()
    if name == "ane":
        from .ane import AneBackend

        return AneBackend()
    raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")


#: Backend names, best first.
BACKENDS: tuple[str, ...] = ("ane", "reference")


def available_backends() -> list[str]:
    """Names of the backends usable in this process, best first."""
    return [name for name in BACKENDS if _make(name).availability()[0]]


def get_backend(name: str | None = None) -> Backend:
    """Return the named backend, or the best usable one when ``name`` is None (``ANEKIT_BACKEND`` honoured).

    Raises:
        ValueError: unknown backend name.
        AneUnavailableError: ``"ane"`` was asked for explicitly and cannot be used here (the message says why).
    """
    chosen = name if name is not None else config.get().backend
    if chosen is None:
        ane = _make("ane")
        return ane if ane.availability()[0] else _make("reference")
    backend = _make(chosen)
    usable, why = backend.availability()
    if not usable:
        raise AneUnavailableError(f"backend {chosen!r} is not usable here: {why}")
    return backend
