"""The reference executor: API, input checking, tracing, precisions, states and error reporting."""

from __future__ import annotations

import numpy as np
import pytest

from anekit import mil, reference
from anekit.errors import MILError
from anekit.mil.ir import Function, Operation, Program, Var
from anekit.mil.values import Value
from anekit.reference import Executor, RunResult, run


def small_program(opset: str = "ios18") -> mil.Program:
    mb = mil.Builder(opset)
    x = mb.input("x", mil.tensor((1, 4, 1, 3), "fp16"))
    idx = mb.input("idx", mil.tensor((2,), "int32"))
    w = (np.arange(32, dtype=np.float32).reshape(8, 4, 1, 1) / 16).astype(np.float16)
    h = mb.relu(x=mb.conv(x=x, weight=w))
    g = mb.gather(x=h, indices=idx, axis=np.int32(1))
    return mb.build([mb.softmax(x=g, axis=np.int32(1)), mb.reduce_argmax(x=h, axis=np.int32(1))])


INPUTS = {"x": np.linspace(-1, 1, 12, dtype=np.float32).reshape(1, 4, 1, 3), "idx": np.array([7, 2])}


def test_run_returns_outputs_in_order_with_declared_dtypes():
    prog = small_program()
    out = run(prog, INPUTS)
    names = [v.name for v in prog.main.outputs]
    assert list(out) == names
    soft, arg = out.values()
    assert soft.dtype == np.float16
    assert soft.shape == (1, 2, 1, 3)
    assert arg.dtype == np.int32
    assert arg.shape == (1, 1, 3)
    np.testing.assert_allclose(soft.astype(np.float32).sum(axis=1), 1.0, atol=1e-3)
    assert run(prog, INPUTS, precision="fp32")[names[0]].dtype == np.float32
    assert run(prog, INPUTS, precision="fp64")[names[0]].dtype == np.float64


def test_executor_is_reusable_and_run_accepts_a_function():
    prog = small_program()
    ex = Executor(prog)
    a, b = ex(INPUTS), ex(INPUTS)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    np.testing.assert_array_equal(run(prog.main, INPUTS)[next(iter(a))], a[next(iter(a))])
    assert ex.precision == "ane"


def test_trace_has_every_value_in_execution_order():
    prog = small_program()
    res = run(prog, INPUTS, trace=True)
    assert isinstance(res, RunResult)
    order = list(prog.main.inputs) + [v.name for op in prog.main.operations for v in op.outputs]
    assert list(res.trace) == order
    for name, value in res.outputs.items():
        np.testing.assert_array_equal(res.trace[name], value)


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        ({"x": INPUTS["x"]}, r"missing \['idx'\]"),
        ({**INPUTS, "y": 1}, r"unexpected \['y'\]"),
        ({**INPUTS, "x": np.zeros((1, 4, 3), np.float32)}, "has shape"),
        ({**INPUTS, "x": np.array(["a"] * 12).reshape(1, 4, 1, 3)}, "numpy dtype"),
        ({**INPUTS, "idx": np.array([1.5, 2.0])}, "non-integer"),
        ({**INPUTS, "idx": np.array([2**40, 1])}, "outside the int32 range"),
        ([1, 2], "must be a dict"),
    ],
)
def test_inputs_are_checked_against_the_signature(inputs, match):
    with pytest.raises(ValueError, match=match):
        run(small_program(), inputs)


def test_bad_arguments():
    prog = small_program()
    with pytest.raises(ValueError, match="precision"):
        run(prog, INPUTS, precision="fp8")
    with pytest.raises(ValueError, match="no function 'other'"):
        run(prog, INPUTS, function="other")
    with pytest.raises(ValueError, match="Program or Function"):
        run("main", INPUTS)  # type: ignore[arg-type]


def test_gather_bounds_errors_surface_as_mil_errors():
    with pytest.raises(MILError, match="out of bounds"):
        run(small_program(), {**INPUTS, "idx": np.array([8, 0])})


def _ir_program(op_type: str, out_shape: tuple[int, ...]) -> Program:
    x = Var("x", mil.tensor((2, 3), "fp32"))
    y = Var("y", mil.tensor(out_shape, "fp32"))
    op = Operation(op_type, "op_0", inputs={"x": x}, outputs=[y])
    return Program([Function("main", "ios17", inputs={"x": x}, operations=[op], outputs=[y])])


def test_missing_kernels_and_kernel_shape_disagreements_are_reported():
    with pytest.raises(MILError, match="no reference kernel for op type 'frobnicate'"):
        Executor(_ir_program("frobnicate", (2, 3)))
    with pytest.raises(MILError, match=r"kernel produced shape \[2, 3\].*declares tensor<fp32, \[3, 2\]>"):
        run(_ir_program("relu", (3, 2)), {"x": np.zeros((2, 3))})


