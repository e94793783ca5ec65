"""Program -> MIL text, in either dialect, deterministic byte for byte (docs/internals/mil-format.md §2-7).

Style follows coremlc's output: ``program(1.0)``/``program(1.3)`` header, 4 spaces before ``func``, 12 before
statements, 8 before ``} -> (…);``; arguments and attributes sorted alphabetically (``name`` included); floats
as C ``%a`` of the value widened to double with trailing mantissa zeros trimmed (§6), ``inf``/``-inf``/``nan``.

Dialect A (``program(1.3)``, opset ios18) writes rank-0 types as the bare dtype (``fp16``); dialect B
(``program(1.0)``, ios15-17) as ``tensor<fp16, []>`` (§3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import MILError
from ..blob import HEADER_SIZE, METADATA_SIZE, BlobWriter, blob_size
from ..types import DictType, ListType, StateType, TensorType, TupleType, Type
from ..values import MODEL_PATH_PREFIX, BlobRef, Value

if TYPE_CHECKING:
    from ..ir import Binding, Function, Operation, Program

__all__ = [
    "DEFAULT_WEIGHT_PATH",
    "WeightLayout",
    "emit",
    "format_float",
    "format_type",
    "layout_weights",
    "resolve_dialect",
]

#: The weight file path coremlc uses in every real file (§7.3).
DEFAULT_WEIGHT_PATH = MODEL_PATH_PREFIX + "weights/weight.bin"
_HEADER_VERSION = {"A": "1.3", "B": "1.0"}


def format_float(x: float) -> str:
    """C ``%a`` of ``x`` as a double with trailing mantissa zeros trimmed: ``0x1p+0``, ``-0x1.48p-1``, ``inf``."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0.0:
        return "-0x0p+0" if math.copysign(1.0, x) < 0 else "0x0p+0"
    h = x.hex()  # e.g. '0x1.f0a3d80000000p-1'; identical to glibc %a for normal doubles
    mant, exp = h.split("p")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    return f"{mant}p{exp}"


def resolve_dialect(program: Program, dialect: str | None) -> str:
    """``"A"`` or ``"B"``: forced by ``dialect``, else from the parsed header version, else from the opsets.

    A forced dialect B is refused for a program with an ios18 function: iOS18 code under ``program(1.0)`` is
    ``InvalidMILProgram`` on the ANE (docs/internals/mil-format.md §3, §11 rule 2), and relabelling the function's opset
    would change the meaning of ops whose definition differs between opsets. Dialect A with ios15-17
    functions stays possible (third-party ANE code uses ``program(1.3)`` with ios17, §3; the validator's
    ``header-opset`` rule warns about it).

    Raises:
        MILError: an unknown dialect, or dialect B for a program with an ios18 function.
    """
    if dialect is not None:
        d = {"a": "A", "b": "B", "1.3": "A", "1.0": "B"}.get(str(dialect).lower())
        if d is None:
            raise MILError(f"dialect must be 'A' (program(1.3)) or 'B' (program(1.0)), got {dialect!r}")
        newer = [f.name for f in program.functions.values() if f.opset == "ios18"]
        if d == "B" and newer:
            raise MILError(
                f"cannot write dialect B (program(1.0)) for function {newer[0]!r}: it is ios18, and the ANE "
                "compiler rejects iOS18 code under program(1.0) (InvalidMILProgram, docs/internals/mil-format.md §11 "
                "rule 2); "
                "build the program with an ios15-17 opset (e.g. Builder(opset='ios17')) for dialect B"
            )
        return d
    if program.version is not None:
        return "B" if program.version == "1.0" else "A"
    return "A" if any(f.opset == "ios18" for f in program.functions.values()) else "B"


def format_type(t: Type, dialect: str) -> str:
    """Type text; rank-0 tensors are bare dtypes in dialect A."""
    if isinstance(t, TensorType):
        if not t.shape and dialect == "A":
            return t.dtype.name
        return str(t) if t.shape else f"tensor<{t.dtype.name}, []>"
    if isinstance(t, StateType):
        return f"state<{format_type(t.wrapped, dialect)}>"
    if isinstance(t, ListType):
        return f"list<{format_type(t.elem, dialect)}, {'?' if t.length is None else t.length}>"
    if isinstance(t, TupleType):
        return "tuple<" + ", ".join(format_type(e, dialect) for e in t.elems) + ">"
    if isinstance(t, DictType):
        return f"dict<{format_type(t.key, dialect)}, {format_type(t.value, dialect)}>"
    raise MILError(f"cannot print type {t!r}")


def _scalar(x: Any, kind: str) -> str:
    if kind == "f":
        return format_float(x)
    if kind == "b":
        return "true" if x else "false"
    if kind == "s":
        s = str(x)
        if '"' in s:
            raise MILError(f"string {s!r} contains a double quote, which MIL text cannot express (§6)")
        return f'"{s}"'
    return str(int(x))


