"""``Kernel``: a compiled MIL function with its I/O surfaces, callable from numpy or zero-copy.

``kernel(x=...)`` converts the inputs into the input surfaces (in C++), evaluates, and returns the outputs as
float32 arrays (``dtype=`` to change). ``kernel.inputs[name]`` / ``kernel.outputs[name]`` are the
:class:`anekit.Surface` objects the backend reads and writes, so a caller can fill them in place and call
:meth:`Kernel.run`, which evaluates without any copy.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import _core
from ..errors import EvaluateError
from .backend import Executable, IOSpec
from .host_arrays import fit_shape, host_array

__all__ = ["Kernel"]

#: QoS passed to every framework call by every upstream caller (21 = QOS_CLASS_DEFAULT;
#: docs/internals/ane-private-api.md §5).
DEFAULT_QOS = 21


class Kernel:
    """A compiled program ready to run. Create with :func:`anekit.compile`.

    Attributes:
        backend: name of the backend that compiled it (``"ane"`` or ``"reference"``).
        inputs: input name -> Surface, in MIL input order (only fp16/fp32 tensors have surfaces).
        outputs: output name -> Surface, in MIL output order.
        last_hw_time: hardware execution time of the last run in seconds when the backend reports one, else None.
        last_run_time: wall time of the last evaluation in seconds (host overhead included).
    """

    def __init__(
        self,
        executable: Executable,
        *,
        backend: str,
        paths: tuple[str, ...],
        path: str = "standard",
        qos: int = DEFAULT_QOS,
        name: str = "main",
        surface_factory: Callable[[tuple[int, ...], str], Any] | None = None,
    ) -> None:
        # surface_factory(shape, dtype) makes the I/O surfaces; the recycling pool passes one that makes
        # shared-memory surfaces with the Surface API, so pool-backed kernels keep this exact class and API.
        self.inputs: dict[str, Any]
        self.outputs: dict[str, Any]
        self._exe: Executable | None = executable
        self.backend = backend
        self.name = name
        self._paths = paths
        self.path = path  # both checked by their setters
        self.qos = qos
        self._in_specs: list[IOSpec] = list(executable.inputs)
        self._out_specs: list[IOSpec] = list(executable.outputs)
        # Surfaces of an earlier, closed kernel of the same cached model are reused when nothing else holds
        # them (see close()): creating an IOSurface costs more than the rest of a cache hit together, and
        # reusing the same surfaces lets the backend reuse its request object too.
        spare = executable.take_surfaces() if surface_factory is None and hasattr(executable, "take_surfaces") else None
        if spare is not None:
            self.inputs, self.outputs = spare
        else:
            # Backends that need larger allocations than the tensors (the ANE: one size per side, a minimum)
            # say so per name; pool-backed kernels' shared-memory surfaces only carry data to the worker.
            sizes: dict[str, int] = getattr(executable, "surface_bytes", None) or {}

            def make(spec: IOSpec) -> Any:
                if surface_factory is not None:
                    return surface_factory(_surface_shape(spec), spec.surface_dtype)
                return _core.Surface(_surface_shape(spec), spec.surface_dtype, allocation=sizes.get(spec.name))

            self.inputs = {s.name: make(s) for s in self._in_specs if s.surface_dtype}
            self.outputs = {s.name: make(s) for s in self._out_specs if s.surface_dtype}
        self._surface_io = len(self.inputs) == len(self._in_specs) and len(self.outputs) == len(self._out_specs)
        self._in_names = [s.name for s in self._in_specs]
        self._in_name_set = frozenset(self._in_names)
        self._in_list = [self.inputs.get(s.name) for s in self._in_specs]
        self._out_list = [self.outputs.get(s.name) for s in self._out_specs]
        self._lock = threading.Lock()
        self.last_hw_time: float | None = None
        self.last_run_time: float | None = None

    # -- settings (checked on assignment, so a bad value never reaches the framework) -----------------------

    @property
    def path(self) -> str:
        """Default execution path for :meth:`run` and calls (one of the backend's available paths)."""
        return self._path

    @path.setter
    def path(self, value: str) -> None:
        self._path = self._check_path(value)

    @property
    def qos(self) -> int:
        """QoS class passed to the framework on every evaluation (0..63; 21 = default)."""
        return self._qos

    @qos.setter
    def qos(self, value: int) -> None:
        self._qos = _check_qos(value)

    # -- evaluation ----------------------------------------------------------------------------------------

    def run(self, path: str | None = None) -> float | None:
        """Evaluate on the current contents of :attr:`inputs`, writing :attr:`outputs`; no copies.

        Args:
            path: execution path for this call (default :attr:`path`): ``"standard"``, ``"realtime"``,
                ``"process_request"`` or ``"direct"`` (docs/internals/ane-private-api.md §17).

        Returns:
            The hardware execution time in seconds when the backend reports it, else None.

        Raises:
            EvaluateError: the kernel is closed, or has I/O that cannot live in a surface (non-float or rank 0;
                use ``kernel(...)`` instead).
            AneUnavailableError: the path is not available here (the message names what is missing).
        """
        exe = self._live()
        if not self._surface_io:
            missing = [s.name for s in (*self._in_specs, *self._out_specs) if not s.surface_dtype]
            raise EvaluateError(
                f"kernel {self.name!r} has I/O that cannot live in an ANE surface ({missing}: only fp16/fp32 "
                "tensors can); call the kernel with numpy arrays instead of run()"
            )
        chosen = self.path if path is None else self._check_path(path)
        with self._lock:
            return self._evaluate(exe, chosen)

    def _evaluate(self, exe: Executable, path: str) -> float | None:
        # The caller holds self._lock.
        t0 = time.perf_counter()
        hw = exe.evaluate(self._in_list, self._out_list, path=path, qos=self.qos)
        self.last_run_time = time.perf_counter() - t0
        self.last_hw_time = hw
        return hw

    def __call__(
        self, inputs: Mapping[str, Any] | Any = None, /, *, dtype: Any = np.float32, **kw_inputs: Any
    ) -> dict[str, np.ndarray]:
        """Run on numpy inputs: ``kernel(x=a, y=b)``, ``kernel({"x": a, "y": b})``, or ``kernel(a)`` for a
        kernel with one input.

        Inputs may be any real dtype and memory layout with the input's shape (or ``(C, S)`` for a
        ``[1, C, 1, S]`` input, or a broadcastable shape); they are converted in C++ into the input surfaces.
        PyTorch CPU tensors work too (detached; bfloat16 widened to float32); tensors on another device are
        refused with a message naming the input.

        Args:
            inputs: input name -> array (alternative to keyword arguments, e.g. for names that are not
                identifiers or an input called ``dtype``), or the array of a single-input kernel.
            dtype: dtype of the returned float outputs (float32 by default; float16 and float64 also work).

        Returns:
            Output name -> array, in MIL output order.

        Raises:
            ValueError: missing or unexpected input names, or an input of the wrong shape.
            TypeError: a non-numeric input, a bare array for a kernel with several inputs, or a tensor that is
                not in host memory.
        """
        if inputs is None:
            given = kw_inputs
        elif not isinstance(inputs, Mapping):
            given = self._single_input(inputs, kw_inputs)
        else:
            given = dict(inputs)
            overlap = sorted(set(given) & set(kw_inputs))
            if overlap:
                raise ValueError(f"input(s) {overlap} given both positionally and as keywords")
            given.update(kw_inputs)
        if given.keys() != self._in_name_set:
            self._raise_bad_names(given)
        for name, value in given.items():
            if type(value) is not np.ndarray:  # torch tensors and other array-likes (host_arrays.py)
                given[name] = host_array(name, value)
        out_dtype = _FLOAT32 if dtype is np.float32 else _output_dtype(dtype)
        if not self._surface_io:
            return self._call_arrays(given, out_dtype)
        # Write, evaluate and read under one lock: threads sharing a kernel must not run on each other's inputs,
        # and close() (which hands the surfaces on) must wait until this call is done with them.
        with self._lock:
            exe = self._live()
            for name, surface in self.inputs.items():
                surface.write(given[name])
            self._evaluate(exe, self.path)
            return {name: surface.read(dtype=out_dtype) for name, surface in self.outputs.items()}

    def _single_input(self, value: Any, kw_inputs: dict[str, Any]) -> dict[str, Any]:
        """``kernel(array)``: the array is the only input; with several inputs, say to name them."""
        names = self._in_names
        if len(names) != 1 or kw_inputs:
            keywords = ", ".join(f"{n}=..." for n in names)
            raise TypeError(
                f"kernel {self.name!r} takes inputs {names}: pass them by name, kernel({keywords}), "
                f"or as a dict; a bare array is accepted only by a kernel with a single input"
            )
        return {names[0]: value}

    def _raise_bad_names(self, given: Mapping[str, Any]) -> None:
        expected = self._in_names
        missing = [n for n in expected if n not in given]
        extra = sorted(set(given) - set(expected))
        if extra:
            raise ValueError(f"kernel {self.name!r} takes inputs {expected}; missing {missing}, unexpected {extra}")
        raise ValueError(f"kernel {self.name!r} takes inputs {expected}; missing {missing}")

    def _call_arrays(self, given: Mapping[str, Any], out_dtype: np.dtype) -> dict[str, np.ndarray]:
        exe = self._live()
        with self._lock:
            t0 = time.perf_counter()
            result = exe.evaluate_arrays({s.name: _array_input(s, given[s.name]) for s in self._in_specs})
            self.last_run_time = time.perf_counter() - t0
        return {k: (v.astype(out_dtype) if v.dtype.kind == "f" else v) for k, v in result.items()}

    # -- lifetime --------------------------------------------------------------------------------------------

    def model_attributes(self) -> Any:
        """What the framework says about the loaded model (``modelAttributes``, docs/internals/ane-private-api.md
        §25.1): its input and output symbols with their indices, among others. Parsed JSON (or the framework's text when
        it is not JSON) on the ANE backend; None on backends without a loaded framework model, or when the
        framework reports none. For bug reports (``anekit doctor --report`` records one).

        Raises:
            EvaluateError: the kernel is closed.
        """
        getter = getattr(self._live(), "model_attributes", None)
        return None if getter is None else getter()

    @property
    def closed(self) -> bool:
        return self._exe is None

    def close(self) -> None:
        """Unload the program and free everything it holds (idempotent).

        :attr:`inputs` and :attr:`outputs` are emptied: a surface the caller still references stays valid and
        keeps its data; the others are freed, or reused by the next kernel of the same cached program.
        """
        exe, self._exe = self._exe, None
        if exe is None:
            return
        with self._lock:
            inputs, outputs = self.inputs, self.outputs
            self.inputs, self.outputs = {}, {}
            self._in_list, self._out_list = [], []
            give = getattr(exe, "give_surfaces", None)
            if give is not None and _only_held_here(inputs) and _only_held_here(outputs):
                give(inputs, outputs)
            exe.close()

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Best effort for kernels never closed explicitly; close() is the supported way.
        exe = getattr(self, "_exe", None)
        if exe is not None:
            exe.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"path={self.path!r}"
        ins = ", ".join(f"{s.name}: {s.type}" for s in self._in_specs)
        outs = ", ".join(f"{s.name}: {s.type}" for s in self._out_specs)
        return f"Kernel({self.name!r} on {self.backend}, ({ins}) -> ({outs}), {state})"

    def _repr_html_(self) -> str:
        from html import escape as e

        state = "closed" if self.closed else f"path <code>{e(self.path)}</code>, QoS {self.qos}"
        rows = "".join(
            f"<tr><td>{role}</td><td><code>{e(s.name)}</code></td><td><code>{e(str(s.type))}</code></td>"
            f"<td>{e(s.surface_dtype or 'array only')}</td></tr>"
            for role, specs in (("input", self._in_specs), ("output", self._out_specs))
            for s in specs
        )
        timing = "" if self.last_run_time is None else f"; last run {self.last_run_time * 1e3:.3g} ms"
        return (
            f"<div><b>Kernel</b> <code>{e(self.name)}</code> on <b>{e(self.backend)}</b> ({state}{timing})"
            f"<table><tr><th></th><th>name</th><th>type</th><th>surface</th></tr>{rows}</table></div>"
        )

    # -- helpers ---------------------------------------------------------------------------------------------

    def _live(self) -> Executable:
        if self._exe is None:
            raise EvaluateError(f"kernel {self.name!r} is closed")
        return self._exe

    def _check_path(self, path: str) -> str:
        all_paths = ("standard", "realtime", "process_request", "direct")
        if not isinstance(path, str):
            raise TypeError(f"path must be a str, one of {all_paths}; got {path!r}")
        if path not in all_paths:
            raise ValueError(f"unknown execution path {path!r}; expected one of {all_paths}")
        if path not in self._paths:
            from ..errors import AneUnavailableError

            raise AneUnavailableError(
                f"execution path {path!r} is not available on the {self.backend} backend here; "
                f"available: {list(self._paths)}"
            )
        return path


_FLOAT32 = np.dtype(np.float32)


def _output_dtype(dtype: Any) -> np.dtype:
    try:
        out = np.dtype(dtype)
    except TypeError:  # MIL's "fp16" or torch.float16: the names anekit accepts wherever it takes a dtype
        from ..errors import MILError
        from ..mil.types import dtype as mil_dtype

        try:
            found = mil_dtype(dtype).np_dtype
        except MILError:
            found = None
        if found is None:
            raise TypeError(f"dtype must be float16, float32 or float64, got {dtype!r}") from None
        out = found
    if out.kind != "f" or out.itemsize not in (2, 4, 8):
        raise TypeError(f"dtype must be float16, float32 or float64, got {out}")
    return out


def _check_qos(qos: int) -> int:
    # QoS is a 6-bit Darwin QoS class value; every value 0..63 was measured to work (docs/internals/ane-private-api.md
    # §5).
    if isinstance(qos, bool) or not isinstance(qos, (int, np.integer)):
        raise TypeError(f"qos must be an int in 0..63 (21 = default), got {qos!r}")
    qos = int(qos)
    if not 0 <= qos <= 63:
        raise ValueError(f"qos must be an int in 0..63 (21 = default), got {qos!r}")
    return qos


def _only_held_here(surfaces: dict[str, Any]) -> bool:
    """Whether nothing but ``surfaces`` references its values (CPython reference counts).

    Compared against a probe object held the same way, so the count's fixed part (the dict, the call's
    argument) is measured rather than assumed.
    """
    probe = {"": object()}
    baseline = sys.getrefcount(probe[""])
    return all(sys.getrefcount(surfaces[name]) == baseline for name in surfaces)


def _array_input(spec: IOSpec, value: Any) -> np.ndarray:
    """``value`` in the forms a surface input accepts, as an array of the declared shape in native byte order.

    Inputs that cannot live in a surface (integer or bool tensors, rank 0) take the same forms as surface
    inputs: the exact shape, ``(C, S)`` for ``[1, C, 1, S]``, or a shape that broadcasts to either (a
    broadcast stays a zero-stride view). Values in the other byte order are converted, never reinterpreted.
    """
    arr = np.asarray(value)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    shape = spec.type.shape
    if any(d is None for d in shape) or arr.shape == tuple(shape):
        return arr  # symbolic dims: the executor checks them
    target = tuple(int(d) for d in shape)
    fitted, cs = fit_shape(arr, target)
    if fitted is not None:
        return fitted
    forms = f"{target}" + (f", {cs}" if cs is not None else "")
    raise ValueError(
        f"input {spec.name!r} ({spec.type}) cannot take an array of shape {arr.shape}; expected {forms} or a "
        f"shape that broadcasts to {'either' if cs is not None else 'it'}"
    )


def _surface_shape(spec: IOSpec) -> tuple[int, ...]:
    return tuple(int(d) for d in spec.type.shape if d is not None)
