"""anekit.mil.load of Core ML ML programs: .mlpackage folders, .mlmodel files and MLModel objects made by
coremltools here (dense and compressed weights), every immediate-value encoding, and the named errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ct = pytest.importorskip("coremltools")

from coremltools.proto import MIL_pb2, Model_pb2  # noqa: E402

from anekit import mil  # noqa: E402
from anekit.errors import MILError  # noqa: E402
from anekit.mil.importers import coreml  # noqa: E402
from anekit.mil.importers.coreml import program_from_spec  # noqa: E402
from anekit.mil.types import TensorType  # noqa: E402
from anekit.mil.values import Value  # noqa: E402
from anekit.reference import Executor  # noqa: E402


@pytest.fixture(scope="module")
def mlp() -> tuple[torch.nn.Module, torch.Tensor, object]:
    torch.manual_seed(1)
    module = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8)).eval()
    x = torch.randn(1, 64)
    model = ct.convert(
        torch.jit.trace(module, x),
        inputs=[ct.TensorType(name="x", shape=(1, 64))],
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS16,
    )
    return module, x, model


@pytest.fixture(scope="module")
def package(mlp: tuple, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pkg") / "mlp.mlpackage"
    mlp[2].save(str(path))
    return path


def _run(prog: mil.Program, x: np.ndarray) -> np.ndarray:
    (out,) = Executor(prog)({"x": x}).values()
    return out


def test_mlpackage_imports_and_matches_torch(mlp: tuple, package: Path) -> None:
    module, x, _ = mlp
    prog = mil.load(package)
    assert prog.main.opset == "ios16" and prog.version == "1.0"
    assert not [d for d in mil.validate(prog, "any") if d.severity == "error"]
    with torch.no_grad():
        np.testing.assert_allclose(_run(prog, x.numpy()), module(x).numpy(), atol=2e-3)


def test_mlmodel_object_and_mlmodel_file_give_the_same_program(mlp: tuple, package: Path, tmp_path: Path) -> None:
    _, x, model = mlp
    from_object = mil.load(model)
    spec_file = tmp_path / "model.mlmodel"
    spec_file.write_bytes(model.get_spec().SerializeToString())
    shutil.copytree(package / "Data" / "com.apple.CoreML" / "weights", tmp_path / "weights")
    from_file = mil.load(spec_file)
    assert from_object.to_mil() == from_file.to_mil() == mil.load(package).to_mil()
    np.testing.assert_array_equal(_run(from_object, x.numpy()), _run(from_file, x.numpy()))


def test_imported_program_round_trips_through_text(package: Path) -> None:
    prog = mil.load(package)
    again = mil.parse(prog.to_mil(), weights=package / "Data" / "com.apple.CoreML")
    assert again.to_mil() == prog.to_mil()


COMPRESSIONS = {
    "int8_affine": lambda: ct.optimize.coreml.linear_quantize_weights,
    "palettized": lambda: ct.optimize.coreml.palettize_weights,
    "pruned": lambda: ct.optimize.coreml.prune_weights,
}
# iOS18 spells compressed weights with other ops and sub-byte blobs: constexpr_blockwise_shift_scale over int4,
# constexpr_lut_to_dense over uint4 / uint3 indices (per grouped channel), constexpr_sparse_to_dense over a
# uint1 mask.
COMPRESSIONS_IOS18 = {
    "int4_blockwise": lambda: ct.optimize.coreml.linear_quantize_weights,
    "palettized_4bit": lambda: ct.optimize.coreml.palettize_weights,
    "palettized_3bit_grouped": lambda: ct.optimize.coreml.palettize_weights,
    "pruned_ios18": lambda: ct.optimize.coreml.prune_weights,
}


def _compress(kind: str, model: object) -> object:
    cfg = ct.optimize.coreml
    op_config = {
        "int8_affine": cfg.OpLinearQuantizerConfig(mode="linear", weight_threshold=512),
        # "uniform" needs no scikit-learn (k-means does)
        "palettized": cfg.OpPalettizerConfig(mode="uniform", nbits=2, weight_threshold=512),
        "pruned": cfg.OpMagnitudePrunerConfig(target_sparsity=0.5, weight_threshold=512),
        "int4_blockwise": cfg.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int4", granularity="per_block", block_size=16, weight_threshold=512
        ),
        "palettized_4bit": cfg.OpPalettizerConfig(mode="uniform", nbits=4, weight_threshold=512),
        "palettized_3bit_grouped": cfg.OpPalettizerConfig(
            mode="uniform", nbits=3, granularity="per_grouped_channel", group_size=16, weight_threshold=512
        ),
        "pruned_ios18": cfg.OpMagnitudePrunerConfig(target_sparsity=0.5, weight_threshold=512),
    }[kind]
    compress = {**COMPRESSIONS, **COMPRESSIONS_IOS18}[kind]()
    return compress(model, cfg.OptimizationConfig(global_config=op_config))


@pytest.fixture(scope="module")
def mlp18(mlp: tuple) -> object:
    module, x, _ = mlp
    return ct.convert(
        torch.jit.trace(module, x),
        inputs=[ct.TensorType(name="x", shape=(1, 64))],
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS18,
    )


@pytest.mark.parametrize("kind", [*COMPRESSIONS, *COMPRESSIONS_IOS18])
def test_compressed_weights_match_coremltools_values(kind: str, mlp: tuple, mlp18: object, tmp_path: Path) -> None:
    _, x, model = mlp
    compressed = _compress(kind, mlp18 if kind in COMPRESSIONS_IOS18 else model)
    # coremltools' own MIL semantics: each constexpr op's materialized_val_inference() is its dense weight.
    want = {
        op.outputs[0].name: op.materialized_val_inference()
        for op in compressed._mil_program.functions["main"].operations
        if op.op_type.startswith("constexpr_")
    }
    assert want
    compressed.save(str(tmp_path / "c.mlpackage"))
    prog = mil.load(tmp_path / "c.mlpackage")
    types = {op.op_type for op in prog.main.operations}
    assert {op.split("_", 1)[0] for op in types} >= {"constexpr"}
    assert not [d for d in mil.validate(prog, "any") if d.severity == "error"]
    result = Executor(prog)({"x": x.numpy()}, trace=True)
    for name, dense in want.items():
        np.testing.assert_array_equal(np.asarray(result.trace[name]), np.asarray(dense), err_msg=name)
    # and the whole program still computes what the uncompressed one does, within the compression's error
    dense_out = _run(mil.load(model), x.numpy()).astype(np.float64)
    out = next(iter(result.outputs.values())).astype(np.float64)
    cosine = out.ravel() @ dense_out.ravel() / (np.linalg.norm(out) * np.linalg.norm(dense_out))
    assert cosine > 0.9


def test_stateful_model_imports_its_state_and_runs(tmp_path: Path) -> None:
    class Accumulate(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("acc", torch.zeros(1, 8))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.acc.add_(x)
            return self.acc * 2

    x = torch.randn(1, 8)
    model = ct.convert(
        torch.jit.trace(Accumulate().eval(), x),
        inputs=[ct.TensorType(name="x", shape=(1, 8))],
        states=[ct.StateType(wrapped_type=ct.TensorType(shape=(1, 8)), name="acc")],
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS18,
    )
    model.save(str(tmp_path / "state.mlpackage"))
    prog = mil.load(tmp_path / "state.mlpackage")
    assert str(prog.main.inputs["acc"].type) == "state<tensor<fp16, [1, 8]>>"
    assert {"read_state", "write_state"} <= {op.op_type for op in prog.main.operations}
    assert not [d for d in mil.validate(prog, "any") if d.severity == "error"]
    acc = np.full((1, 8), 3, np.float16)
    out = Executor(prog)({"x": x.numpy(), "acc": acc})
    want = acc.astype(np.float32) + x.numpy()
    np.testing.assert_allclose(out["acc"], want, atol=2e-3)
    np.testing.assert_allclose(next(iter(v for k, v in out.items() if k != "acc")), 2 * want, atol=4e-3)


@pytest.mark.parametrize("default", ["first", "second"])
def test_multifunction_package_imports_every_function_default_first(default: str, tmp_path: Path) -> None:
    from coremltools.models.utils import MultiFunctionDescriptor, save_multifunction

    torch.manual_seed(2)
    x = torch.randn(1, 8)
    modules = {"first": torch.nn.Linear(8, 4).eval(), "second": torch.nn.Linear(8, 4).eval()}
    desc = MultiFunctionDescriptor()
    for name, module in modules.items():
        model = ct.convert(
            torch.jit.trace(module, x),
            inputs=[ct.TensorType(name="x", shape=(1, 8))],
            convert_to="mlprogram",
            minimum_deployment_target=ct.target.iOS18,
        )
        model.save(str(tmp_path / f"{name}.mlpackage"))
        desc.add_function(str(tmp_path / f"{name}.mlpackage"), src_function_name="main", target_function_name=name)
    desc.default_function_name = default
    save_multifunction(desc, str(tmp_path / "multi.mlpackage"))
    prog = mil.load(tmp_path / "multi.mlpackage")
    assert list(prog.functions) == sorted(modules, key=lambda n: n != default)
    for name, module in modules.items():
        (got,) = Executor(prog, function=name)({"x": x.numpy()}).values()
        with torch.no_grad():
            np.testing.assert_allclose(got, module(x).numpy(), atol=2e-3)


def test_missing_weight_file_is_named(package: Path, tmp_path: Path) -> None:
    copy = tmp_path / "noweights.mlpackage"
    shutil.copytree(package, copy)
    weight = copy / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    weight.unlink()
    named = r"weight file .*noweights\.mlpackage/Data/com\.apple\.CoreML/weights/weight\.bin"
    with pytest.raises(MILError, match=named):
        mil.load(copy, require_weights=True)
    prog = mil.load(copy)  # lazily: inspecting and validating still work
    assert mil.summarize(prog).n_ops > 0
    with pytest.raises(MILError, match=r"weights/weight\.bin .* is missing"):
        Executor(prog)({"x": np.zeros((1, 64), np.float32)})


def test_non_ml_program_specs_say_convert_first(tmp_path: Path) -> None:
    for kind in ("neuralNetwork", "pipeline"):
        spec = Model_pb2.Model(specificationVersion=4)
        getattr(spec, kind).SetInParent()
        path = tmp_path / f"{kind}.mlmodel"
        path.write_bytes(spec.SerializeToString())
        with pytest.raises(MILError, match=rf"holds a Core ML {kind} model, not an ML program.*convert_to='mlprogram'"):
            mil.load(path)


def test_not_a_model_and_bad_sources(tmp_path: Path) -> None:
    bad = tmp_path / "junk.mlmodel"
    bad.write_bytes(b"\xff\x00 not a protobuf")
    with pytest.raises(MILError, match="is not a Core ML model protobuf"):
        mil.load(bad)
    (tmp_path / "empty.mlpackage").mkdir()
    with pytest.raises(MILError, match=r"is not an \.mlpackage folder"):
        mil.load(tmp_path / "empty.mlpackage")
    with pytest.raises(MILError, match="cannot load a int"):
        mil.load(42)


def _spec_with(mlp: tuple, edit: object) -> object:
    spec = Model_pb2.Model()
    spec.CopyFrom(mlp[2].get_spec())
    edit(spec.mlProgram.functions["main"])
    return spec


def test_unsupported_structures_are_named(mlp: tuple) -> None:
    def nested_block(f: object) -> None:
        f.block_specializations[f.opset].operations[-1].blocks.add()

    with pytest.raises(MILError, match=r"op '\w+' \(linear\) in function 'main': has nested blocks"):
        program_from_spec(_spec_with(mlp, nested_block))

    def variadic(f: object) -> None:
        f.inputs[0].type.tensorType.dimensions[0].unknown.variadic = True

    with pytest.raises(MILError, match="input 'x' of function 'main': variadic-rank"):
        program_from_spec(_spec_with(mlp, variadic))

    def new_opset(f: object) -> None:
        f.opset = "CoreML9"

    with pytest.raises(MILError, match="opset 'CoreML9' is not supported"):
        program_from_spec(_spec_with(mlp, new_opset))

    def unknown_dtype(f: object) -> None:
        f.inputs[0].type.tensorType.dataType = 99

    with pytest.raises(MILError, match="MILSpec data type 99"):
        program_from_spec(_spec_with(mlp, unknown_dtype))


def _tensor_value(dtype: int, dims: list[int], field: str, values: object) -> object:
    v = MIL_pb2.Value()
    v.type.tensorType.dataType = dtype
    v.type.tensorType.rank = len(dims)
    for d in dims:
        v.type.tensorType.dimensions.add().constant.size = d
    target = getattr(v.immediateValue.tensor, field)
    if field == "bytes":
        target.values = values
    else:
        target.values.extend(values)
    return v


@pytest.fixture(params=["native", "protobuf"])
def native(request: pytest.FixtureRequest) -> bool:
    """Each literal test runs through both decoders: the extension's wire-format one and coremltools' protobuf."""
    return request.param == "native"


def _literals(native: bool, what: str = "test", **values: object) -> dict[str, Value]:
    """``values`` imported as the program attributes of an otherwise empty MILSpec program."""
    prog = MIL_pb2.Program()
    for name, v in values.items():
        prog.attributes[name].CopyFrom(v)
    fn = prog.functions["main"]
    fn.opset = "CoreML7"
    fn.block_specializations["CoreML7"].SetInParent()
    return coreml.import_bytes(prog.SerializeToString(), what=what, model=False, native=native)[0].attributes


# Every TensorValue field coremltools writes (docs/internals/mil-format.md §9.7), with the data anekit must read back.
IMMEDIATES = [
    ("fp32 floats", 11, [3], "floats", [1.5, -2.0, 0.25], np.array([1.5, -2.0, 0.25], np.float32)),
    ("fp64 doubles", 12, [2], "doubles", [1e-300, 2.0], np.array([1e-300, 2.0])),
    ("int32 ints", 23, [2, 2], "ints", [1, -2, 3, -4], np.array([[1, -2], [3, -4]], np.int32)),
    ("int16 ints", 22, [2], "ints", [-7, 7], np.array([-7, 7], np.int16)),
    ("uint16 ints", 32, [1], "ints", [65535], np.array([65535], np.uint16)),
    ("int64 longInts", 24, [2], "longInts", [2**40, -1], np.array([2**40, -1], np.int64)),
    ("uint64 longInts", 34, [1], "longInts", [64], np.array([64], np.uint64)),
    ("bool bools", 1, [3], "bools", [True, False, True], np.array([True, False, True])),
    ("fp16 bytes", 10, [], "bytes", b"\xa8\x00", np.array(np.float16(1.0014e-5))),  # §9.7's epsilon example
    ("int8 bytes", 21, [3], "bytes", b"\x01\xff\x80", np.array([1, -1, -128], np.int8)),
    ("uint8 bytes", 31, [2], "bytes", b"\x00\xff", np.array([0, 255], np.uint8)),
    ("uint32 bytes", 33, [1], "bytes", (7).to_bytes(4, "little"), np.array([7], np.uint32)),
    ("int4 packed", 25, [4], "bytes", bytes([0xF1, 0x87]), np.array([1, -1, 7, -8], np.int8)),
    ("uint2 packed", 36, [5], "bytes", bytes([0b11100100, 0b01]), np.array([0, 1, 2, 3, 1], np.uint8)),
    ("uint1 packed", 37, [3], "bytes", bytes([0b101]), np.array([1, 0, 1], np.uint8)),
    ("bf16 bytes", 13, [1], "bytes", b"\x80\x3f", np.array([1.0], np.float32)),
]


@pytest.mark.parametrize(
    ("what", "dtype", "dims", "field", "values", "want"), IMMEDIATES, ids=[i[0] for i in IMMEDIATES]
)
def test_every_immediate_encoding(
    what: str, dtype: int, dims: list, field: str, values: object, want: object, native: bool
) -> None:
    v = _literals(native, v=_tensor_value(dtype, dims, field, values))["v"]
    assert isinstance(v.type, TensorType) and v.type.shape == tuple(dims)
    got = np.asarray(v.data)
    assert got.dtype == want.dtype, what
    np.testing.assert_array_equal(got, want)


def test_string_tuple_list_and_dict_immediates(native: bool) -> None:
    s = _tensor_value(2, [], "strings", ["hello"])
    tup = MIL_pb2.Value()
    tup.type.tupleType.types.add().CopyFrom(s.type)
    tup.immediateValue.tuple.values.add().CopyFrom(s)
    lst = MIL_pb2.Value()
    lst.type.listType.type.CopyFrom(s.type)
    lst.type.listType.length.constant.size = 2
    lst.immediateValue.list.values.add().CopyFrom(s)
    lst.immediateValue.list.values.add().CopyFrom(s)
    dct = MIL_pb2.Value()
    dct.type.dictionaryType.keyType.CopyFrom(s.type)
    dct.type.dictionaryType.valueType.CopyFrom(s.type)
    kv = dct.immediateValue.dictionary.values.add()
    kv.key.CopyFrom(s)
    kv.value.CopyFrom(_tensor_value(2, [], "strings", ["world"]))
    got = _literals(native, s=s, t=tup, l=lst, d=dct)
    assert got["s"].data == "hello"
    assert got["t"].data == ("hello",)
    assert got["l"].data == ["hello", "hello"]
    assert got["d"].data == {"hello": "world"}


def test_bad_immediates_are_named(native: bool) -> None:
    def bad(v: object) -> None:
        _literals(native, "spec.mlmodel", where=v)

    with pytest.raises(MILError, match=r"spec\.mlmodel: program attribute 'where': literal has 3 elements, its type "):
        bad(_tensor_value(11, [2], "floats", [1.0, 2.0, 3.0]))
    with pytest.raises(MILError, match="floats data for a tensor<bool"):
        bad(_tensor_value(1, [1], "floats", [1.0]))
    with pytest.raises(MILError, match="not a whole number of fp16 values"):
        bad(_tensor_value(10, [1], "bytes", b"\x00"))
    with pytest.raises(MILError, match="fp8e4m3 immediates are not supported"):
        bad(_tensor_value(40, [1], "bytes", b"\x00"))


def test_repeated_immediates_give_independent_values(native: bool) -> None:
    # A repeated immediate is decoded once (consts repeat per layer); each use still gets its own Value.
    raw = _tensor_value(23, [2], "ints", [1, -2])
    s = _tensor_value(2, [], "strings", ["x"])
    lst = MIL_pb2.Value()
    lst.type.listType.type.CopyFrom(s.type)
    lst.immediateValue.list.values.add().CopyFrom(s)
    got = _literals(native, a=raw, b=raw, c=_tensor_value(22, [2], "ints", [1, -2]), l1=lst, l2=lst)
    a, b, c = got["a"], got["b"], got["c"]
    assert a is not b and a.type is b.type and a.storage == b.storage == "inline" and a.blob is b.blob is None
    np.testing.assert_array_equal(b.data, np.array([1, -2], np.int32))
    assert not a.data.flags.writeable and not b.data.flags.writeable  # shared data cannot be changed through either
    b.storage = "blob"
    assert a.storage == "inline"
    # The same numbers under another type are another literal.
    assert c.data.dtype == np.int16 and c.type != a.type
    # Mutable data (a list literal) is never shared.
    first, second = got["l1"].data, got["l2"].data
    assert first == second == ["x"] and first is not second
    # A bad literal is rejected wherever it appears, naming that place.
    bad = _tensor_value(11, [2], "floats", [1.0])
    for where in ("first", "second"):
        with pytest.raises(MILError, match=f"'{where}': literal has 1 elements"):
            _literals(native, **{"ok": raw, where: bad})


# The two decoders ------------------------------------------------------------------------------------------------
def _imported(data: bytes, native: bool) -> str:
    """What importing ``data`` through one decoder gives: the program's text, or the error message."""
    try:
        prog, flexible = coreml.import_bytes(data, what="m", native=native)
    except MILError as exc:
        return f"error: {exc}"
    return prog.to_mil() + repr(flexible)


