"""ANE rules about tensors and function I/O: dtypes, layout, spatial size, dimension limits, surfaces.

Target ``"ane"``. Facts come from docs/internals/ane-private-api.md §12 (surfaces, ``[1, C, 1, S]``), §14 (fp16 vs fp32
I/O), §15 (the contradictory shape/size/multi-input claims and anekit's conservative policy §15.3) and
docs/internals/mil-format.md §3, §7.6 and §11. Where the docs disagree the finding is a warning that names both sides.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..ir import Function, Operation, Var
from ..ops._spec import OPSETS, opset_index
from ..types import TensorType
from ._rules import Context, fmt_bytes, rule, tensor_of

__all__ = [
    "CHANNEL_SOFT_LIMIT",
    "MAX_DIMENSION",
    "MIN_SURFACE_BYTES",
    "SPATIAL_MULTIPLE",
    "SURFACE_ALIGNMENT",
]

#: Largest dimension reported to work (maderix/ANE#26; docs/internals/ane-private-api.md §15.1, §15.3 item 4).
MAX_DIMENSION = 65536
#: libane's graph API limits C to 16384; anekit warns above it (docs/internals/ane-private-api.md §15.1, §15.3 item 4).
CHANNEL_SOFT_LIMIT = 16384
#: Spatial multiple every verified upstream configuration satisfies (docs/internals/ane-private-api.md §15.1, §15.3 item
#: 2).
SPATIAL_MULTIPLE = 32
#: libane 0.8.2's spatial multiple (docs/internals/ane-private-api.md §15.1, the other side of the conflict).
SPATIAL_MULTIPLE_OLD = 16
#: libane/Orion's minimum surface allocation (docs/internals/ane-private-api.md §15.1, "max(input sizes, 49152)").
MIN_SURFACE_BYTES = 49152
#: M5 ("Apple 10 family") IOSurface alignment (maderix/ANE#35, unmerged, docs/internals/ane-private-api.md §15.1).
SURFACE_ALIGNMENT = 128
#: Element dtypes 64 bits wide: never seen in MIL text (docs/internals/mil-format.md §5.1); MIL ops take 32-bit ints at
#: most.
WIDE_DTYPES = frozenset({"int64", "fp64", "uint64"})


def _io_tensors(f: Function) -> Iterator[tuple[str, str, TensorType]]:
    """``(kind, name, tensor type)`` of each tensor (or state) input and output of ``f``."""
    for name, v in f.inputs.items():
        if (t := tensor_of(v.type)) is not None:
            yield "input", name, t
    for v in f.outputs:
        if (t := tensor_of(v.type)) is not None:
            yield "output", v.name, t


def _activations(f: Function) -> Iterator[tuple[Var, TensorType, Operation | None]]:
    """Run-time tensors of ``f``: inputs and outputs of ops other than const/constexpr.

    Yields ``(var, tensor type, producing op or None for an input)``; :func:`_where` names one for a message
    (not formatted up front: these rules run over every op and most tensors yield no finding).
    """
    for v in f.inputs.values():
        if (t := tensor_of(v.type)) is not None:
            yield v, t, None
    for op in f.operations:
        if op.op_type.startswith("const"):
            continue
        for v in op.outputs:
            if (t := tensor_of(v.type)) is not None:
                yield v, t, op


def _where(v: Var, op: Operation | None) -> str:
    """How messages name a run-time tensor: a function input, or ``op``'s output."""
    return f"input {v.name!r}" if op is None else f"[{op.op_type} '{op.name}'] output {v.name!r}"


