"""anekit.compile and Kernel on every usable backend: numpy calls, zero-copy runs, errors, lifetime."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import anekit
from _helpers import run_in_threads
from anekit import mil
from anekit.errors import AneUnavailableError
from anekit.reference import run as reference_run


def test_call_matches_reference(backend: str, conv_relu: mil.Program) -> None:
    x = np.random.default_rng(1).standard_normal((64, 32)).astype(np.float32)
    with anekit.compile(conv_relu, backend=backend) as k:
        assert k.backend == backend
        out = k(x=x)
    (name,) = out
    want = reference_run(conv_relu, {"x": x.reshape(1, 64, 1, 32)})[name]
    assert out[name].dtype == np.float32
    np.testing.assert_array_equal(out[name], want.astype(np.float32))


def test_multiple_inputs_and_outputs_keep_mil_order(backend: str, two_io: mil.Program) -> None:
    a = np.full((1, 8, 1, 16), 3.0)
    b = np.full((8, 16), 0.5, dtype=np.float16)  # (C, S) and another dtype
    with anekit.compile(two_io, backend=backend) as k:
        assert list(k.inputs) == ["a", "b"]
        out = k({"a": a}, b=b, dtype=np.float16)
    first, second = out.values()
    assert first.dtype == np.float16
    assert np.all(first == 3.5) and np.all(second == 1.5)


def test_zero_copy_run_through_surfaces(backend: str, two_io: mil.Program) -> None:
    with anekit.compile(two_io, backend=backend) as k:
        with k.inputs["a"].view() as a:
            a[...] = 2
        k.inputs["b"].write(np.arange(16, dtype=np.float32))  # broadcast over channels
        assert k.run() is None or k.run() >= 0
        add, mul = (s.read() for s in k.outputs.values())
    np.testing.assert_array_equal(add[0, 5, 0], 2 + np.arange(16))
    np.testing.assert_array_equal(mul[0, 5, 0], 2 * np.arange(16))
    assert k.last_run_time is not None and k.last_run_time > 0


def test_names_out_of_alphabetical_order_bind_right(backend: str, out_of_order: mil.Program) -> None:
    # Inputs zeta, Alpha, mid and outputs q, k, v: under alphabetical binding a backend that submits the
    # user's names swaps them; the numbers are compared with the reference on every path the backend has.
    rng = np.random.default_rng(7)
    feeds = {n: rng.standard_normal((1, 8, 1, 16)).astype(np.float16) for n in ("zeta", "Alpha", "mid")}
    want = reference_run(out_of_order, feeds)
    with anekit.compile(out_of_order, backend=backend) as k:
        assert list(k.inputs) == ["zeta", "Alpha", "mid"] and list(k.outputs) == ["q", "k", "v"]
        got = k(feeds)
        assert list(got) == ["q", "k", "v"]
        for name in ("q", "k", "v"):
            np.testing.assert_array_equal(got[name], want[name].astype(np.float32), err_msg=name)
        for path in k._paths:  # zero-copy, every execution path
            for name, value in feeds.items():
                k.inputs[name].write(value)
            k.run(path=path)
            for name in ("q", "k", "v"):
                np.testing.assert_array_equal(k.outputs[name].read(), want[name].astype(np.float32), err_msg=path)


def test_bad_inputs_are_named(backend: str, two_io: mil.Program) -> None:
    with anekit.compile(two_io, backend=backend) as k:
        with pytest.raises(ValueError, match=r"takes inputs \['a', 'b'\]; missing \['b'\]"):
            k(a=np.zeros((1, 8, 1, 16)))
        with pytest.raises(ValueError, match=r"unexpected \['c'\]"):
            k(a=0, b=0, c=0)
        with pytest.raises(ValueError, match=r"\(1, 8, 1, 16\).*\(3, 3\)"):
            k(a=np.zeros((3, 3)), b=0)
        with pytest.raises(TypeError, match="dtype must be float16, float32 or float64"):
            k(a=0, b=0, dtype=np.int32)
        with pytest.raises(ValueError, match="unknown execution path"):
            k.run(path="warp")


def test_unavailable_path_is_explained(two_io: mil.Program) -> None:
    with anekit.compile(two_io, backend="reference") as k, pytest.raises(AneUnavailableError, match="realtime"):
        k.run(path="realtime")


def test_close_is_idempotent_and_final(backend: str, two_io: mil.Program) -> None:
    k = anekit.compile(two_io, backend=backend)
    k.close()
    k.close()
    assert k.closed
    with pytest.raises(RuntimeError, match="closed"):
        k.run()
    assert "closed" in repr(k)


def test_compile_validates_arguments(two_io: mil.Program) -> None:
    with pytest.raises(TypeError, match=r"expected an anekit\.mil\.Program"):
        anekit.compile("program(1.3)")
    with pytest.raises(ValueError, match="unknown backend"):
        anekit.compile(two_io, backend="gpu")
    with pytest.raises(ValueError, match=r"qos must be an int in 0\.\.63"):
        anekit.compile(two_io, backend="reference", qos=99)
    with pytest.raises(ValueError, match="no function 'decode'"):
        anekit.compile(two_io, backend="reference", function="decode")


def test_ane_backend_unavailable_says_why(two_io: mil.Program) -> None:
    usable, why = anekit.runtime.get_backend("reference").availability()
    assert usable and why == ""
    if "ane" in anekit.runtime.available_backends():
        pytest.skip("the ANE backend is usable here")
    with pytest.raises(AneUnavailableError, match="not usable here"):
        anekit.compile(two_io, backend="ane")


def test_default_backend_is_reported_by_info(two_io: mil.Program) -> None:
    with anekit.compile(two_io) as k:
        assert k.backend == anekit.info()["default_backend"]


def test_kernels_run_concurrently_from_threads(backend: str, make_conv_relu: Callable[..., mil.Program]) -> None:
    programs = [make_conv_relu(seed=i) for i in range(3)]
    kernels = [anekit.compile(p, backend=backend) for p in programs]
    x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
    expected = [next(iter(k(x=x).values())) for k in kernels]

    def work(i: int) -> None:
        for _ in range(5):
            got = next(iter(kernels[i](x=x).values()))
            np.testing.assert_array_equal(got, expected[i])

    errors = run_in_threads(work, 3)
    for k in kernels:
        k.close()
    assert not errors, errors[0]


def test_threads_sharing_one_kernel_each_get_their_own_result(backend: str, conv_relu: mil.Program) -> None:
    # A call writes the input surface, evaluates and reads the output surface: without one lock around all
    # three, a thread could evaluate another thread's input or read another thread's output.
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((64, 32)).astype(np.float32) for _ in range(4)]
    with anekit.compile(conv_relu, backend=backend) as k:
        expected = [next(iter(k(x=x).values())) for x in xs]
        assert not any(np.array_equal(expected[0], e) for e in expected[1:])  # distinguishable results

        def work(i: int) -> None:
            for _ in range(25):
                np.testing.assert_array_equal(next(iter(k(x=xs[i]).values())), expected[i])

        errors = run_in_threads(work, len(xs))
    assert not errors, errors[0]


def test_model_attributes_of_the_loaded_model(backend: str, two_io: mil.Program) -> None:
    with anekit.compile(two_io, backend=backend, cache=False) as k:
        attributes = k.model_attributes()
        again = anekit.compile(two_io, backend=backend)  # through the content cache's lease as well
        cached = again.model_attributes()
        again.close()
    if backend != "ane":
        assert attributes is None and cached is None
    else:
        from anekit import testing

        reports = testing.active_fake().config.model_attributes
        if not reports:
            assert attributes is None
        else:
            # The framework sees anekit's canonical I/O names (runtime/ane_io), in declaration order.
            description = attributes["kANEFModelDescriptionKey"]
            assert description["kANEFModelInputSymbolsArrayKey"] == ["in_000", "in_001"]
            assert len(description["kANEFModelOutputSymbolsArrayKey"]) == 2
            assert cached == attributes
    with pytest.raises(RuntimeError, match="closed"):
        k.model_attributes()


def test_a_closed_kernel_raises_anekits_own_error(backend: str, two_io: mil.Program) -> None:
    from anekit.errors import AnekitError, EvaluateError

    k = anekit.compile(two_io, backend=backend)
    k.close()
    x = np.zeros((8, 16), np.float32)
    for use in (k.run, lambda: k(a=x, b=x)):
        with pytest.raises(EvaluateError, match=r"kernel 'main' is closed") as info:
            use()
        assert isinstance(info.value, AnekitError) and isinstance(info.value, RuntimeError)