def _tensor_literal(data: Any, t: TensorType) -> str:
    kind = "s" if t.dtype.kind == "string" else {"float": "f", "bool": "b"}.get(t.dtype.kind, "i")
    arr = np.asarray(data, dtype=object if kind == "s" else None)
    if arr.ndim == 0:
        return _scalar(arr.item() if kind != "f" else float(arr), kind)
    if kind == "f":
        # Widening a signalling NaN raises IEEE "invalid"; MIL text writes every NaN as ``nan`` anyway.
        with np.errstate(invalid="ignore"):
            wide = arr.astype(np.float64)
        flat = [format_float(v) for v in wide.reshape(-1).tolist()]
    else:
        flat = [_scalar(v, kind) for v in arr.reshape(-1).tolist()]

    def nest(dims: tuple[int, ...], start: int) -> tuple[str, int]:
        if len(dims) == 1:
            return "[" + ", ".join(flat[start : start + dims[0]]) + "]", start + dims[0]
        parts = []
        for _ in range(dims[0]):
            s, start = nest(dims[1:], start)
            parts.append(s)
        return "[" + ", ".join(parts) + "]", start

    return nest(arr.shape, 0)[0]


def _literal(data: Any, t: Type) -> str:
    if isinstance(t, TensorType):
        return _tensor_literal(data, t)
    if isinstance(t, TupleType):
        if not isinstance(data, tuple) or len(data) != len(t.elems):
            raise MILError(f"tuple literal {data!r} does not match type {t}")
        return "(" + ", ".join(_literal(d, e) for d, e in zip(data, t.elems, strict=True)) + ")"
    if isinstance(t, ListType):
        return "[" + ", ".join(_literal(d, t.elem) for d in data) + "]"
    if isinstance(t, DictType):
        return "{" + ", ".join(f"{{{_literal(k, t.key)}, {_literal(v, t.value)}}}" for k, v in data.items()) + "}"
    raise MILError(f"cannot print a literal of type {t!r}")


def _value(v: Value, dialect: str, layout: WeightLayout | None) -> str:
    ref = v.blob
    if ref is None and v.storage == "blob":
        ref = layout.refs.get(id(v)) if layout is not None else None
        if ref is None:
            raise MILError(f"blob value {v!r} has no weight layout")
    tt = format_type(v.type, dialect)
    if ref is not None:
        st = "string" if dialect == "A" else "tensor<string, []>"
        u64 = "uint64" if dialect == "A" else "tensor<uint64, []>"
        return f'{tt}(BLOBFILE(path = {st}("{ref.path}"), offset = {u64}({ref.offset})))'
    return f"{tt}({_literal(v.data, v.type)})"


def _name_value(name: str, dialect: str) -> str:
    return f'string("{name}")' if dialect == "A" else f'tensor<string, []>("{name}")'


def _binding(b: Binding, dialect: str, layout: WeightLayout | None) -> str:
    if isinstance(b, tuple):
        return "(" + ", ".join(_binding(x, dialect, layout) for x in b) + ")"
    if isinstance(b, Value):
        return _value(b, dialect, layout)
    return b.name


def _statement(op: Operation, dialect: str, layout: WeightLayout | None) -> str:
    args = ", ".join(f"{k} = {_binding(op.inputs[k], dialect, layout)}" for k in sorted(op.inputs))
    attrs = {k: _value(v, dialect, layout) for k, v in op.attrs.items()}
    attrs["name"] = _name_value(op.name, dialect)
    attr_text = ", ".join(f"{k} = {attrs[k]}" for k in sorted(attrs))
    call = f"{op.op_type}({args})[{attr_text}];"
    if not op.outputs:
        return call
    outs = ", ".join(f"{format_type(v.type, dialect)} {v.name}" for v in op.outputs)
    return f"{outs} = {call}"


def _function(f: Function, dialect: str, layout: WeightLayout | None) -> list[str]:
    params = ", ".join(f"{format_type(v.type, dialect)} {name}" for name, v in f.inputs.items())
    fattrs = ""
    if f.attributes:
        fattrs = (
            " [" + ", ".join(f"{k} = {_value(f.attributes[k], dialect, layout)}" for k in sorted(f.attributes)) + "]"
        )
    lines = [f"    func {f.name}<{f.opset}>({params}){fattrs} {{"]
    lines.extend("            " + _statement(op, dialect, layout) for op in f.operations)
    lines.append("        } -> (" + ", ".join(v.name for v in f.outputs) + ");")
    return lines