def test_unknown_dims_accept_any_size():
    mb = mil.Builder("ios17")
    x = mb.input("x", mil.tensor((1, None), "fp32"))
    prog = mb.build(mb.exp(x=x))
    for n in (1, 5):
        assert next(iter(run(prog, {"x": np.zeros((1, n))}).values())).shape == (1, n)


def test_states_are_read_written_and_returned():
    mb = mil.Builder("ios18")
    s = mb.input("cache", mil.StateType(mil.tensor((1, 4), "fp16")))
    x = mb.input("x", mil.tensor((1, 4), "fp16"))
    y = mb.add(x=mb.read_state(input=s), y=x)
    mb.write_state(input=s, data=y)
    prog = mb.build(mb.mul(x=y, y=np.float16(2)))
    ex = Executor(prog)
    state = np.zeros((1, 4), np.float32)
    for step in range(1, 4):
        out = ex({"cache": state, "x": np.ones((1, 4), np.float32)})
        state = out["cache"]
        assert state.tolist() == [[step] * 4]
        assert out[prog.main.outputs[0].name].tolist() == [[2 * step] * 4]


def test_parsed_text_runs_like_the_built_program():
    prog = small_program()
    again = mil.parse(prog.to_mil(), weights=prog.weights())
    a, b = run(prog, INPUTS), run(again, INPUTS)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_constant_subgraphs_are_evaluated_once_at_preparation():
    mb = mil.Builder("ios17")
    x = mb.input("x", mil.tensor((3,), "fp32"))
    c = mb.add(x=np.float32([1, 2, 3]), y=np.float32([10, 20, 30]))  # const-only op
    prog = mb.build(mb.mul(x=x, y=c))
    ex = Executor(prog)
    assert ex({"x": np.ones(3)})[prog.main.outputs[0].name].tolist() == [11, 22, 33]
    res = ex({"x": np.ones(3)}, trace=True)
    assert res.trace[c.name].tolist() == [11, 22, 33]


def test_literal_inputs_of_ios18_constexpr_ops_are_resolved():
    data = Value(mil.tensor((2, 2), "int8"), np.int8([[1, 2], [3, 4]]))
    scale = Value(mil.tensor((2, 1), "fp16"), np.float16([[0.5], [2.0]]))
    y = Var("w", mil.tensor((2, 2), "fp16"))
    op = Operation("constexpr_blockwise_shift_scale", "deq", inputs={"data": data, "scale": scale}, outputs=[y])
    prog = Program([Function("main", "ios18", inputs={}, operations=[op], outputs=[y])])
    assert run(prog, {})["w"].tolist() == [[0.5, 1.0], [6.0, 8.0]]


def test_public_names():
    assert reference.PRECISIONS == ("ane", "fp32", "fp64")
    assert "conv" in reference.KERNELS


def test_reference_modules_never_import_the_extension_at_import_time():
    # docs/internals/architecture.md §2: reference/ is pure Python + numpy; the native fp16 rounding is imported lazily.
    import ast
    from pathlib import Path

    root = Path(reference.__file__).resolve().parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level only
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [f"{'.' * node.level}{node.module or ''}"] + [a.name for a in node.names]
            else:
                continue
            bad = [n for n in names if "_core" in n or n.rsplit(".", 1)[-1] == "fp16"]
            assert bad == [], f"{path.name} imports {bad} at module level"


def test_results_are_copies_that_cannot_corrupt_cached_constants():
    mb = mil.Builder("ios17")
    x = mb.input("x", mil.tensor((2,), "fp32"))
    c = mb.reshape(x=np.float32([[1, 2]]), shape=np.int32([2]))  # constant-only: cached at preparation
    prog = mb.build([mb.identity(x=c), mb.add(x=x, y=c)])
    ex = Executor(prog)
    first = ex({"x": np.zeros(2)})
    for v in first.values():
        v[...] = 99
    again = ex({"x": np.zeros(2)})
    assert [v.tolist() for v in again.values()] == [[1, 2], [1, 2]]


def test_functions_are_selected_by_name():
    fns = []
    for name, op in (("main", "relu"), ("neg", "sign")):
        mb = mil.Builder("ios18", name=name)
        x = mb.input("x", mil.tensor((3,), "fp32"))
        fns.append(mb.function(getattr(mb, op)(x=x)))
    prog = Program(fns)
    x = {"x": np.float32([-2, 0, 3])}
    assert next(iter(run(prog, x).values())).tolist() == [0, 0, 3]
    assert next(iter(run(prog, x, function="neg").values())).tolist() == [-1, 0, 1]
    single = Program([fns[1]])
    assert next(iter(run(single, x).values())).tolist() == [-1, 0, 1]  # the only function stands for "main"
