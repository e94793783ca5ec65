"""The reference executor: runs a MIL function on the CPU, op by op, with the ANE's fp16 storage semantics.

:class:`Executor` prepares a function once for one precision — resolves every literal and BLOBFILE constant,
binds each operation to its kernel, and evaluates ahead of time the operations whose inputs are all constants
(``const`` and the ``constexpr_*`` decompression ops above all; this caches work, it does not change the
program) — and is then called with inputs any number of times. :func:`run` is the one-shot form.

Numerics (docs/internals/architecture.md §7, docs/internals/mil-format.md §10.10): see :mod:`anekit.reference._storage`.
Each kernel computes in float32 (float64 for ``precision="fp64"``); the executor stores every op output in its declared
type, which for ``precision="ane"`` rounds fp16-typed outputs to fp16, and checks the output's declared shape.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np

from .. import config
from ..errors import MILError
from ..mil.ir import DUPLICATE_OUTPUT_HINT, Function, Operation, Program, Var, duplicate_output_message
from ..mil.types import StateType, TensorType
from ..mil.values import Value
from . import blas_threads
from ._storage import Storage, StoreFn, check_inputs
from .kernels import KERNELS, Kernel, KernelContext

__all__ = ["Executor", "RunResult", "run"]


@dataclass(frozen=True)
class RunResult:
    """The result of ``run(..., trace=True)``.

    Attributes:
        outputs: function outputs by name, as :func:`run` returns them without tracing.
        trace: every value of the run by variable name, in execution order: the function inputs, then each
            operation's outputs (constants included), in the same representation as ``outputs``.
    """

    outputs: dict[str, np.ndarray]
    trace: dict[str, Any]


@dataclass(frozen=True)
class _Output:
    """How one op output is stored: the variable, its prepared conversion, and its declared tensor type
    (``None`` for non-tensor types), whose shape the stored value must match."""

    var: Var
    store: StoreFn
    tensor: TensorType | None
    shape: tuple[int | None, ...] | None  # tensor.shape, looked up once (checked after every op)


@dataclass(frozen=True)
class _Step:
    """One operation bound to its kernel, with its inputs resolved as far as they can be before a run."""

    op: Operation
    kernel: Kernel
    ctx: KernelContext
    literals: dict[str, Any]  # kernel arg -> stored literal; copied to start each call's arguments
    var_args: tuple[tuple[str, str], ...]  # (kernel arg, var name)
    tuple_args: tuple[tuple[str, tuple[Any, ...]], ...]  # (kernel arg, refs: var name | ("lit", value) | tuple)
    outputs: tuple[_Output, ...]
    writes_state: bool  # a write_state op: its kernel returns the state's new value (no MIL outputs)


def _select_function(program: Program | Function, function: str) -> Function:
    if isinstance(program, Function):
        return program
    if not isinstance(program, Program):
        raise ValueError(f"program must be an anekit.mil.Program or Function, got {type(program).__name__}")
    fn = program.functions.get(function)
    if fn is None and function == "main" and len(program.functions) == 1:
        fn = next(iter(program.functions.values()))  # as Program.main: "main", or the only function
    if fn is None:
        raise ValueError(f"program has no function {function!r}; it has {list(program.functions)}")
    return fn


class Executor:
    """A function prepared for repeated reference execution at one precision.

    Args:
        program: a :class:`~anekit.mil.Program` (or a single :class:`~anekit.mil.ir.Function`).
        function: the function to run (ignored when ``program`` is a Function).
        precision: ``"ane"`` (fp16 storage, the default), ``"fp32"`` or ``"fp64"``.

    Raises:
        ValueError: unknown function or precision.
        MILError: an op without a kernel, an input the kernel does not take, a constant that cannot be read,
            or an error while evaluating the constant part of the program.
    """

    def __init__(self, program: Program | Function, function: str = "main", precision: str = "ane") -> None:
        self.function = _select_function(program, function)
        self.storage = Storage(precision)
        fn = self.function
        names = [v.name for v in fn.outputs]
        repeated = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if repeated is not None:
            # Results are a dict keyed by output name: a repeated output would silently collapse into one.
            raise MILError(f"function {fn.name}: {duplicate_output_message(repeated)}; {DUPLICATE_OUTPUT_HINT}")
        self._consts: dict[str, Any] = {}
        self._steps: list[_Step] = []
        self._input_types = {name: v.type for name, v in fn.inputs.items()}
        self._input_storers = {name: self.storage.storer(t) for name, t in self._input_types.items()}
        # What a call returns: the outputs, then the final value of every state input (see run()).
        self._exports = {v.name: v.type for v in fn.outputs}
        for name, t in self._input_types.items():
            if isinstance(t, StateType) and name not in self._exports:
                self._exports[name] = t
        self._prepare()
        # Every var in execution order with its type, for traces.
        types = fn.vars()
        names = [*fn.inputs, *(v.name for op in fn.operations for v in op.outputs)]
        self._trace_types = [(n, types[n].type) for n in names]

    @property
    def precision(self) -> str:
        return self.storage.precision

    # ------------------------------------------------------------------ preparation
    def _prepare(self) -> None:
        known: set[str] = set()
        for op in self.function.operations:
            if op.op_type == "const":
                self._consts[op.outputs[0].name] = self._const_value(op)
                known.add(op.outputs[0].name)
                continue
            step = self._bind(op)
            in_vars = op.input_vars()
            if all(v.name in known for v in in_vars) and not any(isinstance(v.type, StateType) for v in in_vars):
                # Constant-only dependencies (constexpr decompression, mask construction ...): evaluate once.
                with np.errstate(all="ignore"):
                    self._execute(step, self._consts)
                known.update(v.name for v in op.outputs)
            else:
                self._steps.append(step)

    def _const_value(self, op: Operation) -> Any:
        val = op.attrs.get("val")
        if val is None or len(op.outputs) != 1:
            raise MILError(f"[const '{op.name}'] needs a 'val' attribute and exactly one output")
        return self.storage.store(val.data, op.outputs[0].type)

    def _bind(self, op: Operation) -> _Step:
        k = KERNELS.get(op.op_type)
        if k is None:
            raise MILError(f"[{op.op_type} '{op.name}'] no reference kernel for op type {op.op_type!r}")
        params = inspect.signature(k.fn).parameters
        literals: dict[str, Any] = {}
        var_args: list[tuple[str, str]] = []
        tuple_args: list[tuple[str, tuple[Any, ...]]] = []
        for name, b in op.inputs.items():
            if name not in params:
                raise MILError(f"[{op.op_type} '{op.name}'] the reference kernel has no input {name!r}")
            ref = self._binding(b)
            if isinstance(ref, str):
                var_args.append((name, ref))
            elif ref[0] == "lit":
                literals[name] = ref[1]
            else:
                tuple_args.append((name, ref[1]))
        for name, val in op.attrs.items():
            # Pre-iOS18 constexpr ops carry their operands as attributes (docs/internals/mil-format.md §7.4).
            if name in params and name not in op.inputs and name != "ctx":
                literals[name] = self.storage.store(val.data, val.type)
        ctx = KernelContext(
            op_type=op.op_type,
            name=op.name,
            out_types=tuple(v.type for v in op.outputs),
            attrs=dict(op.attrs),
            float_dtype=self.storage.float_dtype,
            opset=self.function.opset,
            fp16_storage=self.storage.fp16_grid,
        )
        outputs = tuple(self._output(v, k.preserves_values) for v in op.outputs)
        return _Step(op, k, ctx, literals, tuple(var_args), tuple(tuple_args), outputs, op.op_type == "write_state")

    def _binding(self, b: Any) -> Any:
        if isinstance(b, Var):
            return b.name
        if isinstance(b, Value):
            return ("lit", self.storage.store(b.data, b.type))
        if isinstance(b, tuple):
            return ("tuple", tuple(self._binding(x) for x in b))
        raise MILError(f"unsupported input binding {b!r}")

    def _output(self, var: Var, preserves_values: bool) -> _Output:
        t = var.type.wrapped if isinstance(var.type, StateType) else var.type
        tensor = t if isinstance(t, TensorType) else None
        store = self.storage.storer(var.type, already_on_grid=preserves_values)
        return _Output(var, store, tensor, None if tensor is None else tuple(tensor.shape))

    # ------------------------------------------------------------------ execution
    @staticmethod
    def _resolve(ref: Any, env: Mapping[str, Any]) -> Any:
        if isinstance(ref, str):
            return env[ref]
        if ref[0] == "lit":
            return ref[1]
        return tuple(Executor._resolve(r, env) for r in ref[1])

    def _execute(self, step: _Step, env: dict[str, Any]) -> None:
        args = dict(step.literals)
        for name, ref in step.var_args:
            args[name] = env[ref]
        for name, refs in step.tuple_args:
            args[name] = tuple(self._resolve(r, env) for r in refs)
        results = step.kernel.fn(step.ctx, **args)
        if step.writes_state:
            # The op has no MIL outputs; its kernel returns the new value of the state (docs/internals/mil-format.md
            # §7.7).
            state = step.op.inputs.get("input")
            if not isinstance(state, Var) or len(results) != 1:
                raise MILError(f"[write_state '{step.op.name}'] 'input' must be a state variable")
            env[state.name] = self.storage.store(results[0], state.type)
            return
        if len(results) != len(step.outputs):
            raise MILError(
                f"[{step.op.op_type} '{step.op.name}'] kernel returned {len(results)} values for "
                f"{len(step.outputs)} outputs"
            )
        for out, value in zip(step.outputs, results, strict=True):
            stored = out.store(value)
            # (a declared shape with unknown dims never equals a concrete one: _fits decides those)
            if (
                out.shape is not None
                and isinstance(stored, np.ndarray)
                and stored.shape != out.shape
                and not _fits(stored.shape, out.shape)
            ):
                raise MILError(
                    f"[{step.op.op_type} '{step.op.name}'] kernel produced shape {list(stored.shape)} for "
                    f"{out.var.name}, but the program declares {out.tensor}"
                )
            env[out.var.name] = stored

    @overload
    def __call__(self, inputs: Mapping[str, Any], *, trace: Literal[False] = ...) -> dict[str, np.ndarray]: ...

    @overload
    def __call__(self, inputs: Mapping[str, Any], *, trace: Literal[True]) -> RunResult: ...

    def __call__(self, inputs: Mapping[str, Any], *, trace: bool = False) -> dict[str, np.ndarray] | RunResult:
        """Run the function on ``inputs`` (see :func:`run`)."""
        arrays = check_inputs(self._input_types, inputs, self.function.name)
        env: dict[str, Any] = dict(self._consts)
        for name, arr in arrays.items():
            env[name] = self._input_storers[name](arr)
        # IEEE results (inf, NaN, subnormals) are the semantics, not events worth a warning. Entered once per
        # call, not per op: numpy's errstate context costs as much as a small kernel. OpenBLAS's busy-waiting
        # worker threads make these small products several times slower on a loaded machine (blas_threads).
        with blas_threads.limit(config.get().reference_blas_threads), np.errstate(all="ignore"):
            for step in self._steps:
                self._execute(step, env)
        export = self.storage.export
        outputs = {name: export(env[name], t) for name, t in self._exports.items()}
        if not trace:
            return outputs
        traced = {n: export(env[n], t) for n, t in self._trace_types if n in env}
        return RunResult(outputs=outputs, trace=traced)


def _fits(shape: tuple[int, ...], declared: tuple[int | None, ...]) -> bool:
    """Whether an array shape matches a declared shape (same rank; ``None`` dims match any size)."""
    return len(shape) == len(declared) and all(d is None or d == s for d, s in zip(declared, shape, strict=True))


@overload
def run(
    program: Program | Function,
    inputs: Mapping[str, Any],
    *,
    function: str = ...,
    precision: str = ...,
    trace: Literal[False] = ...,
) -> dict[str, np.ndarray]: ...


@overload
def run(
    program: Program | Function,
    inputs: Mapping[str, Any],
    *,
    function: str = ...,
    precision: str = ...,
    trace: Literal[True],
) -> RunResult: ...


def run(
    program: Program | Function,
    inputs: Mapping[str, Any],
    *,
    function: str = "main",
    precision: str = "ane",
    trace: bool = False,
) -> dict[str, np.ndarray] | RunResult:
    """Run a MIL function on the CPU with numpy reference kernels.

    Args:
        program: the program (or one of its functions).
        inputs: function input name -> array-like; checked against the signature (names, shape, dtype
            convertibility).
        function: which function of ``program`` to run.
        precision: ``"ane"`` (default): fp16-typed values are rounded to fp16 after every op, computing in fp32,
            as on the device; ``"fp32"`` / ``"fp64"``: the same graph with every float value held in
            float32 / float64, to see what fp16 costs.
        trace: also return every intermediate value by variable name.

    Returns:
        Output name -> numpy array, in the function's output order, followed by the final value of every
        ``state<...>`` input under the input's name (iOS18 stateful functions: feed it back next call).
        Float outputs are ``np.float16`` for fp16-typed outputs under ``"ane"`` and float32 otherwise
        (float64 under ``"fp64"``); integer and bool outputs have their declared dtype. With ``trace=True``,
        a :class:`RunResult` (``.outputs``, ``.trace``).

    Raises:
        ValueError: bad inputs, unknown function or precision.
        MILError: a program the reference executor cannot run (missing kernel, kernel error, shape mismatch).
    """
    executor = Executor(program, function=function, precision=precision)
    if trace:
        return executor(inputs, trace=True)
    return executor(inputs)