def emit(program: Program, dialect: str | None = None, *, layout: WeightLayout | None = None) -> str:
    """Print ``program`` as MIL text.

    Args:
        program: the program.
        dialect: ``"A"`` / ``"B"`` to force a dialect; None follows the parsed header or the opsets (§3).
        layout: a precomputed weight layout (``layout_weights``); computed when None.

    Raises:
        MILError: a value cannot be printed (e.g. a string with a double quote).
    """
    d = resolve_dialect(program, dialect)
    if layout is None:
        layout = layout_weights(program, include_existing=False)
    version = program.version if program.version is not None and dialect is None else _HEADER_VERSION[d]
    lines = [f"program({version})"]
    if program.attributes:
        lines.append(
            "["
            + ", ".join(f"{k} = {_value(program.attributes[k], d, layout)}" for k in sorted(program.attributes))
            + "]"
        )
    lines.append("{")
    for f in program.functions.values():
        lines.extend(_function(f, d, layout))
    lines.append("}")
    return "\n".join(lines)


@dataclass
class WeightLayout:
    """Where in-memory blob values go: ``refs`` (id(Value) -> BlobRef) and ``files`` (path -> bytes).

    ``files`` is filled only when the layout was materialised (``weights()``/``save()``); printing the text
    needs only the offsets.
    """

    refs: dict[int, BlobRef] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)


def _program_values(program: Program) -> list[Value]:
    out: list[Value] = []
    for f in program.functions.values():
        for op in f.operations:
            for k in sorted(op.inputs):
                b = op.inputs[k]
                for x in b if isinstance(b, tuple) else (b,):
                    if isinstance(x, Value):
                        out.append(x)
            out.extend(op.attrs[k] for k in sorted(op.attrs))
    return out


def _raw_bytes(v: Value) -> np.ndarray:
    return np.ascontiguousarray(v.data).reshape(-1).view(np.uint8)


def _fingerprint(raw: np.ndarray) -> bytes:
    # Cheap pre-filter for deduplication: equal data always has equal fingerprints; candidates with equal
    # fingerprints are then compared byte for byte.
    return raw[:4096].tobytes() + raw[-4096:].tobytes()


def layout_weights(program: Program, *, include_existing: bool = True) -> WeightLayout:
    """Assign blob offsets to in-memory blob values, in program order, deduplicating identical (dtype, shape,
    bytes) values (§7.2).

    New blobs go to their ``path_hint`` file, else ``@model_path/weights/weight.bin`` unless parsed references
    already use that path, in which case ``weight_1.bin`` (… ``weight_N.bin``) is used. Offsets follow the
    writer's rule (§9.5): each record at the next 64-byte boundary, data right after it. With
    ``include_existing`` the files are materialised: new ones encoded, and the files behind parsed references
    copied unchanged from the program's weight source (§12: reused byte for byte).

    Raises:
        MILError: a referenced file is not available, or a value cannot be encoded for its dtype.
    """
    values = _program_values(program)
    existing = {v.blob.path for v in values if v.blob is not None}
    default = DEFAULT_WEIGHT_PATH
    n = 0
    while default in existing:
        n += 1
        default = f"{MODEL_PATH_PREFIX}weights/weight_{n}.bin"
    layout = WeightLayout()
    ends: dict[str, int] = {}
    plans: dict[str, list[tuple[int, Value]]] = {}
    seen: dict[tuple[str, str, tuple[int | None, ...], bytes], list[tuple[np.ndarray, int]]] = {}
    for v in values:
        if v.blob is not None or v.storage != "blob":
            continue
        t = v.type
        if not isinstance(t, TensorType) or t.numel is None:
            raise MILError(f"only static tensors can be stored in a weight blob, got {t}")
        path = v.path_hint or default
        if path in existing:
            raise MILError(f"cannot add new blobs to {path!r}: the program already references that file")
        raw = _raw_bytes(v)
        # Only identical (dtype, shape, bytes) share a blob (§7.2): equal bytes under another shape stay apart.
        key = (path, t.dtype.name, t.shape, _fingerprint(raw))
        offset = next((off for other, off in seen.get(key, ()) if np.array_equal(other, raw)), None)
        if offset is None:
            offset = _align64(ends.get(path, HEADER_SIZE))
            ends[path] = offset + METADATA_SIZE + blob_size(t.dtype, t.numel)
            seen.setdefault(key, []).append((raw, offset))
            plans.setdefault(path, []).append((offset, v))
        layout.refs[id(v)] = BlobRef(path, offset)
    if include_existing:
        for p in sorted(existing):
            data = program.weight_source.raw_file(p)
            if data is None:
                raise MILError(f"weight file {p!r} referenced by the program is not available")
            layout.files[p] = data
        for path, plan in plans.items():
            writer = BlobWriter(dedupe=False)  # the plan already deduplicated
            for offset, v in plan:
                got = writer.add(v.data, v.type.dtype)  # type: ignore[union-attr]
                if got != offset:  # the plan and the writer implement the same rule; guard it anyway
                    raise MILError(f"internal weight layout mismatch in {path}: {got} != {offset}")
            layout.files[path] = writer.to_bytes()
    return layout


def _align64(n: int) -> int:
    return (n + 63) // 64 * 64