def test_native_and_protobuf_decoders_give_the_same_program(mlp: tuple) -> None:
    for kind in ["dense", *COMPRESSIONS]:
        model = mlp[2] if kind == "dense" else _compress(kind, mlp[2])
        data = model.get_spec().SerializeToString()
        native, proto = _imported(data, True), _imported(data, False)
        assert not native.startswith("error") and native == proto, kind


def test_decoders_agree_on_damaged_bytes(mlp: tuple) -> None:
    # Every truncation point and random byte changes of a real spec: both decoders reject the bytes or both give
    # the same program (or the same import error). The native one must never crash or read out of bounds.
    data = mlp[2].get_spec().SerializeToString()
    rng = np.random.default_rng(0)
    cases = [data[:n] for n in rng.choice(len(data), 120, replace=False)]
    for _ in range(200):
        b = bytearray(data)
        for i in rng.choice(len(b), int(rng.integers(1, 4)), replace=False):
            b[i] = int(rng.integers(0, 256))
        cases.append(bytes(b))
    malformed = "error: m is not a Core ML model protobuf: "
    lenient = 0
    for i, case in enumerate(cases):
        native, proto = _imported(case, True), _imported(case, False)
        if native.startswith(malformed):
            assert proto.startswith(malformed), (i, native[:200], proto[:200])  # never stricter than protobuf
        elif proto.startswith(malformed):
            # The native decoder skips the fields it does not read (doc strings, metadata, block inputs, ...)
            # without parsing them, so damage there, which protobuf rejects, goes unnoticed.
            lenient += 1
        else:
            assert native == proto, i
    assert lenient < len(cases) // 4


