"""``Program.summary()``: ops by type, parameters, weight bytes by dtype and estimated FLOPs.

Everything is computed from declared types, never from weight data, so a bare ``model.mil`` (without its
``weights/``) is summarised as well as a complete bundle, and summarising never reads a blob.

Conventions:

* **Weights** are literal tensors: ``const`` values, the operands of ``constexpr_*`` ops (attributes before
  iOS18, inline arguments in iOS18) and other inline arguments, counted when they are stored in a weight file or
  have at least 10 elements (coremltools' ``should_use_weight_file`` threshold, docs/internals/mil-format.md §7.2);
  every numeric operand of a ``constexpr_*`` op counts (its scales and look-up tables are weight data too).
  Stored bytes use the dtype's bit width (sub-byte types packed, §9.5); references to the same
  ``BLOBFILE(path, offset)`` are counted once (§7.2: deduplicated constants share an offset).
* **Parameters** are the elements of the weight tensors the computation uses: a ``const`` counts unless every
  reader is a ``constexpr_*`` op (then it is compressed storage), and a ``constexpr_*`` output counts with its
  decompressed element count. ``dense_weight_bytes`` is the size of those tensors after decompression (what the
  ANE holds once constexpr ops are resolved at load time, §10.7).
* **FLOPs**: see :mod:`anekit.mil.analysis.flops` (a multiply-accumulate is 2 FLOPs).
"""

from __future__ import annotations

import html
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ...errors import MILError
from ..ir import Function, Operation, Program, Var
from ..ops._spec import OP_REGISTRY
from ..types import TensorType
from ..validate._rules import fmt_bytes, tensor_of
from ..values import Value
from .flops import op_flops

__all__ = ["FunctionSummary", "OpCost", "ProgramSummary", "program_repr", "summarize"]

#: coremltools' weight-file threshold in elements (docs/internals/mil-format.md §7.2).
WEIGHT_MIN_ELEMENTS = 10


@dataclass(frozen=True)
class OpCost:
    """Estimated cost of one op: ``flops`` is None when not estimated (unknown dims or no model)."""

    name: str
    op_type: str
    flops: int | None
    line: int | None = None


@dataclass
class FunctionSummary:
    """Summary of one function (see the module docstring for the conventions).

    Attributes:
        name / opset: the function's name and opset.
        inputs / outputs: variable name -> type text.
        n_ops: statements, ``const`` included (the count coremlc's text shows).
        ops_by_type: op type -> count, most frequent first.
        params: parameter count.
        weight_bytes: stored weight bytes by dtype name.
        dense_weight_bytes: bytes of the weight tensors after constexpr decompression.
        blob_count: distinct ``BLOBFILE`` weights (or weights a built program stores in a weight file).
        flops: sum of the estimated FLOPs (ops that are not estimated contribute nothing).
        flops_by_type: op type -> estimated FLOPs.
        ops: per-op costs in program order (``const`` ops left out).
    """

    name: str
    opset: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    n_ops: int = 0
    ops_by_type: dict[str, int] = field(default_factory=dict)
    params: int = 0
    weight_bytes: dict[str, int] = field(default_factory=dict)
    dense_weight_bytes: int = 0
    blob_count: int = 0
    flops: int = 0
    flops_by_type: dict[str, int] = field(default_factory=dict)
    ops: list[OpCost] = field(default_factory=list)

    @property
    def n_consts(self) -> int:
        return self.ops_by_type.get("const", 0)

    @property
    def total_weight_bytes(self) -> int:
        return sum(self.weight_bytes.values())

    @property
    def unestimated(self) -> list[OpCost]:
        """Ops whose FLOPs could not be estimated."""
        return [c for c in self.ops if c.flops is None]


