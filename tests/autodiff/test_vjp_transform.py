"""The graph walk of :func:`anekit.autodiff.vjp`: arguments, pruning, accumulation, names, save policies, errors."""

from __future__ import annotations

import numpy as np
import pytest
from _vjp_check import check_finite_differences, run_backward

from anekit import autodiff, mil, reference
from anekit.errors import AnekitError, MILError, NotDifferentiableError

F32 = mil.tensor((2, 3), "fp32")


def _prog(build, **inputs):  # type: ignore[no-untyped-def]
    return mil.program(inputs={k: v for k, v in inputs.items()})(build)


def _ops(p: mil.Program) -> list[str]:
    return [op.op_type for op in p.main.operations if op.op_type != "const"]


def test_public_api() -> None:
    assert {"vjp", "Gradient", "supported_ops", "NotDifferentiableError", "register_rule"} <= set(autodiff.__all__)
    assert autodiff.NotDifferentiableError is NotDifferentiableError
    assert issubclass(NotDifferentiableError, AnekitError) and issubclass(NotDifferentiableError, ValueError)
    ops = autodiff.supported_ops()
    assert isinstance(ops, frozenset)
    nn_ops = {"conv", "matmul", "add", "mul", "pow", "reduce_sum", "reduce_max", "abs", "maximum", "softmax",
              "sigmoid", "split", "reshape", "transpose", "gelu", "layer_norm", "const"}
    assert nn_ops <= ops


def test_gradient_fields_for_both_policies() -> None:
    p = _prog(lambda mb, x, w: mb.tanh(x=mb.mul(x=x, y=w)), x=F32, w=F32)
    g = autodiff.vjp(p, ["w", "x"])
    assert g.forward is p and g.saved == () and g.wrt == ("w", "x") and g.outputs == (p.main.outputs[0].name,)
    out = g.outputs[0]
    assert list(g.backward.main.inputs) == ["x", "w", f"grad_{out}"]
    assert [v.name for v in g.backward.main.outputs] == ["grad_w", "grad_x"]
    assert [v.type for v in g.backward.main.outputs] == [F32, F32]
    a = autodiff.vjp(p, ["w", "x"], save="activations")
    assert a.saved == ("saved_0",)  # tanh's output; x and w are inputs already
    assert [v.name for v in a.forward.main.outputs] == [out, "saved_0"]
    assert list(a.backward.main.inputs) == ["x", "w", "saved_0", f"grad_{out}"]
    assert "tanh" not in _ops(a.backward)  # the saved value is not recomputed
    assert "tanh" in _ops(g.backward)
    assert "activations" in repr(a) and "saved=1" in repr(a)


def test_fan_out_cotangents_are_summed() -> None:
    # y = x*x + x  ->  dy/dx = 2x + 1
    p = _prog(lambda mb, x: mb.add(x=mb.mul(x=x, y=x), y=x), x=F32)
    g = autodiff.vjp(p, ["x"])
    x = np.arange(6.0).reshape(2, 3)
    out = run_backward(g, {"x": x}, {g.outputs[0]: np.ones((2, 3))})
    np.testing.assert_allclose(out["grad_x"], 2 * x + 1)


def test_ops_that_do_not_reach_wrt_are_pruned() -> None:
    # softplus has no rule, but only touches c, which needs no gradient; the unused input u is dropped.
    def build(mb, x, c, u):  # type: ignore[no-untyped-def]
        return mb.mul(x=x, y=mb.softplus(x=c))

    p = _prog(build, x=F32, c=F32, u=F32)
    g = autodiff.vjp(p, ["x"])
    assert "softplus" in _ops(g.backward)  # recomputed: it is a value the mul rule needs
    assert "u" not in g.backward.main.inputs and "x" not in g.backward.main.inputs
    check_finite_differences(p, {"x": np.ones((2, 3)), "c": np.ones((2, 3)), "u": np.ones((2, 3))}, ["x"])


