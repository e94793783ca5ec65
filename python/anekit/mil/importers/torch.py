"""PyTorch modules -> :class:`~anekit.mil.ir.Program`, through coremltools' converter, in memory.

The module is exported (``torch.export``, or traced with ``torch.jit.trace`` when coremltools cannot convert
the exported graph), converted by ``coremltools.convert`` to an ML program (conversion needs no Mac,
docs/internals/mil-format.md §12.1) and imported by :mod:`~anekit.mil.importers.coreml`; nothing is written to
disk except coremltools' own temporary weight folder, which is read into memory and left to coremltools.
torch and coremltools are imported here only, never by ``import anekit``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import ConversionError
from ..ir import Program
from ..passes.shapes import ShapeChoice, pin_shapes
from .coreml import import_mlmodel

__all__ = ["from_torch"]

# Deployment targets by MIL opset name (coremltools.target members).
_TARGETS = {"ios15": "iOS15", "ios16": "iOS16", "ios17": "iOS17", "ios18": "iOS18"}

# Input dtypes by torch dtype name: what the ANE can take (fp16 compute; integer indices as int32).
_FLOAT_INPUTS = {"float32", "float16"}
_INT_INPUTS = {"int32", "int64", "int16"}


def from_torch(
    module: Any,
    example_inputs: Any,
    *,
    input_names: Sequence[str] | None = None,
    flexible: Mapping[str, Mapping[int, tuple[int, int]]] | None = None,
    shapes: ShapeChoice | None = None,
    opset: str = "ios17",
    precision: str = "fp16",
) -> Program:
    """Convert a PyTorch module to an anekit program.

    Args:
        module: a ``torch.nn.Module`` (put in eval mode for the conversion).
        example_inputs: one tensor, a tuple of tensors, or a dict name -> tensor (the names become the
            program's input names).
        input_names: names for positional example inputs (default ``x``, or ``x0``, ``x1``, …).
        flexible: bounded flexible dims, ``{"x": {1: (1, 512)}}`` (axis -> ``(min, max)``); the program is
            then flexible until pinned with ``shapes``.
        shapes: pin flexible inputs right away (see :func:`~anekit.mil.passes.shapes.pin_shapes`).
        opset: the MIL opset to target, ``"ios15"`` … ``"ios18"``.
        precision: ``"fp16"`` (the ANE's compute type) or ``"fp32"``.

    Raises:
        ConversionError: coremltools cannot convert an op (its message, plus what to do), a flexible dim
            without bounds, an input dtype the ANE cannot use, or a module that cannot be traced.
        ImportError: torch or coremltools is not installed (``pip install 'anekit[coreml]' torch``).
    """
    try:
        import coremltools as ct
        import torch
    except ImportError as exc:
        needs = "pip install 'anekit[coreml]' torch"
        raise ImportError(f"from_torch needs torch and coremltools ({needs}): {exc}") from exc
    if opset not in _TARGETS:
        raise ConversionError(f"opset must be one of {', '.join(_TARGETS)}, got {opset!r}")
    if precision not in ("fp16", "fp32"):
        raise ConversionError(f"precision must be 'fp16' or 'fp32', got {precision!r}")
    if not isinstance(module, torch.nn.Module):
        raise ConversionError(f"from_torch expects a torch.nn.Module, got {type(module).__name__}")
    names, tensors = _examples(example_inputs, input_names, torch)
    flexible = dict(flexible or {})
    unknown = set(flexible) - set(names)
    if unknown:
        raise ConversionError(f"flexible names unknown inputs {sorted(unknown)}; the inputs are {names}")
    for n, t in zip(names, tensors, strict=True):
        _check_bounds(n, t, flexible.get(n, {}))
    module = module.eval()
    options = {
        "convert_to": "mlprogram",
        "minimum_deployment_target": getattr(ct.target, _TARGETS[opset]),
        "compute_precision": ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32,
    }
    # torch.export first (the graphs coremltools converts best); torch.jit.trace second, for modules whose
    # exported graph holds an op only the TorchScript frontend converts (nn.LSTM: "Unsupported fx node lstm").
    failures = []
    for route in (_via_export, _via_trace):
        try:
            mlmodel = route(module, names, tensors, flexible, torch, ct, options)
            break
        except ConversionError as exc:
            failures.append(str(exc))
    else:
        raise ConversionError("\n".join(failures))
    prog, info = import_mlmodel(mlmodel)
    renamed = dict(zip(prog.main.inputs, names, strict=False))
    _rename_inputs(prog, names)
    if shapes is not None:
        for section, table in info.items():
            if section == "EnumeratedShapes":
                info[section] = {k: {renamed.get(n, n): v for n, v in s.items()} for k, s in table.items()}
            else:
                info[section] = {renamed.get(n, n): v for n, v in table.items()}
        pin_shapes(prog, shapes, flexible=info)
    return prog


def _convert(source: Any, ct: Any, inputs: list[Any], options: dict[str, Any], route: str) -> Any:
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            return ct.convert(source, inputs=inputs, **options)
    except Exception as exc:  # coremltools raises RuntimeError/NotImplementedError/ValueError/AssertionError
        raise ConversionError(_conversion_message(exc, route)) from exc


def _via_export(
    module: Any,
    names: list[str],
    tensors: list[Any],
    flexible: Mapping[str, Any],
    torch: Any,
    ct: Any,
    options: dict[str, Any],
) -> Any:
    """``torch.export`` of ``module`` (decomposed to core ATen ops), converted.

    torch.export rather than torch.jit.trace: with torch 2.13 the traced graphs of TransformerEncoderLayer and
    MultiheadAttention hold fused fast-path ops and ``aten::Int`` on 1-D tensors that coremltools 9.0 cannot
    convert, while their exported graphs convert.
    """
    dynamic = None
    if flexible:
        dynamic = tuple(
            {a: torch.export.Dim(f"{n}_{a % t.dim()}", min=lo, max=hi) for a, (lo, hi) in flexible[n].items()}
            if n in flexible
            else None
            for n, t in zip(names, tensors, strict=True)
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exported = torch.export.export(module, tuple(tensors), dynamic_shapes=dynamic).run_decompositions({})
    except Exception as exc:  # torch.export raises many types (UserError, Unsupported, ...); all mean the same
        raise ConversionError(
            f"torch.export failed on {type(module).__name__}: {_first_line(exc)}. The module must be exportable "
            "with the example inputs (no data-dependent Python control flow; see "
            "https://pytorch.org/docs/stable/export.html)"
        ) from exc
    return _convert(exported, ct, [_input_type(t, ct) for t in tensors], options, "torch.export")


def _via_trace(
    module: Any,
    names: list[str],
    tensors: list[Any],
    flexible: Mapping[str, Any],
    torch: Any,
    ct: Any,
    options: dict[str, Any],
) -> Any:
    """``torch.jit.trace`` of ``module``, converted by coremltools' TorchScript frontend."""
    try:
        # Traced with autograd enabled on purpose: in eval mode under no_grad, TransformerEncoderLayer and
        # MultiheadAttention take their fused "fast path", which coremltools cannot convert; with grad enabled
        # torch traces the ordinary ops (torch/nn/modules/transformer.py, why_not_sparsity_fast_path).
        # check_trace off: its re-trace compares graph text, which differs for such modules only in value
        # numbering; the oracle tests compare the converted program's numbers with the module's.
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(module, tuple(tensors), check_trace=False)
    except Exception as exc:  # torch raises many types while tracing; all mean the same to the caller
        raise ConversionError(f"torch.jit.trace failed on {type(module).__name__}: {_first_line(exc)}") from exc
    inputs = []
    for n, t in zip(names, tensors, strict=True):
        shape: list[Any] = list(t.shape)
        for axis, (lo, hi) in flexible.get(n, {}).items():
            shape[axis] = ct.RangeDim(lower_bound=lo, upper_bound=hi, default=int(t.shape[axis]))
        inputs.append(ct.TensorType(name=n, shape=tuple(shape), dtype=_input_type(t, ct).dtype))
    return _convert(traced, ct, inputs, options, "torch.jit.trace")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _rename_inputs(prog: Program, names: list[str]) -> None:
    # torch.export names inputs after forward()'s parameters; the caller's names replace them, in order.
    f = prog.main
    if len(f.inputs) != len(names):
        raise ConversionError(f"the converted program has {len(f.inputs)} inputs, the module was given {len(names)}")
    taken = set(f.vars()) - set(f.inputs)
    clash = sorted(set(names) & taken)
    if clash:
        raise ConversionError(f"input names {clash} are already used inside the converted program; choose others")
    renamed = {}
    for new, var in zip(names, f.inputs.values(), strict=True):
        var.name = new
        renamed[new] = var
    f.inputs = renamed


def _examples(example_inputs: Any, input_names: Sequence[str] | None, torch: Any) -> tuple[list[str], list[Any]]:
    if isinstance(example_inputs, Mapping):
        if input_names is not None:
            raise ConversionError("give input names either as the keys of example_inputs or as input_names")
        names, tensors = [str(k) for k in example_inputs], list(example_inputs.values())
    else:
        tensors = list(example_inputs) if isinstance(example_inputs, (tuple, list)) else [example_inputs]
        if input_names is None:
            names = ["x"] if len(tensors) == 1 else [f"x{i}" for i in range(len(tensors))]
        else:
            names = [str(n) for n in input_names]
            if len(names) != len(tensors):
                raise ConversionError(f"{len(names)} input_names for {len(tensors)} example inputs")
    if not tensors:
        raise ConversionError("example_inputs is empty; the module needs at least one example input")
    for n, t in zip(names, tensors, strict=True):
        if not isinstance(t, torch.Tensor):
            raise ConversionError(f"example input {n!r} must be a torch.Tensor, got {type(t).__name__}")
        dt = str(t.dtype).removeprefix("torch.")
        if dt not in _FLOAT_INPUTS | _INT_INPUTS:
            raise ConversionError(
                f"example input {n!r} has dtype {dt}, which the ANE cannot take: use float32/float16 for "
                "activations (the ANE computes in fp16) and int32 for indices"
            )
    return names, tensors


def _check_bounds(name: str, t: Any, dims: Mapping[int, tuple[int, int]]) -> None:
    shape = list(t.shape)
    for axis, bounds in dims.items():
        if not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
            raise ConversionError(f"flexible axis {axis!r} of input {name!r} is not an axis of its shape {shape}")
        if (
            not isinstance(bounds, (tuple, list))
            or len(bounds) != 2
            or any(b is None or not isinstance(b, int) or b < 1 for b in bounds)
        ):
            raise ConversionError(
                f"flexible dim {axis} of input {name!r} needs bounds (min, max) as positive ints, got {bounds!r}: "
                "the ANE compiles static shapes, so every flexible dim must be bounded and pinned before compiling"
            )
        lo, hi = bounds
        if not lo <= shape[axis] <= hi:
            raise ConversionError(f"input {name!r} example dim {axis} = {shape[axis]} is outside ({lo}, {hi})")


def _input_type(t: Any, ct: Any) -> Any:
    # Only the dtype is chosen here (shapes come from the exported program): integer inputs become int32, the
    # ANE's index type; float inputs keep their dtype (passes.io_fp16 turns fp32 I/O into fp16 I/O).
    dt = str(t.dtype).removeprefix("torch.")
    return ct.TensorType(dtype=np.int32 if dt in _INT_INPUTS else np.float16 if dt == "float16" else np.float32)


def _conversion_message(exc: BaseException, route: str) -> str:
    text = str(exc).strip() or type(exc).__name__
    lowered = text.lower()
    if any(k in lowered for k in ("not implemented", "unsupported", "not supported", "convert function for op")):
        advice = (
            "coremltools has no converter for this torch op. Rewrite that part of the module with supported ops, "
            "or register a composite converter (coremltools.converters.mil.frontend.torch.register_torch_op) "
            "before calling from_torch"
        )
    else:
        advice = "coremltools could not convert the module; the message above is coremltools' own"
    return f"coremltools conversion (after {route}) failed: {text}\n{advice}"

