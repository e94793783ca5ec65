"""Whole :mod:`anekit.nn` blocks differentiated: against PyTorch autograd in fp64 and at the ANE's fp16 precision,
checked by the ANE validator, and compiled through the fake framework.

Weights the training loop updates are function inputs (the llama block of ``_llama.py``); blocks that only bake
weights (:func:`anekit.nn.linear` with an array, ``swiglu``, ``gelu_ffn``, ``layer_norm``) are differentiated
with respect to their activations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import _llama as L
import numpy as np
import pytest
from _vjp_check import check_torch, random_cotangents, run_backward

import anekit
from anekit import autodiff, mil, nn

torch = pytest.importorskip("torch")

#: ``precision="ane"`` gradients of the llama block stay within this fraction of the largest |gradient| of each
#: input from the fp64 result (measured: at most 1.6e-3 on Debian 12 x86-64, seed 0): fp16 storage after every
#: op, 11-bit mantissas, over ~230 backward ops.
ANE_TOLERANCE = 1e-2

WRT = ["x", *L.WEIGHTS]


@pytest.mark.parametrize("save", autodiff.SAVE_POLICIES)
def test_llama_block_matches_torch_in_fp64(save: str) -> None:
    check_torch(L.block_program(), L.feeds(), WRT, L.torch_block, save=save, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("save", autodiff.SAVE_POLICIES)
def test_llama_block_at_ane_precision_stays_within_tolerance_of_torch(save: str) -> None:
    program = L.block_program()
    g = autodiff.vjp(program, WRT, save=save)
    feeds = L.feeds()
    cots = {k: v.astype(np.float16).astype(np.float64) for k, v in random_cotangents(program, 0).items()}
    ane = run_backward(g, feeds, cots, precision="ane")
    t = {k: torch.tensor(v, requires_grad=k in WRT) for k, v in feeds.items()}
    y = L.torch_block(**t)
    want = torch.autograd.grad(y, [t[k] for k in WRT], torch.tensor(cots["y"]))
    for name, w in zip(WRT, want, strict=True):
        w = w.numpy()
        got = ane[f"grad_{name}"]
        assert got.dtype == np.float16
        err = np.max(np.abs(got.astype(np.float64) - w)) / np.max(np.abs(w))
        assert err <= ANE_TOLERANCE, f"grad_{name}: fp16 error {err:.2e} of max |grad|"


_rng = np.random.default_rng(7)
W_LIN = (_rng.standard_normal((48, 64)) / 8).astype(np.float16)
B_LIN = (_rng.standard_normal(48) / 8).astype(np.float16)
G_NORM = (1 + 0.1 * _rng.standard_normal(64)).astype(np.float16)
W_GATE, W_UP = ((_rng.standard_normal((2, 96, 64)) / 8).astype(np.float16))
W_DOWN = (_rng.standard_normal((64, 96)) / 10).astype(np.float16)


def _f64(a: np.ndarray) -> Any:
    return torch.tensor(a.astype(np.float64))


def _cs(t: Any) -> Any:
    """``[1, C, 1, S]`` -> ``[C, S]``."""
    return t.reshape(t.shape[1], t.shape[3])


def _rms(x: Any, g: Any, eps: float) -> Any:
    return x / torch.sqrt((x * x).mean(0, keepdim=True) + eps) * g.reshape(-1, 1)


def _block_linear(mb: mil.Builder, x: mil.Var) -> mil.Var:
    return nn.linear(mb, x, W_LIN, B_LIN)


def _block_linear_conv_weight(mb: mil.Builder, x: mil.Var, w: mil.Var) -> mil.Var:
    return L.linear_var(mb, x, w)


def _block_linear_matmul_weight(mb: mil.Builder, x: mil.Var, w: mil.Var) -> mil.Var:
    return L.linear_matmul(mb, x, w)


def _block_rms_norm(mb: mil.Builder, x: mil.Var) -> mil.Var:
    return nn.rms_norm(mb, x, G_NORM, 1e-5)


def _block_rms_norm_gain(mb: mil.Builder, x: mil.Var, g: mil.Var) -> mil.Var:
    return nn.rms_norm(mb, x, g, L.EPS)


def _block_attention(mb: mil.Builder, q: mil.Var, k: mil.Var, v: mil.Var) -> mil.Var:
    return nn.attention(mb, q, k, v, nn.causal_mask(32), 4, 2, 16)


def _torch_attention(q: Any, k: Any, v: Any) -> Any:
    qh = _cs(q).reshape(4, 16, 32).transpose(1, 2) * 0.25
    kh = _cs(k).reshape(2, 16, 32).repeat_interleave(2, 0)
    vh = _cs(v).reshape(2, 16, 32).transpose(1, 2).repeat_interleave(2, 0)
    mask = torch.tensor(nn.causal_mask(32).astype(np.float64)).reshape(32, 32)
    return (torch.softmax(qh @ kh + mask, -1) @ vh).transpose(1, 2).reshape(1, 64, 1, 32)


def _block_swiglu(mb: mil.Builder, x: mil.Var) -> mil.Var:
    return nn.swiglu(mb, x, W_GATE, W_UP, W_DOWN)


def _torch_swiglu(x: Any) -> Any:
    g, u = _f64(W_GATE) @ _cs(x), _f64(W_UP) @ _cs(x)
    return (_f64(W_DOWN) @ (g * torch.sigmoid(g) * u)).reshape(1, 64, 1, 32)


def _block_gelu_ffn(mb: mil.Builder, x: mil.Var) -> mil.Var:
    return nn.gelu_ffn(mb, x, W_GATE, None, W_DOWN, None, mode="TANH_APPROXIMATION")


def _torch_gelu_ffn(x: Any) -> Any:
    h = torch.nn.functional.gelu(_f64(W_GATE) @ _cs(x), approximate="tanh")
    return (_f64(W_DOWN) @ h).reshape(1, 64, 1, 32)


def _block_layer_norm(mb: mil.Builder, x: mil.Var) -> mil.Var:
    return nn.layer_norm(mb, x, G_NORM, -G_NORM, 1e-5)


def _torch_layer_norm(x: Any) -> Any:
    eps = float(np.float16(1e-5))  # the block stores epsilon in fp16 (docs/internals/mil-format.md §11 rule 3)
    y = torch.nn.functional.layer_norm(_cs(x).T, (64,), _f64(G_NORM), -_f64(G_NORM), eps)
    return y.T.reshape(1, 64, 1, 32)


def _block_rope(mb: mil.Builder, x: mil.Var, cos: mil.Var, sin: mil.Var) -> mil.Var:
    return nn.apply_rope(mb, x, cos, sin, 4, 16)


def _torch_rope(x: Any, cos: Any, sin: Any) -> Any:
    xh = _cs(x).reshape(4, 16, 32)
    rot = torch.cat([-xh[:, 8:], xh[:, :8]], 1)
    return (xh * _cs(cos).reshape(1, 16, 32) + rot * _cs(sin).reshape(1, 16, 32)).reshape(1, 64, 1, 32)


X = (1, 64, 1, 32)
#: name -> (builder, input shapes, wrt, torch function)
BLOCKS: dict[str, tuple[Callable[..., Any], dict[str, tuple[int, ...]], list[str], Callable[..., Any]]] = {
    "nn.linear": (
        _block_linear,
        {"x": X},
        ["x"],
        lambda x: (_f64(W_LIN) @ _cs(x) + _f64(B_LIN)[:, None])[None, :, None],
    ),
    "linear_conv_weight_input": (
        _block_linear_conv_weight,
        {"x": X, "w": (48, 64, 1, 1)},
        ["x", "w"],
        lambda x, w: (w.reshape(48, 64) @ _cs(x))[None, :, None],
    ),
    "linear_matmul_weight_input": (
        _block_linear_matmul_weight,
        {"x": X, "w": (1, 64, 1, 96)},
        ["x", "w"],
        lambda x, w: (w.reshape(64, 96).T @ _cs(x))[None, :, None],
    ),
    "nn.rms_norm": (_block_rms_norm, {"x": X}, ["x"], lambda x: _rms(_cs(x), _f64(G_NORM), 1e-5).reshape(X)),
    "rms_norm_gain_input": (
        _block_rms_norm_gain,
        {"x": X, "g": (1, 64, 1, 1)},
        ["x", "g"],
        lambda x, g: _rms(_cs(x), g, 1e-5).reshape(X),
    ),
    "nn.attention_causal": (
        _block_attention,
        {"q": X, "k": (1, 32, 1, 32), "v": (1, 32, 1, 32)},
        ["q", "k", "v"],
        _torch_attention,
    ),
    "nn.swiglu": (_block_swiglu, {"x": X}, ["x"], _torch_swiglu),
    "nn.gelu_ffn": (_block_gelu_ffn, {"x": X}, ["x"], _torch_gelu_ffn),
    "nn.layer_norm": (_block_layer_norm, {"x": X}, ["x"], _torch_layer_norm),
    "nn.apply_rope": (_block_rope, {"x": X, "cos": (1, 16, 1, 32), "sin": (1, 16, 1, 32)}, ["x"], _torch_rope),
}


def _program(name: str) -> mil.Program:
    build, shapes, _, _ = BLOCKS[name]
    return mil.program(inputs={k: mil.tensor(s, "fp16") for k, s in shapes.items()})(build)


def _feeds(name: str) -> dict[str, np.ndarray]:
    _, shapes, _, _ = BLOCKS[name]
    rng = np.random.default_rng(3)
    out = {k: rng.standard_normal(s) for k, s in shapes.items()}
    if "cos" in out:
        out["cos"], out["sin"] = nn.rope_tables(16, np.arange(32))
    if "g" in out:
        out["g"] = 1 + 0.1 * out["g"]
    if "w" in out:
        out["w"] = out["w"] / 8
    return {k: v.astype(np.float16).astype(np.float64) for k, v in out.items()}


@pytest.mark.parametrize("name", list(BLOCKS))
def test_nn_block_matches_torch_in_fp64(name: str) -> None:
    _, _, wrt, torch_fn = BLOCKS[name]
    # The backward's constants are fp16 like the program: 1/C, 0.5, -1 are exact, the gelu coefficients are not
    # (their rounding moves the gelu gradient by up to ~1e-3 of its scale).
    atol = 1e-4 if name == "nn.gelu_ffn" else 1e-6
    check_torch(_program(name), _feeds(name), wrt, torch_fn, rtol=1e-5, atol=atol)


#: ANE findings a backward may add to its forward's, and why (each is a warning or info, never an error).
#: ``ane-multi-input``: a backward takes at least the cotangent and a forward value, so it has several inputs.
#: ``ane-activation-dtype`` and ``ane-unverified-op``: the gradients of ``abs``, ``maximum`` and ``reduce_max`` (the
#: max|x| rescaling of nn.rms_norm) route the cotangent with a bool mask (``greater_equal``/``equal`` + ``select``)
#: or ``sign``, since no op the ANE documentation shows running expresses a step function exactly; and the gradient
#: of its ``pow(v, -0.5)`` divides with ``real_div`` (``pow(v, -1)`` overflows fp16, see test_vjp_fp16_range.py).
MASK_FINDINGS = {"ane-activation-dtype", "ane-unverified-op"}


@pytest.mark.parametrize("name", [*BLOCKS, "llama_block"])
def test_backward_is_ane_valid(name: str) -> None:
    if name == "llama_block":
        program, wrt = L.block_program(), WRT
    else:
        program, wrt = _program(name), BLOCKS[name][2]
    for save in autodiff.SAVE_POLICIES:
        g = autodiff.vjp(program, wrt, save=save)
        found = g.backward.validate()
        assert not [d for d in found if d.severity == "error"], [d.message for d in found]
        fwd_rules = {d.rule for d in program.validate()}
        new = {d.rule for d in found} - fwd_rules
        allowed = {"ane-multi-input"} | (MASK_FINDINGS if "rms_norm" in name or name == "llama_block" else set())
        if save != "recompute":
            # Saved intermediates are surfaces too; they travel as [1, C, 1, S] (autodiff.context.surface_shape)
            # but a per-head tensor's last axis can be head_dim (16 here), below the safe multiple of 32.
            allowed = allowed | {"ane-spatial-multiple"}
        assert new <= allowed, f"{save}: new ANE findings {sorted(new - allowed)}"
        bfn = g.backward.main
        for v in [*bfn.inputs.values(), *bfn.outputs]:
            assert v.type.dtype.name == "fp16", f"{v.name} is {v.type}"


@pytest.mark.objc
def test_llama_backward_compiles_on_the_fake_framework_and_matches_the_reference(fake_ane_ref: Any) -> None:
    program = L.block_program()
    g = autodiff.vjp(program, WRT)
    feeds = L.feeds()
    cots = random_cotangents(program, 0)
    bfeeds = {k: (cots["y"] if k == "grad_y" else feeds[k]) for k in g.backward.main.inputs}
    want = anekit.compile(g.backward, backend="reference", cache=False)(bfeeds)
    kernel = anekit.compile(g.backward, backend="ane", cache=False)
    got = kernel(bfeeds)
    assert list(got) == [f"grad_{n}" for n in WRT]
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    assert fake_ane_ref.stats()["compileAttempts"] >= 1


@pytest.mark.objc
@pytest.mark.parametrize("save", ["activations", "selective"])
def test_saved_activations_travel_through_the_fake_framework(fake_ane_ref: Any, save: str) -> None:
    """The forward kernel's saved outputs feed the backward kernel, as on a Mac."""
    program = L.block_program()
    g = autodiff.vjp(program, WRT, save=save)
    feeds = L.feeds()
    cots = random_cotangents(program, 1)
    want = run_backward(g, feeds, cots, precision="ane")
    fwd = anekit.compile(g.forward, backend="ane", cache=False)
    bwd = anekit.compile(g.backward, backend="ane", cache=False)
    outs = fwd(feeds)
    assert set(g.saved) <= set(outs)
    bfeeds = {k: outs[k] if k in g.saved else cots["y"] if k == "grad_y" else feeds[k] for k in g.backward.main.inputs}
    got = bwd(bfeeds)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k].astype(np.float32))
