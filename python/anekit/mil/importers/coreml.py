"""Core ML ML programs (MILSpec protobuf) -> :class:`~anekit.mil.ir.Program`.

The mapping is docs/internals/mil-format.md §12.

The protobuf maps one to one onto anekit's IR (§12.3): functions, the block of the function's opset, ops with
named outputs, arguments bound by name or by value (iOS18 constexpr operands), attributes, immediate values and
``BLOBFILE`` references. Blob-backed weights stay in the package's ``weight.bin`` and are read lazily, byte for
byte, exactly as the text parser reads a ``.mlmodelc`` bundle. The program is then type-checked like parsed
text (:func:`~anekit.mil.text.parse_check.check_program`).

Only the ``protobuf`` message objects are touched (``spec.mlProgram``); coremltools itself is needed only to
read a ``.mlmodel`` file or to hand over an ``MLModel``, and is imported lazily (``pip install anekit[coreml]``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import MILError
from ..ir import Binding, Function, Operation, Program, Var
from ..ops._spec import OP_REGISTRY
from ..text.parse_check import check_program
from ..types import DictType, DType, ListType, StateType, TensorType, TupleType, Type, dtype
from ..values import BlobRef, Value, WeightSource

__all__ = [
    "COREML_PACKAGE_SPEC",
    "flexible_from_spec",
    "load_mlmodel_object",
    "program_from_spec",
    "read_spec",
]

# SizeRange.upperBound -1 means unbounded (Core ML FeatureTypes.proto); pinning compares against this.
_UNBOUNDED = 2**31 - 1

#: Where an ``.mlpackage`` keeps its spec and weights (the layout coremltools' ``save`` writes, §12.1).
COREML_PACKAGE_SPEC = Path("Data") / "com.apple.CoreML" / "model.mlmodel"

# MILSpec.DataType numbers -> anekit dtype names (MIL.proto enum; docs/internals/mil-format.md §12.4).
_DTYPES = {
    1: "bool",
    2: "string",
    10: "fp16",
    11: "fp32",
    12: "fp64",
    13: "bf16",
    21: "int8",
    22: "int16",
    23: "int32",
    24: "int64",
    25: "int4",
    31: "uint8",
    32: "uint16",
    33: "uint32",
    34: "uint64",
    35: "uint4",
    36: "uint2",
    37: "uint1",
    38: "uint6",
    39: "uint3",
    40: "fp8e4m3",
    41: "fp8e5m2",
}

# Function.opset strings -> MIL text opset names (spec versions 6-9; §12.4). CoreML9 (iOS26) has no op
# definitions in coremltools 9.0 and no known text name, so it is rejected by name.
_OPSETS = {"CoreML5": "ios15", "CoreML6": "ios16", "CoreML7": "ios17", "CoreML8": "ios18"}

#: Where a proto element sits, for error messages: a string, or a function that formats it (called on error only).
Where = str | Callable[[], str]

_NOT_MLPROGRAM = (
    "{what} holds a Core ML {kind} model, not an ML program; anekit imports ML programs only. Convert it to an ML "
    "program first, e.g. coremltools.convert(source, convert_to='mlprogram') from the original PyTorch model"
)


def read_spec(path: str | os.PathLike[str]) -> Any:
    """The ``Model`` protobuf of an ``.mlmodel`` file or an ``.mlpackage`` directory.

    Raises:
        MILError: the file is missing or is not a Core ML model; ImportError names the ``coreml`` extra when
            coremltools is not installed.
    """
    p = Path(path)
    spec_file = p / COREML_PACKAGE_SPEC if p.is_dir() else p
    if not spec_file.is_file():
        raise MILError(f"{p} has no Core ML spec (expected {spec_file})")
    model_pb2 = _model_pb2()
    spec = model_pb2.Model()
    try:
        spec.ParseFromString(spec_file.read_bytes())
    except Exception as exc:  # protobuf raises its own DecodeError, which has no stable import path
        raise MILError(f"{spec_file} is not a Core ML model protobuf: {exc}") from exc
    return spec


def load_mlmodel_object(model: Any) -> Program:
    """Import a ``coremltools.models.MLModel``, reading its weights into memory.

    The weights are copied because a converted model keeps them in a temporary folder that is deleted with the
    ``MLModel`` object; the returned program must outlive it.
    """
    spec = model.get_spec()
    weights: dict[str, bytes] = {}
    folder = getattr(model, "weights_dir", None)
    if folder is not None and Path(folder).is_dir():
        for f in Path(folder).rglob("*"):
            if f.is_file():
                weights["@model_path/weights/" + f.relative_to(folder).as_posix()] = f.read_bytes()
    return program_from_spec(spec, weights=weights or None, what="the MLModel")


def program_from_spec(
    spec: Any,
    weights: Mapping[str, bytes] | str | os.PathLike[str] | None = None,
    *,
    what: str = "the spec",
) -> Program:
    """Build a :class:`Program` from a Core ML ``Model`` protobuf (or its ``mlProgram`` field).

    Args:
        spec: ``coremltools.proto.Model_pb2.Model`` or ``MIL_pb2.Program``.
        weights: where ``BLOBFILE`` references resolve (see :class:`~anekit.mil.values.WeightSource`).
        what: how error messages name the source (a path).

    Raises:
        MILError: not an ML program ("convert to an ML program first"), or a function, block, op, type or value
            anekit cannot represent (the message names it and where it is).
    """
    mlprog = spec
    if hasattr(spec, "WhichOneof") and "mlProgram" in type(spec).DESCRIPTOR.fields_by_name:
        kind = spec.WhichOneof("Type")
        if kind != "mlProgram":
            raise MILError(_NOT_MLPROGRAM.format(what=what, kind=kind or "empty"))
        mlprog = spec.mlProgram
    if not hasattr(mlprog, "functions"):
        raise MILError(f"{what} is not a Core ML Model or MIL Program protobuf (got {type(spec).__name__})")
    source = WeightSource(weights)
    conv = _Converter(source, what)
    funcs = [conv.function(name, f) for name, f in mlprog.functions.items()]
    if not funcs:
        raise MILError(f"{what}: the ML program has no functions")
    attrs = {k: conv.value(v, f"program attribute {k!r}") for k, v in mlprog.attributes.items()}
    # Program version: coremlc writes program(1.3) for ios18 functions and program(1.0) otherwise (§12.3).
    version = "1.3" if any(f.opset == "ios18" for f in funcs) else "1.0"
    prog = Program(funcs, attrs, version, source)
    check_program(prog)
    return prog


def _model_pb2() -> Any:
    try:
        from coremltools.proto import Model_pb2
    except ImportError as exc:
        raise ImportError(
            "reading Core ML files needs coremltools' protobuf modules: pip install 'anekit[coreml]'"
        ) from exc
    return Model_pb2


class _Converter:
    """Proto messages -> IR objects for one program (types are interned: ops repeat the same few)."""

    def __init__(self, source: WeightSource, what: str) -> None:
        self.source = source
        self.what = what
        self.types: dict[bytes, Type] = {}  # serialized ValueType -> Type: ops repeat a few types many times
        # serialized immediate Value -> (type, decoded read-only data): consts repeat the same axes, shapes and
        # flags in every layer. Only immutable data is kept (read-only arrays, strings), so sharing it between
        # the Values of different ops cannot leak a change from one to another.
        self.immediates: dict[bytes, tuple[Type, Any]] = {}
        self.tuple_inputs: dict[str, set[str]] = {}  # op type -> its tuple-valued inputs (concat's values, ...)

    def err(self, where: Where, message: str) -> MILError:
        return MILError(f"{self.what}: {where() if callable(where) else where}: {message}")

    # Types ---------------------------------------------------------------------------------------------------
    def dtype(self, code: int, where: Where) -> DType:
        name = _DTYPES.get(code)
        if name is None:
            raise self.err(where, f"MILSpec data type {code} is not one anekit knows")
        return dtype(name)

    def type(self, vt: Any, where: Where) -> Type:
        key = vt.SerializeToString()
        found = self.types.get(key)
        if found is None:
            found = self.types[key] = self.new_type(vt, where)
        return found

    def new_type(self, vt: Any, where: Where) -> Type:
        kind = vt.WhichOneof("type")
        if kind == "tensorType":
            tt = vt.tensorType
            dims: list[int | None] = []
            for d in tt.dimensions:
                dk = d.WhichOneof("dimension")
                if dk == "constant":
                    dims.append(int(d.constant.size))
                elif dk == "unknown" and not d.unknown.variadic:
                    dims.append(None)
                else:
                    raise self.err(where, "variadic-rank tensors cannot be represented in MIL text; pin the rank")
            if tt.rank != len(dims) and tt.rank >= 0:
                raise self.err(where, f"tensor type declares rank {tt.rank} but lists {len(dims)} dimensions")
            if tt.rank < 0:
                raise self.err(where, "tensors of unknown rank cannot be represented in MIL text")
            return TensorType(self.dtype(tt.dataType, where), tuple(dims))
        if kind == "stateType":
            inner = self.type(vt.stateType.wrappedType, where)
            if not isinstance(inner, TensorType):
                raise self.err(where, f"a state must wrap a tensor, got {inner}")
            return StateType(inner)
        if kind == "listType":
            lt = vt.listType
            length = int(lt.length.constant.size) if lt.length.WhichOneof("dimension") == "constant" else None
            return ListType(self.type(lt.type, where), length)
        if kind == "tupleType":
            return TupleType(tuple(self.type(t, where) for t in vt.tupleType.types))
        if kind == "dictionaryType":
            dt = vt.dictionaryType
            return DictType(self.type(dt.keyType, where), self.type(dt.valueType, where))
        raise self.err(where, f"value type {kind or 'unset'!r} is not supported")

    # Values --------------------------------------------------------------------------------------------------
    def value(self, v: Any, where: Where) -> Value:
        kind = v.WhichOneof("value")
        if kind == "immediateValue":
            key = v.SerializeToString()
            known = self.immediates.get(key)
            if known is not None:  # decoded and checked before: the same bytes give the same Value
                return Value.trusted(known[0], known[1], "inline")  # type: ignore[arg-type]
            t = self.type(v.type, where)
            val = Value(t, self.immediate(v.immediateValue, t, where))
            data = val._data
            if type(data) is str or (type(data) is np.ndarray and not data.flags.writeable):
                self.immediates[key] = (t, data)
            return val
        t = self.type(v.type, where)
        if kind == "blobFileValue":
            if not (isinstance(t, TensorType) and t.is_static):
                raise self.err(where, f"a BLOBFILE value needs a static tensor type, got {t}")
            b = v.blobFileValue
            return Value(t, blob=BlobRef(b.fileName, int(b.offset)), source=self.source)
        raise self.err(where, f"value kind {kind or 'unset'!r} is not supported")

    def immediate(self, iv: Any, t: Type, where: Where) -> Any:
        kind = iv.WhichOneof("value")
        if kind == "tensor":
            if not isinstance(t, TensorType):
                raise self.err(where, f"a tensor literal needs a tensor type, got {t}")
            return self.tensor(iv.tensor, t, where)
        if kind == "tuple" and isinstance(t, TupleType):
            vals = list(iv.tuple.values)
            if len(vals) != len(t.elems):
                raise self.err(where, f"tuple literal has {len(vals)} elements, its type {t} has {len(t.elems)}")
            return tuple(self.value(x, where).data for x in vals)
        if kind == "list" and isinstance(t, ListType):
            return [self.value(x, where).data for x in iv.list.values]
        if kind == "dictionary" and isinstance(t, DictType):
            out: dict[Any, Any] = {}
            for kv in iv.dictionary.values:
                key = self.value(kv.key, where).data
                out[key.item() if isinstance(key, np.ndarray) else key] = self.value(kv.value, where).data
            return out
        raise self.err(where, f"immediate value {kind or 'unset'!r} does not match its type {t}")

    def tensor(self, tv: Any, t: TensorType, where: Where) -> Any:
        d = t.dtype
        field = tv.WhichOneof("value")
        if field is None:  # an empty repeated field: a tensor with no elements, or an unset value
            if t.numel != 0:
                raise self.err(where, f"tensor literal of {t} has no data")
            return np.zeros(t.shape, d.np_dtype or object)
        values = getattr(tv, field).values
        if field == "strings":
            if d.name != "string":
                raise self.err(where, f"string data for a {t} literal")
            items = list(values)
            return items[0] if t.rank == 0 and len(items) == 1 else self.shaped(np.array(items, object), t, where)
        if field == "bytes":
            arr = self.unpack(bytes(values), d, t, where)
        else:
            if d.np_dtype is None or (field == "bools") != (d.kind == "bool"):
                raise self.err(where, f"{field} data for a {t} literal")
            arr = np.asarray(list(values)).astype(d.np_dtype)
        return self.shaped(arr, t, where)

    def unpack(self, raw: bytes, d: DType, t: TensorType, where: Where) -> np.ndarray:
        # Raw little-endian bytes (§9.7): byte-sized types directly, sub-byte types packed LSB first (§9.5).
        if d.name == "bf16":
            return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        if d.name.startswith("fp8"):
            raise self.err(where, f"{d.name} immediates are not supported (no exact numpy type)")
        if d.is_subbyte:
            n = t.numel if t.numel is not None else len(raw) * 8 // d.bits
            bits = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")
            if bits.size < n * d.bits:
                raise self.err(where, f"{len(raw)} bytes hold fewer than {n} {d.name} values")
            weights = (1 << np.arange(d.bits)).astype(np.int16)
            vals = bits[: n * d.bits].reshape(n, d.bits).astype(np.int16) @ weights
            if d.is_signed:
                vals = np.where(vals >= 1 << (d.bits - 1), vals - (1 << d.bits), vals)
            return vals.astype(d.np_dtype)
        if d.np_dtype is None:
            raise self.err(where, f"{d.name} data cannot be stored as bytes")
        item = np.dtype(d.np_dtype).newbyteorder("<")
        if len(raw) % item.itemsize:
            raise self.err(where, f"{len(raw)} bytes are not a whole number of {d.name} values")
        return np.frombuffer(raw, item).astype(d.np_dtype)

    def shaped(self, arr: np.ndarray, t: TensorType, where: Where) -> np.ndarray:
        if t.is_static:
            if arr.size != t.numel:
                raise self.err(where, f"literal has {arr.size} elements, its type {t} has {t.numel}")
            return arr.reshape(t.shape)
        if t.rank == 1:
            return arr
        raise self.err(where, f"literal of the non-static type {t} cannot be shaped")

    # Structure -----------------------------------------------------------------------------------------------
    def function(self, name: str, fn: Any) -> Function:
        opset = _OPSETS.get(fn.opset)
        if opset is None:
            raise self.err(
                f"function {name!r}",
                f"opset {fn.opset!r} is not supported (known: {', '.join(_OPSETS)}); export for iOS18 or older",
            )
        if fn.opset not in fn.block_specializations:
            raise self.err(f"function {name!r}", f"has no block for its opset {fn.opset!r}")
        f = Function(name, opset)
        for nv in fn.inputs:
            f.inputs[nv.name] = Var(nv.name, self.type(nv.type, f"input {nv.name!r} of function {name!r}"))
        f.attributes = {k: self.value(v, f"attribute {k!r} of function {name!r}") for k, v in fn.attributes.items()}
        block = fn.block_specializations[fn.opset]
        env = dict(f.inputs)
        for i, op in enumerate(block.operations):
            f.operations.append(self.operation(op, i, env, name))
        for out in block.outputs:
            if out not in env:
                raise self.err(f"function {name!r}", f"output {out!r} is not defined")
            f.outputs.append(env[out])
        return f

    def operation(self, pop: Any, index: int, env: dict[str, Var], fname: str) -> Operation:
        # Runs once per op of large programs: each proto field is read once into a local, protobuf maps are
        # walked by key (their items() view is a slow pure-Python mixin), and error messages are formatted
        # only when an error is raised.
        op_type = pop.type
        attrs: dict[str, Value] = {}
        name = None
        pattrs = pop.attributes
        for k in pattrs:
            v = pattrs[k]
            if k == "name":
                tv = v.immediateValue.tensor
                if tv.WhichOneof("value") == "strings":
                    # every op has one: read the string directly instead of building a Value that is dropped
                    name = str(tv.strings.values[0])
                    continue
            attrs[k] = self.value(v, lambda k=k: f"attribute {k!r} of op #{index} ({op_type})")
        name_v = attrs.pop("name", None)
        if name is None and name_v is not None and isinstance(name_v.data, str):
            name = name_v.data
        pouts = pop.outputs
        if name is None:
            name = pouts[0].name if pouts else f"{op_type}_{index}"
        op_name = name

        def where() -> str:
            return f"op {op_name!r} ({op_type}) in function {fname!r}"

        if len(pop.blocks):
            raise self.err(
                where,
                "has nested blocks (control flow: cond / while_loop); the ANE runs straight-line programs, so "
                "anekit does not import control flow; trace the model without data-dependent branches",
            )
        tuple_inputs = self.tuple_inputs.get(op_type)
        if tuple_inputs is None:
            spec = OP_REGISTRY.get(op_type)
            tuple_inputs = {s.name for s in spec.inputs if s.is_tuple} if spec is not None else set()
            self.tuple_inputs[op_type] = tuple_inputs
        inputs: dict[str, Binding] = {}
        pins = pop.inputs
        for key in pins:
            items: list[Var | Value] = []
            for b in pins[key].arguments:
                bk = b.WhichOneof("binding")
                if bk == "name":
                    var = env.get(b.name)
                    if var is None:
                        raise self.err(where, f"input {key!r} uses the undefined variable {b.name!r}")
                    items.append(var)
                elif bk == "value":
                    items.append(self.value(b.value, lambda key=key: f"input {key!r} of {where()}"))
                else:
                    raise self.err(where, f"input {key!r} has an empty binding")
            inputs[key] = tuple(items) if len(items) != 1 or key in tuple_inputs else items[0]
        op = Operation.built(op_type, name)
        outs = op.outputs
        types = self.types
        for nv in pouts:
            out_name = nv.name
            vt = nv.type
            t = types.get(vt.SerializeToString())
            if t is None:
                t = self.type(vt, lambda n=out_name: f"output {n!r} of {where()}")
            v = Var(out_name, t, op)
            env[out_name] = v
            outs.append(v)
        op.inputs, op.attrs = inputs, attrs
        return op


def flexible_from_spec(spec: Any) -> dict[str, Any]:
    """The model description's flexible shapes in :func:`~anekit.mil.passes.shapes.flexible_shapes` form."""
    out: dict[str, Any] = {}
    desc = getattr(spec, "description", None)
    for feat in getattr(desc, "input", ()):
        if feat.type.WhichOneof("Type") != "multiArrayType":
            continue
        mat = feat.type.multiArrayType
        default = tuple(int(d) for d in mat.shape)
        kind = mat.WhichOneof("ShapeFlexibility")
        if default:
            out.setdefault("DefaultShapes", {})[feat.name] = default
        if kind == "shapeRange":
            # upperBound -1 means unbounded (Core ML FeatureTypes.proto SizeRange).
            ranges = [
                (int(r.lowerBound), int(r.upperBound) if r.upperBound >= 0 else _UNBOUNDED)
                for r in mat.shapeRange.sizeRanges
            ]
            out.setdefault("RangeDims", {})[feat.name] = ranges
        elif kind == "enumeratedShapes":
            table = out.setdefault("EnumeratedShapes", {})
            for i, s in enumerate(mat.enumeratedShapes.shapes):
                table.setdefault(str(i), {})[feat.name] = tuple(int(d) for d in s.shape)
    return out