def test_a_valid_encoding_the_native_decoder_leaves_to_protobuf(mlp: tuple) -> None:
    # A singular message field given twice is merged by protobuf; the native decoder hands such bytes over.
    spec = mlp[2].get_spec()
    extra = Model_pb2.Model()
    extra.description.metadata.author = "second copy of the description field"
    data = spec.SerializeToString() + extra.SerializeToString()
    with pytest.raises(MILError, match="leaves this encoding to protobuf"):
        coreml.decode(data, native=True)
    prog, _ = coreml.import_bytes(data)
    assert prog.to_mil() == coreml.import_bytes(spec.SerializeToString())[0].to_mil()


def test_every_model_kind_is_named_by_both_decoders() -> None:
    for field in Model_pb2.Model.DESCRIPTOR.oneofs_by_name["Type"].fields:
        spec = Model_pb2.Model(specificationVersion=4)
        getattr(spec, field.name).SetInParent()
        data = spec.SerializeToString()
        for native in (True, False):
            assert coreml.decode(data, native=native)[0] == field.number
        if field.name != "mlProgram":
            with pytest.raises(MILError, match=f"holds a Core ML {field.name} model"):
                coreml.import_bytes(data)


def test_packed_and_unpacked_repeated_numbers_decode_alike() -> None:
    # protobuf writes repeated numbers packed; the wire format also allows one value per tag, which a reader must
    # take too. TensorValue.ints = [1, -2] written one per tag (field 1, varint; -2 as a 10-byte varint).
    one_per_tag = _varint(1 << 3) + _varint(1) + _varint(1 << 3) + _varint(2**64 - 2)
    assert MIL_pb2.TensorValue.RepeatedInts.FromString(one_per_tag).values == [1, -2]
    typed = MIL_pb2.Value()
    typed.type.CopyFrom(_tensor_value(23, [2], "ints", [1, -2]).type)
    # Value.immediateValue (3) -> ImmediateValue.tensor (1) -> TensorValue.ints (2) -> the values above
    raw = typed.SerializeToString() + _field(3, _field(1, _field(2, one_per_tag)))
    assert MIL_pb2.Value.FromString(raw).immediateValue.tensor.ints.values == [1, -2]
    for native in (True, False):
        np.testing.assert_array_equal(_literals_raw(native, raw).data, np.array([1, -2], np.int32))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _literals_raw(native: bool, value: bytes) -> Value:
    """A serialized Value as the attribute ``v`` of a bare program, imported through one decoder."""
    prog = MIL_pb2.Program()
    fn = prog.functions["main"]
    fn.opset = "CoreML7"
    fn.block_specializations["CoreML7"].SetInParent()
    entry = _field(1, b"v") + _field(2, value)
    data = prog.SerializeToString() + _field(4, entry)
    return coreml.import_bytes(data, what="test", model=False, native=native)[0].attributes["v"]