def test_integer_inputs_carry_no_gradient() -> None:
    def build(mb, t, ids):  # type: ignore[no-untyped-def]
        return mb.gather(x=t, indices=mb.add(x=ids, y=np.int32(1)), axis=np.int32(0))

    p = _prog(build, t=mil.tensor((5, 3), "fp32"), ids=mil.tensor((4,), "int32"))
    with pytest.raises(MILError, match="only float tensors have gradients"):
        autodiff.vjp(p, ["ids"])
    feeds = {"t": np.random.default_rng(0).standard_normal((5, 3)), "ids": np.array([0, 3, 1, 3], np.int32)}
    check_finite_differences(p, feeds, ["t"])


def test_wrt_that_reaches_no_output_gets_zeros_and_an_output_input_gets_identity() -> None:
    def build(mb, x, z):  # type: ignore[no-untyped-def]
        return {"y": mb.identity(x=x), "x_out": mb.mul(x=x, y=2.0)}

    p = _prog(build, x=F32, z=F32)
    g = autodiff.vjp(p, ["z", "x"], outputs=["y"])
    assert "grad_x_out" not in g.backward.main.inputs
    out = run_backward(g, {"x": np.ones((2, 3)), "z": np.ones((2, 3))}, {"y": np.full((2, 3), 3.0)})
    np.testing.assert_array_equal(out["grad_z"], np.zeros((2, 3)))
    np.testing.assert_array_equal(out["grad_x"], np.full((2, 3), 3.0))


def test_a_cotangent_passed_straight_through_becomes_a_named_output() -> None:
    p = _prog(lambda mb, x, w: mb.add(x=x, y=w), x=F32, w=F32)
    g = autodiff.vjp(p, ["x", "w"])  # both gradients are the cotangent itself
    out = run_backward(g, {"x": np.ones((2, 3)), "w": np.ones((2, 3))}, {g.outputs[0]: np.full((2, 3), 5.0)})
    assert set(out) == {"grad_x", "grad_w"}
    assert all(np.all(v == 5.0) for v in out.values())


def test_recompute_copies_each_forward_op_once() -> None:
    def build(mb, x):  # type: ignore[no-untyped-def]
        s = mb.sigmoid(x=x)
        return mb.mul(x=mb.mul(x=s, y=s), y=mb.tanh(x=s))

    g = autodiff.vjp(_prog(build, x=F32), ["x"])
    ops = _ops(g.backward)
    assert ops.count("tanh") == 1 and ops.count("sigmoid") == 1


def test_values_computed_from_constants_are_recomputed_not_saved() -> None:
    mask = np.triu(np.full((3, 3), -1e4, np.float32), 1)

    def build(mb, x):  # type: ignore[no-untyped-def]
        m = mb.reshape(x=mb.mul(x=mask, y=np.float32(2.0)), shape=np.array([1, 3, 3], np.int32))
        return mb.softmax(x=mb.add(x=x, y=m), axis=np.int32(-1))

    g = autodiff.vjp(_prog(build, x=mil.tensor((2, 3, 3), "fp32")), ["x"], save="activations")
    assert g.saved == ("saved_0",)  # the softmax output only, not the mask
    # The softmax output is also the forward's output; its saved copy goes out in the [1, C, 1, S] layout.
    saved_op = g.forward.main.outputs[1].op
    assert saved_op is not None and saved_op.op_type == "reshape"
    assert saved_op.inputs["x"] is g.forward.main.outputs[0]
    assert g.forward.main.outputs[1].type == mil.tensor((1, 6, 1, 3), "fp32")
    assert g.backward.main.inputs["saved_0"].type == mil.tensor((1, 6, 1, 3), "fp32")


def test_saved_names_skip_names_the_forward_uses_and_saved_outputs_go_through_identity() -> None:
    F4 = mil.tensor((1, 3, 1, 32), "fp32")  # already a [1, C, 1, S] surface: no reshape
    def build(mb, x):  # type: ignore[no-untyped-def]
        t = mb.tanh(x=x, name="saved_0")
        e = mb.exp(x=t)
        return {"e": e, "t2": mb.mul(x=e, y=e)}

    p = _prog(build, x=F4)
    g = autodiff.vjp(p, ["x"], save="activations")
    assert "saved_0" not in g.saved and len(g.saved) == 2
    assert {v.op.op_type for v in g.forward.main.outputs[2:]} == {"identity", "tanh"}  # type: ignore[union-attr]
    names = [v.name for v in g.forward.main.outputs]
    assert names[:2] == ["e", "t2"] and names[2:] == list(g.saved)
    x = np.linspace(-1, 1, 96).reshape(1, 3, 1, 32)
    fwd = reference.run(g.forward, {"x": x}, precision="fp64")
    np.testing.assert_allclose(fwd["e"], np.exp(np.tanh(x)))
    check_finite_differences(p, {"x": x}, ["x"], save="activations")


