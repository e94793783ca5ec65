"""Run a probe program on the framework directly, with surfaces the probe lays out itself.

Probes measure what the framework does, so they must not go through the runtime's adaptations of what an
earlier doctor run settled (input order, surface padding): a probe that applied the saved order would measure
its own correction and flip its answer on every run. Here a program's MIL text goes straight to
``anekit._core.ane.compile`` and each surface is allocated with exactly the byte size the probe asks for, the
tensor's data packed at offset 0 (Orion, docs/ane_constraints.md #14: the device reads ``[1, C, 1, S]`` packed
from offset 0 whatever the allocation size).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _core
from ..mil.ir import Program
from ..runtime.signature import function_io

__all__ = ["KNOWN_GOOD_BYTES", "Allocation", "RawRun", "run_raw"]

#: Surfaces of at least this many bytes are accepted on every machine reported so far (Orion,
#: docs/ane_constraints.md #4: ~49,152 bytes minimum at evaluation; 768 x 32 fp16). Probes start here.
KNOWN_GOOD_BYTES = 49_152

_NP = {"fp16": np.float16, "fp32": np.float32}


@dataclass(frozen=True)
class Allocation:
    """How a probe sizes its surfaces: ``"exact"`` (each its tensor's bytes) or ``"uniform"`` (every input
    surface the size of the largest input, every output surface the size of the largest output), and at least
    ``minimum`` bytes in both cases."""

    rule: str = "exact"
    minimum: int = 0

    def sizes(self, nbytes: Sequence[int]) -> list[int]:
        top = max(nbytes, default=0)
        return [max(top if self.rule == "uniform" else n, self.minimum) for n in nbytes]

    def describe(self) -> str:
        return self.rule + (f", >= {self.minimum} B" if self.minimum else "")


@dataclass
class RawRun:
    """What one compile + evaluate did.

    Attributes:
        status: ``"ok"`` (ran), ``"compile-error"``, ``"load-error"`` or ``"eval-error"``.
        detail: the error, when there was one.
        outputs: output arrays in declaration order (when it ran).
        hw_ns: the hardware time the framework reported, if any.
        binding: with ``names=True``, how the backend chose each surface's request index after load:
            ``{"source": "modelAttributes" | "declaration", "inputs": {name: index}, "outputs": {...}}`` (the
            loaded model's ``modelAttributes`` symbol tables, docs/internals/ane-private-api.md §25.1, when it has
            them).
        model_attributes: with ``names=True``, the loaded model's ``modelAttributes`` as the backend renders
            them (parsed JSON; the text when it is not JSON; None when the model reports none).
    """

    status: str
    detail: str = ""
    outputs: list[np.ndarray] = field(default_factory=list)
    hw_ns: int | None = None
    binding: dict[str, Any] | None = None
    model_attributes: Any = None

    @property
    def ran(self) -> bool:
        return self.status == "ok"

    def label(self) -> str:
        return self.status if self.ran else f"{self.status}: {self.detail}"

    def verdict(self, *expected: Any) -> str:
        """``"ok"`` when it ran and output ``i`` equals ``expected[i]`` exactly, ``"wrong"`` when it ran with
        other numbers, else the error (:meth:`label`)."""
        if not self.ran:
            return self.label()
        same = all(
            np.array_equal(got, np.broadcast_to(np.asarray(want, np.float32), got.shape))
            for got, want in zip(self.outputs, expected, strict=True)
        )
        return "ok" if same else "wrong"


def _surface(values: np.ndarray | None, dtype: str, shape: tuple[int, ...], nbytes: int) -> Any:
    """A flat surface of ``nbytes`` bytes holding ``values`` (of ``shape``) packed at offset 0."""
    item = np.dtype(_NP[dtype]).itemsize
    if nbytes % item:
        raise ValueError(f"surface size {nbytes} is not a multiple of the {dtype} element size {item}")
    surface = _core.Surface((nbytes // item,), dtype)
    flat = np.zeros(nbytes // item, _NP[dtype])
    if values is not None:
        data = np.asarray(values, _NP[dtype]).reshape(-1)
        flat[: data.size] = data
        if data.size != int(np.prod(shape)):
            raise ValueError(f"probe feed has {data.size} elements, the tensor {shape} needs {int(np.prod(shape))}")
    surface.write(flat)
    return surface


def _parse_attributes(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:240]}"


def run_raw(
    program: Program,
    feeds: Sequence[np.ndarray],
    *,
    allocation: Allocation | None = None,
    in_bytes: Sequence[int] | None = None,
    out_bytes: Sequence[int] | None = None,
    path: str = "standard",
    perf_stats: bool = False,
    dialect: str | None = None,
    names: bool = False,
) -> RawRun:
    """Compile ``program`` and run it once with ``feeds[k]`` in the ``k``-th input surface passed.

    Args:
        program: a single-function program (function ``main``) with fp16/fp32 I/O.
        feeds: one array per input surface, in the order the surfaces are passed (the framework decides which
            MIL input each reaches: that is what the order probes measure).
        allocation: how to size surfaces (default: exact); ``in_bytes``/``out_bytes`` override it per surface.
        path: execution path (``anekit._core.ane.EXECUTION_PATHS``).
        perf_stats: ask the framework for hardware time.
        dialect: MIL text dialect (None: by opset).
        names: give the backend the I/O names so that it binds each surface by the loaded model's
            ``modelAttributes`` when the framework reports them (else request index ``k`` is the ``k``-th
            surface passed, which is what the order probes measure).
    """
    inputs, outputs = function_io(program, "main")
    if len(feeds) != len(inputs):
        raise ValueError(f"run_raw: the program takes {len(inputs)} inputs, got {len(feeds)} feeds")
    alloc = allocation or Allocation()

    def nbytes(spec: Any) -> int:
        return int(np.prod(spec.type.shape)) * np.dtype(_NP[spec.type.dtype.name]).itemsize

    sizes_in = list(in_bytes) if in_bytes is not None else alloc.sizes([nbytes(s) for s in inputs])
    sizes_out = list(out_bytes) if out_bytes is not None else alloc.sizes([nbytes(s) for s in outputs])
    in_surfaces = [
        _surface(feed, spec.type.dtype.name, spec.type.shape, size)
        for feed, spec, size in zip(feeds, inputs, sizes_in, strict=True)
    ]
    out_surfaces = [
        _surface(None, spec.type.dtype.name, spec.type.shape, size)
        for spec, size in zip(outputs, sizes_out, strict=True)
    ]
    io_names = {"input_names": [s.name for s in inputs], "output_names": [s.name for s in outputs]} if names else {}
    try:
        model = _core.ane.compile(program.to_mil(dialect), program.weights(), perf_stats=perf_stats, **io_names)
    except _core.ane.CompileError as exc:
        return RawRun("compile-error", _error(exc))
    except RuntimeError as exc:  # FrameworkError from load, or the framework went away
        return RawRun("load-error", _error(exc))
    with model:
        binding = attributes = None
        if names:
            attributes = _parse_attributes(model.model_attributes())
            source, in_idx, out_idx = model.binding
            binding = {
                "source": source,
                "inputs": {s.name: int(i) for s, i in zip(inputs, in_idx, strict=True)},
                "outputs": {s.name: int(i) for s, i in zip(outputs, out_idx, strict=True)},
            }
        try:
            hw = model.evaluate(in_surfaces, out_surfaces, path)
        except (RuntimeError, ValueError) as exc:
            return RawRun("eval-error", _error(exc), binding=binding, model_attributes=attributes)
    got = []
    for spec, surface in zip(outputs, out_surfaces, strict=True):
        n = int(np.prod(spec.type.shape))
        got.append(np.array(surface.read()[:n], dtype=np.float32).reshape(spec.type.shape))
    return RawRun("ok", outputs=got, hw_ns=hw, binding=binding, model_attributes=attributes)