def _surface_bytes(t: TensorType) -> int | None:
    n = t.numel
    return None if n is None else n * max(1, t.dtype.bits // 8)


@rule(
    "ane-dynamic-shape",
    severity="error",
    target="ane",
    source="docs/internals/mil-format.md §7.6 (anekit compiles static shapes for the ANE); "
        "docs/internals/ane-private-api.md §12.1 "
    "(surfaces are exactly prod(shape) × sizeof(dtype) bytes)",
    summary="a run-time tensor has an unknown ('?') dimension",
)
def dynamic_shape(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        found = [(v, op) for v, t, op in _activations(f) if not t.is_static]
        if found:
            v, where_op = found[0]
            yield ctx.diag(
                "ane-dynamic-shape",
                f"{len(found)} run-time tensor(s) of function {f.name} have unknown dimensions, first "
                f"{_where(v, where_op)}: {v.type}; ANE programs need static shapes to size their surfaces",
                f=f,
                op=v.op,
                hint="give the inputs fixed shapes (pick one of the FlexibleShapeInformation shapes)",
            )


@rule(
    "ane-64bit",
    severity="error",
    target="ane",
    source="docs/internals/mil-format.md §5.1 (int64/fp64 exist only in the proto enum, never in text); the ANE "
        "computes "
    "in fp16 (docs/internals/ane-private-api.md §12.2, §14)",
    summary="a run-time tensor is int64, uint64 or fp64",
)
def wide_dtypes(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        for v, t, op in _activations(f):
            if t.dtype.name in WIDE_DTYPES:
                yield ctx.diag(
                    "ane-64bit",
                    f"{_where(v, op)} is {t}; 64-bit tensors are not supported",
                    f=f,
                    op=v.op,
                    hint="use int32 / fp32 (or better fp16)",
                )


@rule(
    "ane-io-dtype",
    severity="warning",
    target="ane",
    source="docs/internals/ane-private-api.md §14 (fp16 vs fp32 I/O, [conflict]) and §12.2; "
        "docs/internals/mil-format.md §11 rule 6",
    summary="a function input/output is not fp16",
)
def io_dtype(ctx: Context) -> Iterator[Diagnostic]:
    """fp32 I/O with a cast inside works on M4/M5 but not on M1/M2 (no ``cast``), and dev-erik reports that
    fp32 surfaces give zeros; other dtypes have no documented ANE surface format."""
    for f in ctx.functions():
        for kind, name, t in _io_tensors(f):
            if t.dtype.name == "fp16" or t.dtype.name in WIDE_DTYPES:
                continue
            if t.dtype.name == "fp32":
                msg = (
                    f"{kind} {name!r} is fp32: fp32 I/O with a cast inside works on M4/M5 but M1/M2 "
                    "cannot run cast and one report says fp32 surfaces produce zeros"
                )
            else:
                msg = (
                    f"{kind} {name!r} is {t.dtype.name}: only fp16 (and, on some chips, fp32) "
                    "surfaces are documented for the ANE"
                )
            yield ctx.diag(
                "ane-io-dtype",
                msg,
                f=f,
                hint="make the function's inputs and outputs fp16 and convert on the CPU (anekit's default, §14)",
            )


@rule(
    "ane-io-layout",
    severity="warning",
    target="ane",
    source="docs/internals/ane-private-api.md §12.2 (canonical [1, C, 1, S]; 4-D [1, C, H, W] in the int8 benchmark) "
    "and §15.3; docs/internals/mil-format.md §11 rule 22",
    summary="a function input/output is not a rank-4 [1, C, 1, S] tensor",
)
def io_layout(ctx: Context) -> Iterator[Diagnostic]:
    """Not rank 4 or batch != 1: warning. ``[1, C, H, W]`` with H != 1: info (used by the int8 benchmark)."""
    for f in ctx.functions():
        for kind, name, t in _io_tensors(f):
            if t.rank != 4 or t.shape[0] != 1:
                yield ctx.diag(
                    "ane-io-layout",
                    f"{kind} {name!r} is {t}; ANE surfaces use the [1, C, 1, S] layout",
                    f=f,
                    hint="reshape to [1, C, 1, S] (channels × sequence) around the kernel",
                )
            elif t.shape[2] != 1:
                yield ctx.diag(
                    "ane-io-layout",
                    f"{kind} {name!r} is {t}: [1, C, H, W] with H != 1 is used upstream only by the "
                    "int8 benchmark; the canonical layout is [1, C, 1, S]",
                    f=f,
                    severity="info",
                )


@rule(
    "ane-spatial-multiple",
    severity="warning",
    target="ane",
    source="docs/internals/ane-private-api.md §15.1 (S multiple of 16 per libane 0.8.2, of 32 per libane head and "
    "hollance/neural-engine#44; every verified upstream config has S % 32 == 0) and §15.3 item 2",
    summary="the innermost (spatial) dimension of an input/output is not a multiple of 32",
)
def spatial_multiple(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        for kind, name, t in _io_tensors(f):
            if t.rank == 0 or t.shape[-1] is None:
                continue
            s = t.shape[-1]
            if s == 1 or s % SPATIAL_MULTIPLE == 0:
                continue  # S == 1 has its own rule
            side = (
                "a multiple of 16 (libane 0.8.2) but not of 32 (libane head, every verified config)"
                if s % SPATIAL_MULTIPLE_OLD == 0
                else "neither a multiple of 16 (libane 0.8.2) nor of 32 (libane head)"
            )
            yield ctx.diag(
                "ane-spatial-multiple",
                f"{kind} {name!r} has spatial size S = {s}, {side}; sources conflict, and "
                "wrong sizes can give silent zeros",
                f=f,
                hint=f"pad S to {((s + SPATIAL_MULTIPLE - 1) // SPATIAL_MULTIPLE) * SPATIAL_MULTIPLE}",
            )


@rule(
    "ane-single-token",
    severity="warning",
    target="ane",
    source="docs/internals/ane-private-api.md §15.1 (dev-erik: S=1 baked-conv kernels compile but give wrong output) "
        "and §15.3 item 2",
    summary="an input/output has spatial size S = 1",
)
def single_token(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        for kind, name, t in _io_tensors(f):
            if t.rank == 4 and t.shape[-1] == 1:
                yield ctx.diag(
                    "ane-single-token",
                    f"{kind} {name!r} has S = 1; single-token kernels compiled but produced wrong output upstream",
                    f=f,
                    hint="pad the sequence to 32 and ignore the extra columns",
                )


@rule(
    "ane-dim-limit",
    severity="error",
    target="ane",
    source="docs/internals/mil-format.md §11 rule 8; docs/internals/ane-private-api.md §15.1 (max dimension 65536, "
        "maderix/ANE#26; "
    "C <= 16384 in libane's graph API) and §15.3 item 4",
    summary="a run-time tensor dimension exceeds 65536 (error) or 16384 (warning)",
)
def dim_limit(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        for v, t, op in _activations(f):
            big = max((d for d in t.shape if d is not None), default=0)
            if big > MAX_DIMENSION:
                yield ctx.diag(
                    "ane-dim-limit",
                    f"{_where(v, op)} is {t}: dimension {big} exceeds the ANE maximum of {MAX_DIMENSION}",
                    f=f,
                    op=v.op,
                    hint="split the tensor (e.g. an LM head into chunks, as maderix/ANE#26 did)",
                )
            elif big > CHANNEL_SOFT_LIMIT:
                yield ctx.diag(
                    "ane-dim-limit",
                    f"{_where(v, op)} is {t}: dimension {big} is above {CHANNEL_SOFT_LIMIT}, libane's channel limit",
                    f=f,
                    op=v.op,
                    severity="warning",
                    hint=f"keep dimensions <= {CHANNEL_SOFT_LIMIT} where possible",
                )


@rule(
    "ane-min-surface",
    severity="info",
    target="ane",
    source="docs/internals/ane-private-api.md §15.1 (libane/Orion allocate max(size, 49152) bytes; smallest verified "
    "upstream kernels use 8 KB surfaces, [conflict])",
    summary="an input/output surface is smaller than 49152 bytes",
)
def min_surface(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        for kind, name, t in _io_tensors(f):
            n = _surface_bytes(t)
            if n is not None and n < MIN_SURFACE_BYTES:
                yield ctx.diag(
                    "ane-min-surface",
                    f"{kind} {name!r} needs a {fmt_bytes(n)} surface, below the {MIN_SURFACE_BYTES}-byte "
                    "minimum libane and Orion allocate (8 KB surfaces did work upstream)",
                    f=f,
                )


@rule(
    "ane-surface-alignment",
    severity="info",
    target="ane",
    source="docs/internals/ane-private-api.md §15.1 (128-byte IOSurface alignment on M5, maderix/ANE#35, [single])",
    summary="an input/output surface size is not a multiple of 128 bytes",
)
def surface_alignment(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        for kind, name, t in _io_tensors(f):
            n = _surface_bytes(t)
            if n is not None and n % SURFACE_ALIGNMENT:
                yield ctx.diag(
                    "ane-surface-alignment",
                    f"{kind} {name!r} needs {n} bytes, not a multiple of {SURFACE_ALIGNMENT} (reported "
                    "as required on M5)",
                    f=f,
                )


@rule(
    "ane-multi-input",
    severity="warning",
    target="ane",
    source="docs/internals/ane-private-api.md §15.1-15.3 (multi-input requests fail with 0x1d per the maderix README; "
    "work in maderix tests; need equal sizes and alphabetical names per Orion/libane; ascending sizes "
    "per maderix/ANE#47) and §13",
    summary="a function has several inputs (the multi-input rules conflict)",
)
def multi_input(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        if len(f.inputs) < 2:
            continue
        sizes = [_surface_bytes(t) for v in f.inputs.values() if (t := tensor_of(v.type))]
        notes = []
        if len(set(sizes)) > 1:
            notes.append("their surface sizes differ (Orion/libane want equal sizes)")
        if list(f.inputs) != sorted(f.inputs):
            notes.append("they are not in alphabetical order (Orion/libane order inputs by name)")
        extra = f"; {' and '.join(notes)}" if notes else ""
        yield ctx.diag(
            "ane-multi-input",
            f"function {f.name} has {len(f.inputs)} inputs; multi-input requests are disputed "
            f"(error 0x1d in one report){extra}",
            f=f,
            hint="pack inputs into one surface along channels or the spatial axis (§15.3 item 3)",
        )


@rule(
    "ane-activation-dtype",
    severity="warning",
    target="ane",
    source="docs/internals/ane-private-api.md §12.2 and §14 (the ANE computes in fp16); docs/internals/mil-format.md "
        "§8.4 (int8 "
    "activations through quantize/dequantize) and §8.1 (fp32 only at the I/O casts)",
    summary="ops produce run-time tensors of a dtype the ANE is not documented to compute in",
)
def activation_dtype(ctx: Context) -> Iterator[Diagnostic]:
    """One finding per function and dtype (fp16 is fine; int8/uint8 from ``quantize`` are the W8A8 path;
    a ``cast`` to fp32 that is returned is the fp32-output path, judged by ``ane-io-dtype``)."""
    for f in ctx.functions():
        outputs = {id(v) for v in f.outputs}
        by_dtype: dict[str, list[str]] = {}
        for op in f.operations:
            if op.op_type.startswith("const"):
                continue
            for v in op.outputs:
                t = tensor_of(v.type)
                if t is None or t.dtype.name in ("fp16",) or t.dtype.name in WIDE_DTYPES:
                    continue
                if op.op_type == "quantize" and t.dtype.name in ("int8", "uint8"):
                    continue
                if op.op_type == "cast" and id(v) in outputs:
                    continue
                by_dtype.setdefault(t.dtype.name, []).append(op.name)
        for dt, names in by_dtype.items():
            first = ", ".join(repr(n) for n in names[:3]) + (" …" if len(names) > 3 else "")
            yield ctx.diag(
                "ane-activation-dtype",
                f"{len(names)} op output(s) of function {f.name} are {dt} ({first}); the ANE computes "
                "in fp16 (int8 only through quantize), so these may be rejected or run elsewhere",
                f=f,
                op=f.op(names[0]),
                hint="keep run-time tensors fp16",
            )


@rule(
    "ane-dialect-chip",
    severity="info",
    target="ane",
    source="docs/internals/mil-format.md §3 and §11 rule 1 (program(1.3)/ios18 works on M3/M4/M5, partially on M1; "
    "program(1.0)/ios16 for M1/M2/M3)",
    summary="an ios18 (program(1.3)) function: not fully supported on M1/M2",
)
def dialect_chip(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        if f.opset in OPSETS and opset_index(f.opset) >= opset_index("ios18"):
            yield ctx.diag(
                "ane-dialect-chip",
                f"function {f.name} is ios18 (dialect A): works on M3/M4/M5 but only partially on M1",
                f=f,
                hint="for M1/M2 emit an ios16 program (dialect B)",
            )