def test_mlpackage_loads_without_coremltools(package: Path) -> None:
    # The native decoder reads the spec itself: coremltools is needed to convert, not to import.
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['coremltools'] = None\n"
        "from anekit import mil\n"
        f"p = mil.load({str(package)!r})\n"
        "print(len(p.main.operations), 'coremltools' in sys.modules and sys.modules['coremltools'] is not None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    n, imported = out.stdout.split()
    assert int(n) == len(mil.load(package).main.operations) and imported == "False"


def test_deeply_nested_types_are_refused_not_a_crash() -> None:
    # 200 nested tuple types: both decoders refuse (protobuf's recursion limit, the native decoder's own at 100
    # levels) instead of exhausting the C stack; 20 levels import.
    def nested(levels: int) -> bytes:
        vt = MIL_pb2.ValueType()
        vt.tensorType.dataType = 11
        for _ in range(levels):
            outer = MIL_pb2.ValueType()
            outer.tupleType.types.add().CopyFrom(vt)
            vt = outer
        prog = MIL_pb2.Program()
        fn = prog.functions["main"]
        fn.opset = "CoreML7"
        fn.inputs.add(name="x").type.CopyFrom(vt)
        fn.block_specializations["CoreML7"].SetInParent()
        return prog.SerializeToString()

    for native in (True, False):
        with pytest.raises(MILError, match="is not a Core ML model protobuf"):
            coreml.decode(nested(200), model=False, native=native)
        prog, _ = coreml.import_bytes(nested(20), model=False, native=native)
        assert str(prog.main.inputs["x"].type).count("tuple") == 20
