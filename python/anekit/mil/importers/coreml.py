"""Core ML ML programs (MILSpec protobuf) -> :class:`~anekit.mil.ir.Program`.

The mapping is docs/internals/mil-format.md §12.

The protobuf maps one to one onto anekit's IR (§12.3): functions, the block of the function's opset, ops with
named outputs, arguments bound by name or by value (iOS18 constexpr operands), attributes, immediate values and
``BLOBFILE`` references. Blob-backed weights stay in the package's ``weight.bin`` and are read lazily, byte for
byte, exactly as the text parser reads a ``.mlmodelc`` bundle.

Two stages. *Decoding* turns the serialized ``Model`` into the compact form below; the native extension does it
straight from the wire format (``anekit._core.milspec_decode``: no coremltools needed, and faster than
coremltools' own ``MLModel(path).get_spec()``), and :class:`_ProtoDecoder` does the same from coremltools'
protobuf message classes when the extension lacks the decoder or the bytes use an encoding it leaves to
protobuf. *Assembly* (:class:`_Assembler`) checks the compact form and builds the Program; every error message
comes from there, whichever decoder ran.

Imported programs are not type-checked at load: the proto states every output type (coremltools' own
inference wrote them), and ``mil.validate`` (rule ``op-check``, which ``anekit.compile`` runs too) re-infers
and compares them. Re-inferring at load as well took twice as long as all the rest of the import.

Compact form (both decoders produce exactly this; type and value ids index ``types`` / ``values``, in which
identical messages appear once):

* model: ``(kind, program | None, (inputs, default function), types, values)``; ``kind`` is the field number of
  the ``Model.Type`` member set (502 = ``mlProgram``, 0 = none); ``inputs`` are the multi-array inputs of the
  model description as ``(name, default shape, "enumeratedShapes" | "shapeRange" | None, shapes | (lower,
  upper) pairs)``; the default function name is ``""`` unless the model has several functions.
* program: ``(((function name, function), ...), ((attribute, value id), ...))``.
* function: ``(opset, ((input, type id), ...), ((attribute, value id), ...), (ops, output names) | None)``: the
  block of the function's own opset, None when it has none.
* op: ``(type, name | None, ((input, args), ...), ((attribute, value id), ...), ((output, type id), ...),
  number of nested blocks)``; each arg is a variable name (str), a value id (int) or None (an empty binding);
  ``name`` is the op's ``name`` attribute when that is one string (then it is not among the attributes).
* type: ``("tensorType", data type, rank, dims)`` (a dim is an int, None for an unknown size, ``"*"`` for a
  variadic or unset one), ``("listType", type id, length | None)``, ``("tupleType", type ids)``,
  ``("dictionaryType", key type id, value type id)``, ``("stateType", type id)`` or ``(None,)``.
* value: ``(type id, "blobFileValue", file name, offset)``, ``(type id, "immediateValue", kind, data)`` or
  ``(type id, None, None, None)``; an immediate's kind is ``"tensor"`` (data: ``(field, payload)``, numbers as
  little-endian bytes of the field's wire width, strings as a tuple, ``bytes`` as bytes; ``(None, None)`` when
  no field is set), ``"tuple"`` / ``"list"`` (value ids), ``"dictionary"`` (``(key id, value id)`` pairs) or
  None.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import MILError
from ..ir import Binding, Function, Operation, Program, Var
from ..ops._spec import OP_REGISTRY
from ..types import DictType, DType, ListType, StateType, TensorType, TupleType, Type, dtype
from ..values import BlobRef, Value, WeightSource

__all__ = [
    "COREML_PACKAGE_SPEC",
    "decode",
    "flexible_from_spec",
    "import_bytes",
    "import_file",
    "import_mlmodel",
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

# Model.Type oneof members (Model.proto field number -> name), for naming what a non-ML-program spec holds.
# The native decoder knows the same numbers (csrc/bindings/bind_milspec.cpp, kModelTypeFields).
_ML_PROGRAM = 502
_MODEL_KINDS = {
    200: "pipelineClassifier",
    201: "pipelineRegressor",
    202: "pipeline",
    300: "glmRegressor",
    301: "supportVectorRegressor",
    302: "treeEnsembleRegressor",
    303: "neuralNetworkRegressor",
    304: "bayesianProbitRegressor",
    400: "glmClassifier",
    401: "supportVectorClassifier",
    402: "treeEnsembleClassifier",
    403: "neuralNetworkClassifier",
    404: "kNearestNeighborsClassifier",
    500: "neuralNetwork",
    501: "itemSimilarityRecommender",
    502: "mlProgram",
    555: "customModel",
    556: "linkedModel",
    560: "classConfidenceThresholding",
    600: "oneHotEncoder",
    601: "imputer",
    602: "featureVectorizer",
    603: "dictVectorizer",
    604: "scaler",
    606: "categoricalMapping",
    607: "normalizer",
    609: "arrayFeatureExtractor",
    610: "nonMaximumSuppression",
    900: "identity",
    2000: "textClassifier",
    2001: "wordTagger",
    2002: "visionFeaturePrint",
    2003: "soundAnalysisPreprocessing",
    2004: "gazetteer",
    2005: "wordEmbedding",
    2006: "audioFeaturePrint",
    3000: "serializedModel",
}

# Little-endian wire widths of the numeric TensorValue fields in the compact form.
_WIRE = {"floats": "<f4", "ints": "<i4", "bools": "u1", "longInts": "<i8", "doubles": "<f8"}

#: Where a proto element sits, for error messages: a string, or a function that formats it (called on error only).
Where = str | Callable[[], str]

#: ``(program, flexible shapes)``: what an import returns (the shapes in :func:`flexible_from_spec` form).
Imported = tuple[Program, dict[str, Any]]

_NOT_MLPROGRAM = (
    "{what} holds a Core ML {kind} model, not an ML program; anekit imports ML programs only. Convert it to an ML "
    "program first, e.g. coremltools.convert(source, convert_to='mlprogram') from the original PyTorch model"
)


# Entry points --------------------------------------------------------------------------------------------------
def read_spec(path: str | os.PathLike[str]) -> Any:
    """The ``Model`` protobuf (coremltools' message class) of an ``.mlmodel`` file or an ``.mlpackage`` directory.

    Raises:
        MILError: the file is missing or is not a Core ML model; ImportError names the ``coreml`` extra when
            coremltools is not installed.
    """
    spec_file = _spec_file(path)
    spec = _model_pb2().Model()
    try:
        spec.ParseFromString(spec_file.read_bytes())
    except Exception as exc:  # protobuf raises its own DecodeError, which has no stable import path
        raise MILError(f"{spec_file} is not a Core ML model protobuf: {exc}") from exc
    return spec


def import_file(path: str | os.PathLike[str]) -> Imported:
    """Import an ``.mlpackage`` directory or an ``.mlmodel`` file; its weights resolve next to the spec."""
    p = Path(path)
    spec_file = _spec_file(p)
    weights = spec_file.parent if p.is_dir() else p.parent
    return import_bytes(spec_file.read_bytes(), weights, what=str(p), source=str(spec_file))


def import_bytes(
    data: bytes,
    weights: Mapping[str, bytes] | str | os.PathLike[str] | None = None,
    *,
    what: str = "the spec",
    model: bool = True,
    source: str | None = None,
    native: bool | None = None,
) -> Imported:
    """Import a serialized Core ML ``Model`` (or, with ``model=False``, a bare MILSpec ``Program``).

    Args:
        data: the serialized message.
        weights: where ``BLOBFILE`` references resolve (see :class:`~anekit.mil.values.WeightSource`).
        what: how error messages name the model (a path).
        model: whether ``data`` is a ``Model`` (else a MILSpec ``Program``).
        source: how a decoding error names the bytes (default: ``what``).
        native: which decoder (see :func:`decode`; default: the native one when the extension has it).

    Returns:
        The program and the model description's flexible shapes (:func:`flexible_from_spec` form).

    Raises:
        MILError: bytes that are not a protobuf message, a spec that is not an ML program ("convert to an ML
            program first"), or a function, block, op, type or value anekit cannot represent (named).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MILError(f"{what}: expected the serialized protobuf as bytes, got {type(data).__name__}")
    assembler = _Assembler(WeightSource(weights), what)
    # An import allocates thousands of small containers that all stay alive, so the cyclic collector's passes
    # over them during the import find nothing to free; they were a fifth of the import time (MiniLM).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return assembler.model(decode(bytes(data), model=model, native=native, what=source or what))
    finally:
        if collecting:
            gc.enable()


def import_mlmodel(model: Any) -> Imported:
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
    return import_bytes(spec.SerializeToString(), weights or None, what="the MLModel")


def load_mlmodel_object(model: Any) -> Program:
    """The program of a ``coremltools.models.MLModel`` (:func:`import_mlmodel` without the shapes)."""
    return import_mlmodel(model)[0]


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
    fields = getattr(getattr(type(spec), "DESCRIPTOR", None), "fields_by_name", {})
    if "mlProgram" not in fields and "functions" not in fields:
        raise MILError(f"{what} is not a Core ML Model or MIL Program protobuf (got {type(spec).__name__})")
    return import_bytes(spec.SerializeToString(), weights, what=what, model="mlProgram" in fields)[0]


def flexible_from_spec(spec: Any) -> dict[str, Any]:
    """The model description's flexible shapes in :func:`~anekit.mil.passes.shapes.flexible_shapes` form."""
    desc = getattr(spec, "description", None)
    return _flexible(_ProtoDecoder().description(desc)[0] if desc is not None else ())


def decode(data: bytes, *, model: bool = True, native: bool | None = None, what: str = "the spec") -> tuple:
    """The compact form (module docstring) of a serialized ``Model`` (or bare MILSpec ``Program``).

    Args:
        native: True: the native decoder only (MILError when the extension has none); False: the protobuf
            decoder (needs coremltools); None: native when available, protobuf otherwise.
        what: how a decoding error names the bytes.

    Raises:
        MILError: ``data`` is not a protobuf message of that kind.
    """
    fast = _native_decoder() if native is not False else None
    if native and fast is None:
        raise MILError("this build of anekit._core has no native MILSpec decoder (milspec_decode)")
    if fast is not None:
        try:
            compact = fast(data, model=model)
        except ValueError as exc:
            raise MILError(f"{what} is not a Core ML model protobuf: {exc}") from exc
        if compact is not None:
            return compact
        if native:  # a valid encoding no serializer writes (see csrc/bindings/bind_milspec.cpp)
            raise MILError(f"{what}: the native decoder leaves this encoding to protobuf")
    # The protobuf route: coremltools' generated message classes.
    message = _model_pb2().Model() if model else _mil_pb2().Program()
    try:
        message.ParseFromString(data)
    except Exception as exc:  # protobuf raises its own DecodeError, which has no stable import path
        raise MILError(f"{what} is not a Core ML model protobuf: {exc}") from exc
    dec = _ProtoDecoder()
    return dec.model(message) if model else dec.bare_program(message)


def _spec_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    spec_file = p / COREML_PACKAGE_SPEC if p.is_dir() else p
    if not spec_file.is_file():
        raise MILError(f"{p} has no Core ML spec (expected {spec_file})")
    return spec_file


@functools.cache
def _native_decoder() -> Callable[..., Any] | None:
    try:
        from ... import _core
    except ImportError:  # a source tree without the extension: the protobuf route
        return None
    return getattr(_core, "milspec_decode", None)


def _model_pb2() -> Any:
    try:
        from coremltools.proto import Model_pb2
    except ImportError as exc:
        raise ImportError(
            "reading Core ML files without anekit's native decoder needs coremltools' protobuf modules: "
            "pip install 'anekit[coreml]'"
        ) from exc
    return Model_pb2


def _mil_pb2() -> Any:
    _model_pb2()  # the same error when coremltools is missing
    from coremltools.proto import MIL_pb2

    return MIL_pb2


def _flexible(inputs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, default, kind, items in inputs:
        if default:
            out.setdefault("DefaultShapes", {})[name] = tuple(default)
        if kind == "shapeRange":
            # upperBound -1 means unbounded (Core ML FeatureTypes.proto SizeRange).
            ranges = [(int(lo), int(hi) if hi >= 0 else _UNBOUNDED) for lo, hi in items]
            out.setdefault("RangeDims", {})[name] = ranges
        elif kind == "enumeratedShapes":
            table = out.setdefault("EnumeratedShapes", {})
            for i, s in enumerate(items):
                table.setdefault(str(i), {})[name] = tuple(s)
    return out


# Decoding with protobuf ---------------------------------------------------------------------------------------
class _ProtoDecoder:
    """coremltools' protobuf messages -> the compact form (what the native decoder returns for the same bytes)."""

    def __init__(self) -> None:
        self.types: list[tuple] = []
        self.values: list[tuple] = []
        self._type_ids: dict[bytes, int] = {}
        self._value_ids: dict[bytes, int] = {}

    def model(self, spec: Any) -> tuple:
        kind_name = spec.WhichOneof("Type")
        kind = type(spec).DESCRIPTOR.fields_by_name[kind_name].number if kind_name else 0
        prog = self.program(spec.mlProgram) if kind == _ML_PROGRAM else None
        return (kind, prog, self.description(spec.description), self.types, self.values)

    def bare_program(self, prog: Any) -> tuple:
        return (_ML_PROGRAM, self.program(prog), ((), ""), self.types, self.values)

    def description(self, desc: Any) -> tuple:
        out = []
        for feat in desc.input:
            if feat.type.WhichOneof("Type") != "multiArrayType":
                continue
            mat = feat.type.multiArrayType
            kind = mat.WhichOneof("ShapeFlexibility")
            items: tuple = ()
            if kind == "enumeratedShapes":
                items = tuple(tuple(int(d) for d in s.shape) for s in mat.enumeratedShapes.shapes)
            elif kind == "shapeRange":
                items = tuple((int(r.lowerBound), int(r.upperBound)) for r in mat.shapeRange.sizeRanges)
            out.append((feat.name, tuple(int(d) for d in mat.shape), kind, items))
        return tuple(out), desc.defaultFunctionName

    def program(self, prog: Any) -> tuple:
        functions = tuple((name, self.function(prog.functions[name])) for name in prog.functions)
        return functions, self.attributes(prog.attributes)

    def attributes(self, attrs: Any) -> tuple:
        return tuple((k, self.value_id(attrs[k])) for k in attrs)

    def function(self, fn: Any) -> tuple:
        inputs = tuple((nv.name, self.type_id(nv.type)) for nv in fn.inputs)
        block = None
        if fn.opset in fn.block_specializations:
            b = fn.block_specializations[fn.opset]
            block = (tuple(self.operation(op) for op in b.operations), tuple(b.outputs))
        return (fn.opset, inputs, self.attributes(fn.attributes), block)

    def operation(self, op: Any) -> tuple:
        name = None
        attrs = []
        for k in op.attributes:
            v = op.attributes[k]
            if k == "name" and _single_string(v):
                name = v.immediateValue.tensor.strings.values[0]
            else:
                attrs.append((k, self.value_id(v)))
        inputs = tuple((k, self.argument(op.inputs[k])) for k in op.inputs)
        outputs = tuple((nv.name, self.type_id(nv.type)) for nv in op.outputs)
        return (op.type, name, inputs, tuple(attrs), outputs, len(op.blocks))

    def argument(self, arg: Any) -> tuple:
        items: list[Any] = []
        for b in arg.arguments:
            kind = b.WhichOneof("binding")
            items.append(b.name if kind == "name" else self.value_id(b.value) if kind == "value" else None)
        return tuple(items)

    def type_id(self, vt: Any) -> int:
        key = vt.SerializeToString()
        found = self._type_ids.get(key)
        if found is None:
            desc = self.value_type(vt)
            found = self._type_ids[key] = len(self.types)
            self.types.append(desc)
        return found

    def value_type(self, vt: Any) -> tuple:
        kind = vt.WhichOneof("type")
        if kind == "tensorType":
            tt = vt.tensorType
            dims: list[Any] = []
            for d in tt.dimensions:
                dk = d.WhichOneof("dimension")
                if dk == "constant":
                    dims.append(int(d.constant.size))
                else:
                    dims.append(None if dk == "unknown" and not d.unknown.variadic else "*")
            return ("tensorType", int(tt.dataType), int(tt.rank), tuple(dims))
        if kind == "listType":
            lt = vt.listType
            length = int(lt.length.constant.size) if lt.length.WhichOneof("dimension") == "constant" else None
            return ("listType", self.type_id(lt.type), length)
        if kind == "tupleType":
            return ("tupleType", tuple(self.type_id(t) for t in vt.tupleType.types))
        if kind == "dictionaryType":
            dt = vt.dictionaryType
            return ("dictionaryType", self.type_id(dt.keyType), self.type_id(dt.valueType))
        if kind == "stateType":
            return ("stateType", self.type_id(vt.stateType.wrappedType))
        return (None,)

    def value_id(self, v: Any) -> int:
        key = v.SerializeToString()
        found = self._value_ids.get(key)
        if found is None:
            desc = self.value(v)
            found = self._value_ids[key] = len(self.values)
            self.values.append(desc)
        return found

    def value(self, v: Any) -> tuple:
        kind = v.WhichOneof("value")
        tid = self.type_id(v.type)
        if kind == "blobFileValue":
            return (tid, kind, v.blobFileValue.fileName, int(v.blobFileValue.offset))
        if kind == "immediateValue":
            iv = v.immediateValue
            ikind = iv.WhichOneof("value")
            data: Any = None
            if ikind == "tensor":
                data = self.tensor(iv.tensor)
            elif ikind in ("tuple", "list"):
                data = tuple(self.value_id(x) for x in getattr(iv, ikind).values)
            elif ikind == "dictionary":
                data = tuple((self.value_id(kv.key), self.value_id(kv.value)) for kv in iv.dictionary.values)
            return (tid, kind, ikind, data)
        return (tid, None, None, None)

    @staticmethod
    def tensor(tv: Any) -> tuple:
        field = tv.WhichOneof("value")
        if field is None:
            return (None, None)
        values = getattr(tv, field).values
        if field == "strings":
            return (field, tuple(values))
        if field == "bytes":
            return (field, bytes(values))
        return (field, np.asarray(list(values), _WIRE[field]).tobytes())


def _single_string(v: Any) -> bool:
    # The native decoder's test for a plain op name: an immediate tensor of exactly one string, no doc string.
    if v.WhichOneof("value") != "immediateValue" or v.docString:
        return False
    iv = v.immediateValue
    return iv.WhichOneof("value") == "tensor" and iv.tensor.WhichOneof("value") == "strings" and (
        len(iv.tensor.strings.values) == 1
    )


# Assembly ------------------------------------------------------------------------------------------------------
class _Assembler:
    """The compact form -> IR objects for one program, with every check and error message of the import."""

    def __init__(self, source: WeightSource, what: str) -> None:
        self.source = source
        self.what = what
        self.type_descs: list[tuple] = []
        self.value_descs: list[tuple] = []
        self.types: list[Type | None] = []  # type id -> converted type (None until first used)
        # value id -> (type, decoded read-only data) of immediates seen before: consts repeat the same axes,
        # shapes and flags in every layer. Only immutable data is kept (read-only arrays, strings), so sharing it
        # between the Values of different ops cannot leak a change from one to another.
        self.immediates: dict[int, tuple[Type, Any]] = {}
        self.tuple_inputs: dict[str, frozenset[str]] = {}  # op type -> its tuple-valued inputs (concat's values)

    def err(self, where: Where, message: str) -> MILError:
        return MILError(f"{self.what}: {where() if callable(where) else where}: {message}")

    def model(self, compact: tuple) -> Imported:
        kind, prog, (inputs, default_function), self.type_descs, self.value_descs = compact
        self.types = [None] * len(self.type_descs)
        if kind != _ML_PROGRAM:
            name = _MODEL_KINDS.get(kind, f"type-{kind}") if kind else "empty"
            raise MILError(_NOT_MLPROGRAM.format(what=self.what, kind=name))
        return self.program(prog, default_function), _flexible(inputs)

    def program(self, prog: tuple, default_function: str = "") -> Program:
        functions, attributes = prog
        # A multifunction model's default function first (its text order then starts with it); the others keep
        # the spec's order.
        functions = sorted(functions, key=lambda item: item[0] != default_function)
        funcs = [self.function(name, f) for name, f in functions]
        if not funcs:
            raise MILError(f"{self.what}: the ML program has no functions")
        attrs = {k: self.value(v, f"program attribute {k!r}") for k, v in attributes}
        # Program version: coremlc writes program(1.3) for ios18 functions and program(1.0) otherwise (§12.3).
        version = "1.3" if any(f.opset == "ios18" for f in funcs) else "1.0"
        return Program(funcs, attrs, version, self.source)

    # Types ---------------------------------------------------------------------------------------------------
    def dtype(self, code: int, where: Where) -> DType:
        name = _DTYPES.get(code)
        if name is None:
            raise self.err(where, f"MILSpec data type {code} is not one anekit knows")
        return dtype(name)

    def type(self, tid: int, where: Where) -> Type:
        found = self.types[tid]
        if found is None:
            found = self.types[tid] = self.new_type(self.type_descs[tid], where)
        return found

    def new_type(self, desc: tuple, where: Where) -> Type:
        kind = desc[0]
        if kind == "tensorType":
            _, code, rank, dims = desc
            if "*" in dims:
                raise self.err(where, "variadic-rank tensors cannot be represented in MIL text; pin the rank")
            if rank != len(dims) and rank >= 0:
                raise self.err(where, f"tensor type declares rank {rank} but lists {len(dims)} dimensions")
            if rank < 0:
                raise self.err(where, "tensors of unknown rank cannot be represented in MIL text")
            return TensorType(self.dtype(code, where), tuple(dims))
        if kind == "stateType":
            inner = self.type(desc[1], where)
            if not isinstance(inner, TensorType):
                raise self.err(where, f"a state must wrap a tensor, got {inner}")
            return StateType(inner)
        if kind == "listType":
            return ListType(self.type(desc[1], where), desc[2])
        if kind == "tupleType":
            return TupleType(tuple(self.type(t, where) for t in desc[1]))
        if kind == "dictionaryType":
            return DictType(self.type(desc[1], where), self.type(desc[2], where))
        raise self.err(where, f"value type {kind or 'unset'!r} is not supported")

    # Values --------------------------------------------------------------------------------------------------
    def value(self, vid: int, where: Where) -> Value:
        known = self.immediates.get(vid)
        if known is not None:  # decoded and checked before: the same bytes give the same Value
            return Value.trusted(known[0], known[1], "inline")  # type: ignore[arg-type]
        tid, kind, a, b = self.value_descs[vid]
        t = self.type(tid, where)
        if kind == "immediateValue":
            val = Value(t, self.immediate(a, b, t, where))
            data = val._data
            if type(data) is str or (type(data) is np.ndarray and not data.flags.writeable):
                self.immediates[vid] = (t, data)
            return val
        if kind == "blobFileValue":
            if not (isinstance(t, TensorType) and t.is_static):
                raise self.err(where, f"a BLOBFILE value needs a static tensor type, got {t}")
            return Value(t, blob=BlobRef(a, b), source=self.source)
        raise self.err(where, f"value kind {kind or 'unset'!r} is not supported")

    def immediate(self, kind: str | None, data: Any, t: Type, where: Where) -> Any:
        if kind == "tensor":
            if not isinstance(t, TensorType):
                raise self.err(where, f"a tensor literal needs a tensor type, got {t}")
            return self.tensor(data, t, where)
        if kind == "tuple" and isinstance(t, TupleType):
            if len(data) != len(t.elems):
                raise self.err(where, f"tuple literal has {len(data)} elements, its type {t} has {len(t.elems)}")
            return tuple(self.value(x, where).data for x in data)
        if kind == "list" and isinstance(t, ListType):
            return [self.value(x, where).data for x in data]
        if kind == "dictionary" and isinstance(t, DictType):
            out: dict[Any, Any] = {}
            for k, v in data:
                key = self.value(k, where).data
                out[key.item() if isinstance(key, np.ndarray) else key] = self.value(v, where).data
            return out
        raise self.err(where, f"immediate value {kind or 'unset'!r} does not match its type {t}")

    def tensor(self, data: tuple, t: TensorType, where: Where) -> Any:
        d = t.dtype
        field, payload = data
        if field is None:  # an empty repeated field: a tensor with no elements, or an unset value
            if t.numel != 0:
                raise self.err(where, f"tensor literal of {t} has no data")
            return np.zeros(t.shape, d.np_dtype or object)
        if field == "strings":
            if d.name != "string":
                raise self.err(where, f"string data for a {t} literal")
            items = list(payload)
            return items[0] if t.rank == 0 and len(items) == 1 else self.shaped(np.array(items, object), t, where)
        if field == "bytes":
            arr = self.unpack(payload, d, t, where)
        else:
            if d.np_dtype is None or (field == "bools") != (d.kind == "bool"):
                raise self.err(where, f"{field} data for a {t} literal")
            # The wire's numbers are exact in their own width, so one cast gives what a cast of the Python
            # numbers protobuf returns would (an f4 widened to f8 first rounds to fp16 the same way).
            arr = np.frombuffer(payload, _WIRE[field]).astype(d.np_dtype)
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
    def function(self, name: str, fn: tuple) -> Function:
        opset_key, inputs, attributes, block = fn
        opset = _OPSETS.get(opset_key)
        if opset is None:
            raise self.err(
                f"function {name!r}",
                f"opset {opset_key!r} is not supported (known: {', '.join(_OPSETS)}); export for iOS18 or older",
            )
        if block is None:
            raise self.err(f"function {name!r}", f"has no block for its opset {opset_key!r}")
        f = Function(name, opset)
        for in_name, tid in inputs:
            f.inputs[in_name] = Var(in_name, self.type(tid, f"input {in_name!r} of function {name!r}"))
        f.attributes = {k: self.value(v, f"attribute {k!r} of function {name!r}") for k, v in attributes}
        ops, outputs = block
        env = dict(f.inputs)
        f.operations = [self.operation(op, i, env, name) for i, op in enumerate(ops)]
        for out in outputs:
            if out not in env:
                raise self.err(f"function {name!r}", f"output {out!r} is not defined")
            f.outputs.append(env[out])
        return f

    def operation(self, pop: tuple, index: int, env: dict[str, Var], fname: str) -> Operation:
        # Runs once per op of large programs: no closures or messages are built unless an error is raised, and
        # repeated immediates (most attributes: const values) come straight from the cache.
        op_type, name, pins, pattrs, pouts, nblocks = pop
        attrs: dict[str, Value] = {}
        known = self.immediates
        for k, vid in pattrs:
            hit = known.get(vid)
            if hit is not None:
                attrs[k] = Value.trusted(hit[0], hit[1], "inline")  # type: ignore[arg-type]
            else:
                attrs[k] = self.value(vid, lambda k=k: f"attribute {k!r} of op #{index} ({op_type})")
        if "name" in attrs:  # a name that is not one plain string (the decoders return those as `name`)
            name_v = attrs.pop("name")
            if name is None and isinstance(name_v.data, str):
                name = name_v.data
        if name is None:
            name = pouts[0][0] if pouts else f"{op_type}_{index}"
        if nblocks:
            raise self.err(
                self.where_op(name, op_type, fname),
                "has nested blocks (control flow: cond / while_loop); the ANE runs straight-line programs, so "
                "anekit does not import control flow; trace the model without data-dependent branches",
            )
        tuple_inputs = self.tuple_inputs.get(op_type)
        if tuple_inputs is None:
            spec = OP_REGISTRY.get(op_type)
            tuple_inputs = frozenset(s.name for s in spec.inputs if s.is_tuple) if spec is not None else frozenset()
            self.tuple_inputs[op_type] = tuple_inputs
        inputs: dict[str, Binding] = {}
        for key, args in pins:
            if len(args) == 1 and type(args[0]) is str and key not in tuple_inputs:
                var = env.get(args[0])  # the usual binding: one variable
                if var is None:
                    raise self.err(
                        self.where_op(name, op_type, fname), f"input {key!r} uses the undefined variable {args[0]!r}"
                    )
                inputs[key] = var
            else:
                inputs[key] = self.binding(key, args, tuple_inputs, env, self.where_op(name, op_type, fname))
        op = Operation.built(op_type, name)
        outs = op.outputs
        types = self.types
        for out_name, tid in pouts:
            t = types[tid]
            if t is None:
                where = self.where_op(name, op_type, fname)
                t = self.type(tid, f"output {out_name!r} of {where}")
            v = Var(out_name, t, op)
            env[out_name] = v
            outs.append(v)
        op.inputs, op.attrs = inputs, attrs
        return op

    @staticmethod
    def where_op(name: str, op_type: str, fname: str) -> str:
        return f"op {name!r} ({op_type}) in function {fname!r}"

    def binding(
        self, key: str, args: tuple, tuple_inputs: frozenset[str], env: dict[str, Var], where: str
    ) -> Binding:
        """An input bound to several arguments, to an inline value, or declared a tuple by the op's spec."""
        items: list[Var | Value] = []
        for arg in args:
            if type(arg) is str:
                var = env.get(arg)
                if var is None:
                    raise self.err(where, f"input {key!r} uses the undefined variable {arg!r}")
                items.append(var)
            elif arg is None:
                raise self.err(where, f"input {key!r} has an empty binding")
            else:
                items.append(self.value(arg, f"input {key!r} of {where}"))
        return tuple(items) if len(items) != 1 or key in tuple_inputs else items[0]