def test_not_differentiable_error_names_the_op_its_output_and_what_to_do() -> None:
    p = _prog(lambda mb, x: mb.softplus(x=x, name="sp"), x=F32)
    with pytest.raises(NotDifferentiableError) as info:
        autodiff.vjp(p, ["x"])
    msg = str(info.value)
    assert "[softplus 'sp']" in msg and "sp: tensor<fp32, [2, 3]>" in msg
    assert "supported_ops()" in msg and "feed the value as an input" in msg


def test_rule_limits_raise_not_differentiable_error() -> None:
    def build(mb, x):  # type: ignore[no-untyped-def]
        return mb.slice_by_index(x=x, begin=np.array([0, 0], np.int32), end=np.array([2, 3], np.int32),
                                 stride=np.array([1, 2], np.int32), name="strided")

    with pytest.raises(NotDifferentiableError, match=r"\[slice_by_index 'strided'\].*contiguous"):
        autodiff.vjp(_prog(build, x=F32), ["x"])

    def conv(mb, x, w):  # type: ignore[no-untyped-def]
        return mb.conv(x=x, weight=w, strides=np.array([2, 2], np.int32), groups=np.int32(2), name="c")

    with pytest.raises(NotDifferentiableError, match=r"\[conv 'c'\].*weight gradient of a grouped conv"):
        autodiff.vjp(_prog(conv, x=mil.tensor((1, 2, 4, 4), "fp32"), w=mil.tensor((4, 1, 1, 1), "fp32")), ["w"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"wrt": ["nope"]}, "not an input"),
        ({"wrt": []}, "wrt is empty"),
        ({"wrt": "x"}, "list of names"),
        ({"wrt": ["x", "x"]}, "twice"),
        ({"wrt": ["x"], "save": "all"}, "save must be one of"),
        ({"wrt": ["x"], "function": "other"}, "no function 'other'"),
        ({"wrt": ["x"], "outputs": ["nope"]}, "not an output"),
        ({"wrt": ["x"], "outputs": []}, "outputs is empty"),
    ],
)
def test_bad_arguments_raise_mil_error(kwargs: dict[str, object], match: str) -> None:
    p = _prog(lambda mb, x: mb.exp(x=x), x=F32)
    with pytest.raises(MILError, match=match):
        autodiff.vjp(p, **kwargs)


def test_bad_program_and_clashing_names() -> None:
    with pytest.raises(MILError, match=r"must be an anekit\.mil\.Program"):
        autodiff.vjp("prog", ["x"])  # type: ignore[arg-type]
    p = _prog(lambda mb, x, grad_y: {"y": mb.mul(x=x, y=grad_y)}, x=F32, grad_y=F32)
    with pytest.raises(MILError, match="grad_y"):
        autodiff.vjp(p, ["x"])


def test_register_rule_checks_op_names() -> None:
    with pytest.raises(MILError, match="not a MIL op"):
        autodiff.register_rule("no_such_op")
    with pytest.raises(MILError, match="already has a VJP rule"):
        autodiff.register_rule("add")
    with pytest.raises(MILError, match="at least one MIL op"):
        autodiff.register_rule()
    with pytest.raises(TypeError, match="must be callable"):
        autodiff.register_rule("add", replace=True)("not a rule")  # type: ignore[arg-type]
    assert autodiff.supported_ops() >= {"add", "exp"}  # the failed registration replaced nothing


def _float_and_int_outputs() -> mil.Program:
    mb = mil.Builder("ios18")
    x = mb.input("x", mil.tensor((1, 4, 1, 32), "fp16"))
    n = mb.input("n", mil.tensor((1, 4, 1, 32), "int32"))
    return mb.build({"y": mb.exp(x=x), "count": mb.add(x=n, y=n)})


