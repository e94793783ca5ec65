"""Forgiving kernel inputs: a bare array for a single-input kernel, PyTorch tensors, dtype spellings."""

from __future__ import annotations

import numpy as np
import pytest

import anekit
from anekit import mil
from anekit.mil.types import dtype as mil_dtype

torch = pytest.importorskip("torch")


@pytest.fixture
def relu_kernel() -> anekit.Kernel:
    @mil.program(inputs={"x": mil.tensor((1, 4, 1, 8), "fp16")})
    def prog(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.relu(x=x)

    with anekit.compile(prog, backend="reference") as k:
        yield k


X = ((np.arange(32, dtype=np.float32) - 16) / 8).reshape(1, 4, 1, 8)  # exact in fp16


def test_bare_array_for_a_single_input_kernel(relu_kernel: anekit.Kernel) -> None:
    np.testing.assert_array_equal(relu_kernel(X)["relu_0"], np.maximum(X, 0))


def test_bare_array_for_several_inputs_says_to_name_them(two_io: mil.Program) -> None:
    named = r"kernel\(a=\.\.\., b=\.\.\.\)"
    with anekit.compile(two_io, backend="reference") as k, pytest.raises(TypeError, match=named):
        k(X)


def test_torch_tensor_that_requires_grad_is_detached(relu_kernel: anekit.Kernel) -> None:
    t = torch.tensor(X, requires_grad=True)
    np.testing.assert_array_equal(relu_kernel(x=t)["relu_0"], np.maximum(X, 0))
    np.testing.assert_array_equal(relu_kernel(t)["relu_0"], np.maximum(X, 0))


def test_bfloat16_tensor_is_widened(relu_kernel: anekit.Kernel) -> None:
    t = torch.tensor(X).to(torch.bfloat16)
    expected = np.maximum(t.float().numpy(), 0)
    np.testing.assert_array_equal(relu_kernel(x=t)["relu_0"], expected)


def test_tensor_on_another_device_is_refused_by_name(relu_kernel: anekit.Kernel) -> None:
    meta = torch.empty((1, 4, 1, 8), device="meta")  # stands for CUDA/MPS: any non-CPU device
    with pytest.raises(TypeError, match=r"input 'x' is a torch tensor on meta.*x=tensor\.cpu\(\)"):
        relu_kernel(x=meta)


def test_verify_accepts_torch_inputs(conv_relu: mil.Program) -> None:
    x = torch.randn(1, 64, 1, 32, requires_grad=True)
    assert anekit.verify(conv_relu, {"x": x}, backend="reference").passed


@pytest.mark.parametrize("spelling", ["fp16", "float16", "half", np.float16, np.dtype("float16"), torch.float16])
def test_fp16_spellings(spelling: object, relu_kernel: anekit.Kernel) -> None:
    assert mil_dtype(spelling).name == "fp16"
    assert mil.tensor((1, 4), spelling).dtype.name == "fp16"  # type: ignore[arg-type]
    assert relu_kernel(X, dtype=spelling)["relu_0"].dtype == np.float16
    assert anekit.Surface((1, 4, 1, 8), spelling).dtype == "fp16"  # type: ignore[arg-type]
    assert anekit.Surface((1, 4, 1, 8)).read(dtype=spelling).dtype == np.float16


def test_other_dtype_spellings() -> None:
    assert mil_dtype(torch.float32).name == "fp32" and mil_dtype("single").name == "fp32"
    assert mil_dtype(torch.bfloat16).name == "bf16" and mil_dtype("double").name == "fp64"
    with pytest.raises(anekit.MILError, match="unknown dtype 'float'"):
        mil_dtype("float")  # ambiguous: numpy's float is 64-bit
    with pytest.raises(ValueError, match="dtype must be 'fp16' or 'fp32'"):
        anekit.Surface((1, 4, 1, 8), "int8")
    with pytest.raises(TypeError, match="dtype must be float16, float32 or float64"):
        anekit.Surface((1, 4, 1, 8)).read(dtype=torch.int8)


def test_kernel_html_display(relu_kernel: anekit.Kernel) -> None:
    h = relu_kernel._repr_html_()
    assert "<b>Kernel</b> <code>main</code> on <b>reference</b>" in h
    assert h.count("<tr>") == 3 and "tensor&lt;fp16, [1, 4, 1, 8]&gt;" in h
    relu_kernel(X)
    assert "last run" in relu_kernel._repr_html_()
    relu_kernel.close()
    assert "(closed;" in relu_kernel._repr_html_()


def test_compile_of_a_torch_module_says_how_to_import_it() -> None:
    with pytest.raises(TypeError, match=r"got torch\.nn\.modules\.linear\.Linear\. Convert the module first"):
        anekit.compile(torch.nn.Linear(4, 4))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"anekit\.from_torch\(module, example_inputs\)"):
        anekit.compile(torch.nn.Linear(4, 4))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"load it first: anekit\.mil\.load\(path\)"):
        anekit.compile("model.mlmodelc")  # type: ignore[arg-type]
