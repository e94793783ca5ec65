"""The compiled kernels of a training step and the timing of their I/O and evaluation.

A :class:`StepKernels` holds, for a :class:`~anekit.train.model.ModelConfig`, the forward and backward programs of
one decoder layer and of the head (the backward programs derived by :func:`anekit.autodiff.vjp`), compiled once, and
one :class:`~anekit.Kernel` *instance* per layer of each: the instances after the first come from the compile cache
(no compile, no budget), and each has its own input surfaces, so every layer's weights are staged into its
surfaces once per optimizer update rather than rewritten before every dispatch (the arrangement of
docs/internals/ane-private-api.md §20.2: "each layer gets its own input surface with its weights staged").
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .. import budget
from ..mil import Program
from ..runtime import Kernel, compile
from ..runtime.backend import BACKENDS
from .model import LAYER_WEIGHTS, ModelConfig, head_inputs, head_program, layer_program, rope_inputs, to_input

__all__ = ["Phase", "StepKernels", "Timer", "head_feeds"]


def head_feeds(config: ModelConfig, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weight inputs of :func:`~anekit.train.model.head_program` from the parameters: the final norm's gain and
    each chunk's rows of the head's weight (``output``, or ``tok_embeddings`` when tied)."""
    w = params[config.head_weight]
    feeds = {"norm": to_input(params["norm"])}
    for i, (start, n) in enumerate(config.head_chunks):
        feeds[f"output_{i}"] = to_input(w[start : start + n])
    return feeds


@dataclass
class Timer:
    """Seconds spent per category during one step: ``kernel`` (evaluation on the backend: the ANE, or the
    reference executor), ``io`` (writing input surfaces and reading output surfaces) and ``cpu`` (the rest:
    embedding, loss, optimizer), plus the number of kernel dispatches."""

    kernel: float = 0.0
    io: float = 0.0
    dispatches: int = 0

    def write(self, kernel: Kernel, name: str, value: np.ndarray) -> None:
        t0 = time.perf_counter()
        kernel.inputs[name].write(value)
        self.io += time.perf_counter() - t0

    def read(self, kernel: Kernel, name: str) -> np.ndarray:
        t0 = time.perf_counter()
        out = kernel.outputs[name].read(dtype=np.float32)
        self.io += time.perf_counter() - t0
        return out

    def run(self, kernel: Kernel) -> None:
        t0 = time.perf_counter()
        kernel.run()
        self.kernel += time.perf_counter() - t0
        self.dispatches += 1


@dataclass
class Phase:
    """One program's forward and backward kernels, one instance per use (layer), and the backward's wiring."""

    forward: list[Kernel]
    backward: list[Kernel]
    #: The forward outputs a backward kernel takes as inputs of the same name (``save="activations"``).
    saved: tuple[str, ...] = ()

    def close(self) -> None:
        for k in (*self.forward, *self.backward):
            k.close()


def _gradient(program: Program, wrt: list[str], save: str) -> tuple[Program, Program, tuple[str, ...]]:
    from .. import autodiff  # the reverse-mode transform; imported here so `import anekit.train` stays light

    g = autodiff.vjp(program, wrt=wrt, save=save)
    return g.forward, g.backward, tuple(g.saved)


class StepKernels:
    """Compile the step's kernels for ``config`` on ``backend`` (``"reference"``, ``"ane"`` or None for the best).

    Args:
        config: the model.
        backend: the backend name passed to :func:`anekit.compile`.
        save: what the backward programs take from the forward pass: ``"recompute"`` (only the layer's inputs;
            the backward recomputes the activations it needs, less I/O) or ``"activations"`` (the forward kernel
            also outputs the tensors the backward needs, which the host passes on).

    Attributes:
        layer, head: the :class:`Phase` of the decoder layers and of the head.
        compiles: real compiles this construction spent (:func:`anekit.budget.used` before and after).
    """

    def __init__(self, config: ModelConfig, *, backend: str | None = None, save: str = "recompute") -> None:
        if not isinstance(config, ModelConfig):
            raise TypeError(f"StepKernels: config must be a ModelConfig, got {type(config).__name__}")
        if backend is not None and backend not in BACKENDS:
            raise ValueError(f"StepKernels: backend must be one of {', '.join(BACKENDS)} or None, got {backend!r}")
        if save not in ("recompute", "activations"):
            raise ValueError(f"StepKernels: save must be 'recompute' or 'activations', got {save!r}")
        before = budget.used()
        self.config = config
        self.save = save
        self.layer = self._phase(layer_program(config), ["x", *LAYER_WEIGHTS], config.layers, backend)
        self.head = self._phase(head_program(config), ["x", *head_inputs(config)], 1, backend)
        self.compiles = budget.used() - before
        self.backend = self.layer.forward[0].backend
        rope = rope_inputs(config)  # constant tables: written once, never again
        for k in (*self.layer.forward, *self.layer.backward):
            for name, value in rope.items():
                if name in k.inputs:
                    k.inputs[name].write(value)

    def _phase(self, program: Program, wrt: list[str], copies: int, backend: str | None) -> Phase:
        forward, backward, saved = _gradient(program, wrt, self.save)
        fwd = [compile(forward, backend=backend) for _ in range(copies)]
        bwd = [compile(backward, backend=backend) for _ in range(copies)]
        return Phase(fwd, bwd, tuple(n for n in bwd[0].inputs if n in saved and n in fwd[0].outputs))

    @property
    def kernels_per_micro_batch(self) -> int:
        """Kernel dispatches of one micro-batch: a forward and a backward per layer, and for the head."""
        return 2 * (self.config.layers + 1)

    def stage_weights(self, params: Mapping[str, np.ndarray], timer: Timer) -> None:
        """Write every weight (in program layout, :func:`~anekit.train.model.to_input`) into the kernels that take
        it. Called after each optimizer update."""
        staged = [
            (fwd, bwd, {n: to_input(params[f"layers.{i}.{n}"]) for n in LAYER_WEIGHTS})
            for i, (fwd, bwd) in enumerate(zip(self.layer.forward, self.layer.backward, strict=True))
        ]
        staged.append((self.head.forward[0], self.head.backward[0], head_feeds(self.config, params)))
        for forward, backward, feeds in staged:
            for name, value in feeds.items():
                timer.write(forward, name, value)
                if name in backward.inputs:
                    timer.write(backward, name, value)

    def close(self) -> None:
        self.layer.close()
        self.head.close()