def test_integer_outputs_have_no_cotangent() -> None:
    prog = _float_and_int_outputs()
    g = autodiff.vjp(prog, ["x"])  # by default only the float outputs are differentiated
    assert g.outputs == ("y",) and "grad_count" not in g.backward_inputs
    with pytest.raises(MILError, match=r"output 'count' has type .*int32.*only float outputs"):
        autodiff.vjp(prog, ["x"], outputs=["count"])
    mb = mil.Builder("ios18")
    n = mb.input("n", mil.tensor((1, 4, 1, 32), "int32"))
    x = mb.input("x", mil.tensor((1, 4, 1, 32), "fp16"))
    only_int = mb.build({"count": mb.add(x=n, y=n), "x2": mb.cast(x=x, dtype="int32")})
    with pytest.raises(MILError, match="no float output"):
        autodiff.vjp(only_int, ["x"])


@pytest.mark.parametrize("save", autodiff.SAVE_POLICIES)
def test_long_chains_do_not_recurse(save: str) -> None:
    def build(mb, x):  # type: ignore[no-untyped-def]
        for _ in range(1500):
            x = mb.reshape(x=mb.mul(x=mb.sigmoid(x=x), y=np.float32(1.5)), shape=np.array([4], np.int32))
        return x

    p = _prog(build, x=mil.tensor((4,), "fp32"))
    g = autodiff.vjp(p, ["x"], save=save)
    assert _ops(g.backward).count("sigmoid") == (0 if save == "activations" else 1500)


def test_dynamic_shapes_are_refused_naming_the_op() -> None:
    def build(mb, x):  # type: ignore[no-untyped-def]
        return mb.reduce_sum(x=mb.exp(x=x), axes=np.array([1], np.int32), keep_dims=False, name="total")

    p = _prog(build, x=mil.tensor((2, None), "fp32"))
    with pytest.raises(NotDifferentiableError, match=r"^\[reduce_sum 'total'\] VJP rule: autodiff needs static"):
        autodiff.vjp(p, ["x"])


def test_register_rule_adds_a_rule_for_another_op() -> None:
    from anekit.autodiff.registry import RULES

    assert "softplus" not in autodiff.supported_ops()
    try:

        @autodiff.register_rule("softplus")
        def softplus_vjp(ctx, op, cotangents):  # type: ignore[no-untyped-def]
            # d/dx log(1 + e^x) = sigmoid(x); the example of docs/guide/autodiff.md
            return {"x": ctx.mb.mul(x=cotangents[0], y=ctx.mb.sigmoid(x=ctx.input(op, "x")))}

        assert "softplus" in autodiff.supported_ops()
        p = _prog(lambda mb, x: mb.softplus(x=x), x=F32)
        check_finite_differences(p, {"x": np.linspace(-2, 2, 6).reshape(2, 3)}, ["x"])
    finally:
        RULES.pop("softplus", None)


def test_selective_saves_contractions_and_recomputes_the_rest() -> None:
    def build(mb, x, w):  # type: ignore[no-untyped-def]
        h = mb.matmul(x=x, y=w)
        s = mb.sigmoid(x=h)
        return mb.softmax(x=mb.mul(x=h, y=s), axis=np.int32(-1))

    p = _prog(build, x=mil.tensor((4, 32), "fp32"), w=mil.tensor((32, 32), "fp32"))
    g = autodiff.vjp(p, ["x", "w"], save="selective")
    def source(name: str) -> str:  # the op a saved output copies (through its [1, C, 1, S] reshape)
        op = g.forward.main.vars()[name].op
        assert op is not None and op.op_type == "reshape"
        return op.inputs["x"].op.op_type  # type: ignore[union-attr]

    assert sorted(source(n) for n in g.saved) == ["matmul", "softmax"]
    ops = _ops(g.backward)
    assert "sigmoid" in ops and "matmul" in ops  # sigmoid recomputed from the saved matmul output
    a = autodiff.vjp(p, ["x", "w"], save="activations")
    assert len(a.saved) == 3  # the matmul, the sigmoid and the softmax
    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal((4, 32)), "w": rng.standard_normal((32, 32))}
    check_finite_differences(p, feeds, ["x", "w"], save="selective")