@dataclass(repr=False)
class ProgramSummary:
    """Summary of a program: one :class:`FunctionSummary` per function plus totals.

    ``print(s)`` and ``repr(s)`` show the readable report (:meth:`to_text`); notebooks show a table.
    """

    version: str | None
    functions: list[FunctionSummary]

    @property
    def n_ops(self) -> int:
        return sum(f.n_ops for f in self.functions)

    @property
    def params(self) -> int:
        return sum(f.params for f in self.functions)

    @property
    def weight_bytes(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for f in self.functions:
            out.update(f.weight_bytes)
        return dict(out)

    @property
    def total_weight_bytes(self) -> int:
        return sum(f.total_weight_bytes for f in self.functions)

    @property
    def flops(self) -> int:
        return sum(f.flops for f in self.functions)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable data."""
        return {
            "version": self.version,
            "n_ops": self.n_ops,
            "params": self.params,
            "weight_bytes": self.total_weight_bytes,
            "flops": self.flops,
            "functions": [
                {
                    "name": f.name,
                    "opset": f.opset,
                    "inputs": f.inputs,
                    "outputs": f.outputs,
                    "n_ops": f.n_ops,
                    "ops_by_type": f.ops_by_type,
                    "params": f.params,
                    "weight_bytes": f.weight_bytes,
                    "dense_weight_bytes": f.dense_weight_bytes,
                    "blob_count": f.blob_count,
                    "flops": f.flops,
                    "flops_by_type": f.flops_by_type,
                    "unestimated_ops": [c.name for c in f.unestimated],
                    "ops": [{"name": c.name, "op_type": c.op_type, "flops": c.flops, "line": c.line} for c in f.ops],
                }
                for f in self.functions
            ],
        }

    def to_text(self, top: int = 12) -> str:
        """A readable multi-line rendering; ``top`` limits the op-type table per function."""
        lines = [
            f"program({self.version or 'built'}): {plural(len(self.functions), 'function')}, "
            f"{plural(self.n_ops, 'op')}, "
            f"{fmt_count(self.params)} params, {fmt_bytes(self.total_weight_bytes)} weights, "
            f"{fmt_flops(self.flops)} (estimated; 1 MAC = 2 FLOPs)"
        ]
        for f in self.functions:
            lines.append(f"func {f.name}<{f.opset}>: {plural(f.n_ops, 'op')} ({f.n_consts} const)")
            lines.append("  inputs:  " + (", ".join(f"{k}: {t}" for k, t in f.inputs.items()) or "-"))
            lines.append("  outputs: " + (", ".join(f"{k}: {t}" for k, t in f.outputs.items()) or "-"))
            by_dtype = ", ".join(f"{d} {fmt_bytes(b)}" for d, b in sorted(f.weight_bytes.items()))
            lines.append(
                f"  params: {fmt_count(f.params)}; weights stored: {fmt_bytes(f.total_weight_bytes)}"
                + (f" ({by_dtype})" if by_dtype else "")
                + f"; dense: {fmt_bytes(f.dense_weight_bytes)}; blobs: {f.blob_count}"
            )
            missing = f.unestimated
            lines.append(
                f"  estimated FLOPs: {fmt_flops(f.flops)}"
                + (f" ({plural(len(missing), 'op')} not estimated)" if missing else "")
            )
            lines.append(f"  {'op type':<32} {'count':>6} {'FLOPs':>12} {'share':>6}")
            for t, n in list(f.ops_by_type.items())[:top]:
                fl = f.flops_by_type.get(t)
                share = f"{100 * fl / f.flops:5.1f}%" if fl and f.flops else ""
                lines.append(f"  {t:<32} {n:>6} {fmt_flops(fl) if fl is not None else '-':>12} {share:>6}")
            if len(f.ops_by_type) > top:
                lines.append(f"  … {plural(len(f.ops_by_type) - top, 'more op type')}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        e = html.escape
        parts = [
            f"<div><b>MIL program({e(self.version or 'built')})</b>: {plural(self.n_ops, 'op')}, "
            f"{e(fmt_count(self.params))} params, {e(fmt_bytes(self.total_weight_bytes))} weights, "
            f"{e(fmt_flops(self.flops))} (estimated)</div>"
        ]
        for f in self.functions:
            io = "".join(
                f"<tr><td>{kind}</td><td><code>{e(k)}</code></td><td><code>{e(t)}</code></td></tr>"
                for kind, d in (("input", f.inputs), ("output", f.outputs))
                for k, t in d.items()
            )
            rows = "".join(
                f"<tr><td><code>{e(t)}</code></td><td style='text-align:right'>{n}</td>"
                f"<td style='text-align:right'>{e(fmt_flops(f.flops_by_type.get(t)))}</td></tr>"
                for t, n in f.ops_by_type.items()
            )
            parts.append(
                f"<details open><summary><code>func {e(f.name)}&lt;{e(f.opset)}&gt;</code>: "
                f"{plural(f.n_ops, 'op')}, {e(fmt_count(f.params))} params, "
                f"{e(fmt_bytes(f.total_weight_bytes))} weights, {e(fmt_flops(f.flops))}</summary>"
                f"<table>{io}</table>"
                "<table><tr><th>op type</th><th>count</th><th>FLOPs</th></tr>"
                f"{rows}</table></details>"
            )
        return "".join(parts)


# ---------------------------------------------------------------------- formatting
def plural(n: int, word: str) -> str:
    """``1 op``, ``2 ops``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def fmt_count(n: float) -> str:
    """``22_100_000`` -> ``"22.1M"``."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(int(n))


def fmt_flops(n: float | None) -> str:
    """``1.5e9`` -> ``"1.50 GFLOP"``; None -> ``"-"``."""
    if n is None:
        return "-"
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}FLOP"
    return f"{int(n)} FLOP"


# ---------------------------------------------------------------------- accounting
def _stored_bytes(t: TensorType) -> int:
    n = t.numel or 0
    return math.ceil(n * t.dtype.bits / 8)


#: constexpr operands that configure the decompression rather than hold weight data (§10.7).
_CONFIG_OPERANDS = frozenset({"axis", "shape", "vector_axis", "output_dtype"})


def _literals(op: Operation) -> list[Value]:
    """Literal tensors of ``op``: a const's ``val``, constexpr attribute operands and inline arguments."""
    out: list[Value] = []
    if op.op_type == "const":
        v = op.attrs.get("val")
        if v is not None:
            out.append(v)
    elif op.op_type.startswith("constexpr_"):
        out.extend(v for k, v in op.attrs.items() if k not in _CONFIG_OPERANDS)
    for k, b in op.inputs.items():
        if k in _CONFIG_OPERANDS and op.op_type.startswith("constexpr_"):
            continue
        for x in b if isinstance(b, tuple) else (b,):
            if isinstance(x, Value):
                out.append(x)
    return out


def _is_weight(v: Value, in_constexpr: bool) -> bool:
    t = v.type
    if not isinstance(t, TensorType) or t.dtype.name == "string" or t.numel is None:
        return False
    return v.is_blob or t.numel >= WEIGHT_MIN_ELEMENTS or (in_constexpr and t.dtype.name != "bool")


def _summarize_function(f: Function) -> FunctionSummary:
    s = FunctionSummary(
        f.name,
        f.opset,
        {k: str(v.type) for k, v in f.inputs.items()},
        {v.name: str(v.type) for v in f.outputs},
        n_ops=len(f.operations),
    )
    # Which variables are read by a non-constexpr op (or returned): those are the weights in use.
    used_by_compute: set[int] = {id(v) for v in f.outputs}
    for op in f.operations:
        if not op.op_type.startswith("constexpr_"):
            used_by_compute.update(id(v) for v in op.input_vars())
    counts: Counter[str] = Counter()
    by_dtype: Counter[str] = Counter()
    flops_by_type: Counter[str] = Counter()
    seen_blobs: set[Any] = set()
    for op in f.operations:
        counts[op.op_type] += 1
        is_constexpr = op.op_type.startswith("constexpr_")
        for v in _literals(op):
            if not _is_weight(v, is_constexpr):
                continue
            key: Any = (v.blob.path, v.blob.offset) if v.blob is not None else id(v)
            if v.is_blob:
                if key in seen_blobs:
                    continue
                seen_blobs.add(key)
            assert isinstance(v.type, TensorType)  # checked by _is_weight
            by_dtype[v.type.dtype.name] += _stored_bytes(v.type)
        if op.op_type == "const" or is_constexpr:
            for out in op.outputs:
                _count_param(s, out, op, used_by_compute)
            if op.op_type == "const":
                continue
        spec = OP_REGISTRY.get(op.op_type)
        fl = op_flops(op, spec.category if spec is not None else "")
        s.ops.append(OpCost(op.name, op.op_type, fl, op.line))
        if fl is not None:
            flops_by_type[op.op_type] += fl
    s.blob_count = len(seen_blobs)
    s.ops_by_type = dict(counts.most_common())
    s.weight_bytes = dict(by_dtype)
    s.flops_by_type = dict(flops_by_type)
    s.flops = sum(flops_by_type.values())
    return s


def _count_param(s: FunctionSummary, out: Var, op: Operation, used: set[int]) -> None:
    t = tensor_of(out.type)
    if t is None or t.numel is None or id(out) not in used or t.dtype.name == "string":
        return
    if op.op_type == "const":
        val = op.attrs.get("val")
        if val is None or not _is_weight(val, False):
            return
    s.params += t.numel
    s.dense_weight_bytes += _stored_bytes(t)


def summarize(program: Program) -> ProgramSummary:
    """Summarise ``program`` (see the module docstring); never reads weight data.

    Raises:
        MILError: ``program`` is not a :class:`Program`.
    """
    if not isinstance(program, Program):
        raise MILError(f"summarize() needs a mil.Program, got {type(program).__name__}")
    return ProgramSummary(program.version, [_summarize_function(f) for f in program.functions.values()])


def program_repr(program: Program) -> str:
    """``Program(1 function main<ios18>, 862 ops, 22.7M params, 43.3 MiB weights)``."""
    s = summarize(program)
    funcs = ", ".join(f"{f.name}<{f.opset}>" for f in s.functions)
    n = len(s.functions)
    return (
        f"Program({plural(n, 'function')}{' ' + funcs if funcs else ''}, {plural(s.n_ops, 'op')}, "
        f"{fmt_count(s.params)} params, {fmt_bytes(s.total_weight_bytes)} weights)"
    )
