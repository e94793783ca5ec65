"""anekit.from_torch: PyTorch modules defined here, converted through coremltools, run on the reference
executor and through the fake framework, and compared with the module's own output (fp32 torch vs fp16 MIL)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("coremltools")

import anekit  # noqa: E402  (after the skips)
from anekit import mil  # noqa: E402
from anekit.errors import ConversionError  # noqa: E402
from anekit.mil.passes import io_fp16  # noqa: E402
from anekit.reference import Executor  # noqa: E402


class SmallCnn(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.pool = torch.nn.MaxPool2d(2)
        self.conv2 = torch.nn.Conv2d(8, 4, 3)
        self.gap = torch.nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gap(self.conv2(self.pool(torch.relu(self.bn(self.conv(x)))))).flatten(1)


class Lstm(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(16, 32, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


class EmbeddingAttention(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(100, 32)
        self.attn = torch.nn.MultiheadAttention(32, 4, batch_first=True)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.emb(ids)
        return self.attn(h, h, h, need_weights=False)[0]


def _models() -> dict[str, tuple[torch.nn.Module, torch.Tensor]]:
    torch.manual_seed(0)
    cnn = SmallCnn()
    with torch.no_grad():  # non-trivial batch-norm statistics, so folding them is exercised
        cnn.bn.running_mean.uniform_(-0.5, 0.5)
        cnn.bn.running_var.uniform_(0.5, 2.0)
    return {
        "mlp": (
            torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4)),
            torch.randn(2, 8),
        ),
        "cnn": (cnn, torch.randn(1, 3, 16, 16)),
        "transformer": (
            torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True),
            torch.randn(1, 10, 32),
        ),
        "lstm": (Lstm(), torch.randn(1, 6, 16)),
        "embedding_attention": (EmbeddingAttention(), torch.randint(0, 100, (1, 12), dtype=torch.int32)),
    }


MODELS = _models()
# fp16 arithmetic of the converted program against fp32 torch: bounds a few times above what was measured
# (max abs error 7e-5 .. 2.3e-3 on these models; Debian 12 x86-64, coremltools 9.0, torch 2.13).
TOLERANCE = {"mlp": 1e-3, "cnn": 2e-3, "transformer": 1e-2, "lstm": 1e-3, "embedding_attention": 2e-3}


@pytest.fixture(scope="module")
def converted() -> dict[str, mil.Program]:
    return {name: anekit.from_torch(m, x) for name, (m, x) in MODELS.items()}


def _agreement(got: np.ndarray, want: np.ndarray) -> tuple[float, float]:
    g, w = got.astype(np.float64).ravel(), want.astype(np.float64).ravel()
    return float(np.abs(g - w).max()), float(g @ w / (np.linalg.norm(g) * np.linalg.norm(w)))


@pytest.mark.parametrize("name", list(MODELS))
def test_reference_run_matches_torch(name: str, converted: dict[str, mil.Program]) -> None:
    module, x = MODELS[name]
    prog = converted[name]
    assert list(prog.main.inputs) == ["x"]
    assert not [d for d in mil.validate(prog, "any") if d.severity == "error"]  # declared types re-inferred
    with torch.no_grad():
        want = module.eval()(x).numpy()
    (got,) = Executor(prog)({"x": x.numpy()}).values()
    max_abs, cosine = _agreement(got, want)
    assert got.shape == want.shape
    assert max_abs < TOLERANCE[name], (max_abs, cosine)
    assert cosine > 0.9999


@pytest.mark.parametrize("name", list(MODELS))
def test_fake_framework_matches_reference(name: str, fake_ane_ref: object) -> None:
    module, x = MODELS[name]
    # fp16 I/O, as the ANE exchanges it (integer token ids cannot cross an IOSurface at all)
    prog = io_fp16(anekit.from_torch(module, x), integers=True)
    x16 = x.numpy().astype(np.float16)
    want = Executor(prog)({"x": x16})
    with anekit.compile(prog, backend="ane") as kernel:
        got = kernel(x=x16)
    for key, value in want.items():
        np.testing.assert_array_equal(np.asarray(got[key], np.float16).reshape(value.shape), value)
    with torch.no_grad():
        torch_out = module.eval()(x).numpy()
    assert _agreement(next(iter(want.values())), torch_out)[0] < TOLERANCE[name]


def test_input_names_and_dict_inputs() -> None:
    m = torch.nn.Linear(4, 3)
    prog = anekit.from_torch(m, {"features": torch.randn(1, 4)})
    assert list(prog.main.inputs) == ["features"]
    prog = anekit.from_torch(m, torch.randn(1, 4), input_names=["a"])
    assert list(prog.main.inputs) == ["a"]
    with pytest.raises(ConversionError, match="2 input_names for 1 example inputs"):
        anekit.from_torch(m, torch.randn(1, 4), input_names=["a", "b"])


def test_fp32_inputs_stay_fp32_until_the_io_pass() -> None:
    prog = anekit.from_torch(torch.nn.Linear(4, 3), torch.randn(1, 4))
    assert prog.main.inputs["x"].type.dtype.name == "fp32"  # the module's dtype; coremltools casts inside
    assert [op.op_type for op in prog.main.operations if op.op_type != "const"] == ["cast", "linear"]


def test_unsupported_op_gives_coremltools_message_and_advice() -> None:
    class Det(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.linalg.det(x)

    with pytest.raises(ConversionError) as info:
        anekit.from_torch(Det(), torch.eye(4)[None])
    text = str(info.value)
    assert "linalg_det" in text  # coremltools' own message names the op
    assert "register_torch_op" in text  # and we say what to do


def test_input_dtypes_the_ane_cannot_use() -> None:
    with pytest.raises(ConversionError, match=r"'x' has dtype float64, which the ANE cannot take"):
        anekit.from_torch(torch.nn.Linear(4, 3).double(), torch.randn(1, 4, dtype=torch.float64))
    with pytest.raises(ConversionError, match=r"must be a torch\.Tensor"):
        anekit.from_torch(torch.nn.Linear(4, 3), np.zeros((1, 4), np.float32))


def test_flexible_dims_need_bounds_and_pin() -> None:
    m = torch.nn.Linear(8, 4)
    x = torch.randn(3, 8)
    with pytest.raises(ConversionError, match=r"flexible dim 0 of input 'x' needs bounds"):
        anekit.from_torch(m, x, flexible={"x": {0: (1, None)}})
    with pytest.raises(ConversionError, match="unknown inputs"):
        anekit.from_torch(m, x, flexible={"y": {0: (1, 8)}})
    flexible = anekit.from_torch(m, x, flexible={"x": {0: (1, 16)}})
    assert flexible.main.inputs["x"].type.shape == (None, 8)
    with pytest.raises(anekit.MILError, match=r"outside"):
        anekit.from_torch(m, x, flexible={"x": {0: (1, 16)}}, shapes={"x": (32, 8)})
    pinned = anekit.from_torch(m, x, flexible={"x": {0: (1, 16)}}, shapes={"x": (5, 8)})
    assert pinned.main.inputs["x"].type.shape == (5, 8)
    assert pinned.main.outputs[0].type.shape == (5, 4)
    xs = torch.randn(5, 8)
    (got,) = Executor(pinned)({"x": xs.numpy()}).values()
    with torch.no_grad():
        np.testing.assert_allclose(got, m(xs).numpy(), atol=5e-3)


def test_bad_arguments() -> None:
    with pytest.raises(ConversionError, match=r"expects a torch\.nn\.Module"):
        anekit.from_torch(lambda x: x, torch.randn(1))
    with pytest.raises(ConversionError, match="opset must be one of"):
        anekit.from_torch(torch.nn.Linear(2, 2), torch.randn(1, 2), opset="ios99")
    with pytest.raises(ConversionError, match="example_inputs is empty"):
        anekit.from_torch(torch.nn.Linear(2, 2), ())
