"""anekit.nn blocks against plain numpy references, on the reference executor (fp16 semantics)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import anekit
from anekit import mil, nn

RNG = np.random.default_rng(0)


def _build(inputs: dict[str, tuple[int, ...]], body: Callable[..., mil.Var]) -> mil.Program:
    types = {k: mil.tensor(s, "fp16") for k, s in inputs.items()}

    @mil.program(inputs=types)
    def prog(mb: mil.Builder, *args: mil.Var) -> dict[str, mil.Var]:
        return {"y": body(mb, *args)}

    errors = [d for d in mil.validate(prog) if d.severity == "error"]
    assert not errors, errors
    return prog


def _run(prog: mil.Program, **inputs: np.ndarray) -> np.ndarray:
    return anekit.reference.run(prog, inputs)["y"].astype(np.float64)


def _close(got: np.ndarray, want: np.ndarray, rel: float = 2e-2) -> None:
    err = np.max(np.abs(got - want))
    assert err <= rel * max(np.max(np.abs(want)), 1.0), f"max error {err}, scale {np.max(np.abs(want))}"


def _x(c: int, s: int) -> np.ndarray:
    return RNG.standard_normal((1, c, 1, s)).astype(np.float16)


def _w(o: int, i: int) -> np.ndarray:
    return (RNG.standard_normal((o, i)) / np.sqrt(i)).astype(np.float16)


def _rms(x: np.ndarray, g: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt((x**2).mean(axis=1, keepdims=True) + eps) * g.reshape(1, -1, 1, 1)


def _mm(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.einsum("oi,bihs->bohs", w.astype(np.float64), x.astype(np.float64))


def test_linear_is_a_conv_and_matches() -> None:
    x, w, b = _x(64, 32), _w(96, 64), RNG.standard_normal(96).astype(np.float16)
    prog = _build({"x": x.shape}, lambda mb, v: nn.linear(mb, v, w, b))
    assert "conv" in [op.op_type for op in prog.main.operations]
    _close(_run(prog, x=x), _mm(w, x) + b.reshape(1, -1, 1, 1))


def test_linear_takes_torch_weights() -> None:
    torch = pytest.importorskip("torch")
    layer = torch.nn.Linear(32, 64, bias=False)
    x = _x(32, 32)
    prog = _build({"x": x.shape}, lambda mb, v: nn.linear(mb, v, layer.weight))
    _close(_run(prog, x=x), _mm(layer.weight.detach().numpy(), x))


def test_linear_refuses_wrong_shapes_and_wide_outputs() -> None:
    with pytest.raises(ValueError, match=r"weight must be \[OUT, 64\]"):
        _build({"x": (1, 64, 1, 32)}, lambda mb, v: nn.linear(mb, v, np.zeros((8, 32))))
    with pytest.raises(ValueError, match="linear_chunks"):
        _build({"x": (1, 32, 1, 32)}, lambda mb, v: nn.linear(mb, v, np.zeros((nn.MAX_CHANNELS + 1, 32))))
    with pytest.raises(ValueError, match="NaN"):
        _build({"x": (1, 4, 1, 32)}, lambda mb, v: nn.linear(mb, v, np.full((4, 4), np.nan)))
    with pytest.raises(ValueError, match=r"\[1, C, 1, S\]"):
        _build({"x": (1, 4, 2, 32)}, lambda mb, v: nn.linear(mb, v, np.zeros((4, 4))))


def test_linear_chunks_split_and_reassemble() -> None:
    x, w = _x(32, 32), _w(100, 32)
    types = {"x": mil.tensor(x.shape, "fp16")}

    @mil.program(inputs=types)
    def prog(mb: mil.Builder, v: mil.Var) -> dict[str, mil.Var]:
        return {f"y{i}": c for i, c in enumerate(nn.linear_chunks(mb, v, w, limit=40))}

    out = anekit.reference.run(prog, {"x": x})
    assert [out[f"y{i}"].shape[1] for i in range(3)] == [34, 33, 33]
    _close(np.concatenate([out[f"y{i}"] for i in range(3)], axis=1).astype(np.float64), _mm(w, x))
    assert nn.channel_chunks(49152) == [(0, 16384), (16384, 16384), (32768, 16384)]


def test_dynamic_linear_one_program_serves_every_weight() -> None:
    ic, s, oc = 64, 32, 48
    prog = _build({"p": (1, ic, 1, s + oc)}, lambda mb, p: nn.dynamic_linear(mb, p, s, oc))
    for _ in range(2):  # two weight values, same program
        x, w = _x(ic, s), _w(oc, ic)
        _close(_run(prog, p=nn.pack_dynamic_input(x, w)), _mm(w, x))
    with pytest.raises(ValueError, match="seq \\+ out_channels"):
        _build({"p": (1, ic, 1, s + oc)}, lambda mb, p: nn.dynamic_linear(mb, p, s, oc + 1))


def test_rms_norm_and_layer_norm() -> None:
    x, g, b = _x(96, 32) * 8, (1 + 0.1 * RNG.standard_normal(96)), 0.1 * RNG.standard_normal(96)
    prog = _build({"x": x.shape}, lambda mb, v: nn.rms_norm(mb, v, g, 1e-5))
    _close(_run(prog, x=x), _rms(x.astype(np.float64), g, 1e-5))
    prog = _build({"x": x.shape}, lambda mb, v: nn.layer_norm(mb, v, g, b, 1e-5))
    xf = x.astype(np.float64)
    mu, var = xf.mean(1, keepdims=True), xf.var(1, keepdims=True)
    _close(_run(prog, x=x), (xf - mu) / np.sqrt(var + 1e-5) * g.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1))


def test_rms_norm_survives_squares_beyond_fp16() -> None:
    # 576 channels of |x| = 40: the sum of squares (921600) overflows fp16, the mean (1600) does not. Column 1 has
    # a SmolLM2-like outlier (25000, whose square alone overflows); column 2 is zero padding; column 3 is tiny.
    x = np.full((1, 576, 1, 32), 40, np.float16)
    x[0, :, 0, 1] = RNG.standard_normal(576)
    x[0, 7, 0, 1] = 25000
    x[0, :, 0, 2] = 0
    x[0, :, 0, 3] = 1e-3 * RNG.standard_normal(576)
    g = 1 + 0.1 * RNG.standard_normal(576)
    prog = _build({"x": x.shape}, lambda mb, v: nn.rms_norm(mb, v, g, 1e-6))
    got = _run(prog, x=x)
    want = _rms(x.astype(np.float64), g, 1e-6)
    assert np.all(np.isfinite(got))
    err = np.abs(got - want).max(axis=1) / np.abs(want).max(axis=1).clip(1e-3)
    assert np.all(err < 1e-2), err


def _rope_ref(x: np.ndarray, heads: int, hd: int, pos: np.ndarray, theta: float = 10000.0) -> np.ndarray:
    xh = x.astype(np.float64).reshape(heads, hd, -1)
    inv = 1.0 / theta ** (np.arange(0, hd, 2) / hd)
    ang = np.concatenate([np.outer(inv, pos)] * 2)
    rot = np.concatenate([-xh[:, hd // 2 :], xh[:, : hd // 2]], axis=1)
    return (xh * np.cos(ang) + rot * np.sin(ang)).reshape(x.shape)


def test_rope_matches_rotate_half_at_any_position() -> None:
    heads, hd, s = 3, 32, 32
    x = _x(heads * hd, s)
    prog = _build(
        {"x": x.shape, "cos": (1, hd, 1, s), "sin": (1, hd, 1, s)},
        lambda mb, v, c, si: nn.apply_rope(mb, v, c, si, heads, hd),
    )
    for offset in (0, 1000):
        pos = np.arange(s) + offset
        cos, sin = nn.rope_tables(hd, pos)
        _close(_run(prog, x=x, cos=cos, sin=sin), _rope_ref(x, heads, hd, pos))


def _attn_ref(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, heads: int, kvh: int, hd: int, mask: np.ndarray
) -> np.ndarray:
    s, t = q.shape[-1], k.shape[-1]
    qh = q.astype(np.float64).reshape(heads, hd, s).transpose(0, 2, 1)
    kh = np.repeat(k.astype(np.float64).reshape(kvh, hd, t), heads // kvh, axis=0)
    vh = np.repeat(v.astype(np.float64).reshape(kvh, hd, t), heads // kvh, axis=0).transpose(0, 2, 1)
    sc = qh @ kh / np.sqrt(hd) + mask.reshape(s, t)
    p = np.exp(sc - sc.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return (p @ vh).transpose(0, 2, 1).reshape(1, heads * hd, 1, s)


@pytest.mark.parametrize(("heads", "kvh"), [(4, 4), (6, 2), (4, 1)])
def test_grouped_query_causal_attention(heads: int, kvh: int) -> None:
    hd, s = 32, 32
    q, k, v = _x(heads * hd, s), _x(kvh * hd, s), _x(kvh * hd, s)
    mask = nn.causal_mask(s)
    prog = _build(
        {"q": q.shape, "k": k.shape, "v": v.shape},
        lambda mb, a, b, c: nn.attention(mb, a, b, c, mask, heads, kvh, hd),
    )
    assert "scaled_dot_product_attention" not in [op.op_type for op in prog.main.operations]
    _close(_run(prog, q=q, k=k, v=v), _attn_ref(q, k, v, heads, kvh, hd, mask.astype(np.float64)))
    shapes = {"q": q.shape, "k": k.shape, "v": v.shape}
    with pytest.raises(ValueError, match="must divide"):
        _build(shapes, lambda mb, a, b, c: nn.attention(mb, a, b, c, mask, heads, 5, hd))


def test_causal_mask_offsets() -> None:
    m = nn.causal_mask(2, 5, offset=2)[0, 0]
    assert (m == 0).tolist() == [[True, True, True, False, False], [True, True, True, True, False]]


def test_swiglu_and_gelu_ffn() -> None:
    d, f, s = 64, 96, 32
    x, wg, wu, wd = _x(d, s), _w(f, d), _w(f, d), _w(d, f)
    prog = _build({"x": x.shape}, lambda mb, v: nn.swiglu(mb, v, wg, wu, wd))
    g, u = _mm(wg, x), _mm(wu, x)
    _close(_run(prog, x=x), _mm(wd, g / (1 + np.exp(-g)) * u))
    bu, bd = 0.1 * RNG.standard_normal(f), 0.1 * RNG.standard_normal(d)
    prog = _build({"x": x.shape}, lambda mb, v: nn.gelu_ffn(mb, v, wu, bu, wd, bd, mode="EXACT"))
    from math import erf

    h = _mm(wu, x) + bu.reshape(1, -1, 1, 1)
    gelu = 0.5 * h * (1 + np.vectorize(erf)(h / np.sqrt(2)))
    _close(_run(prog, x=x), _mm(wd, gelu) + bd.reshape(1, -1, 1, 1))
    with pytest.raises(ValueError, match="mode"):
        _build({"x": x.shape}, lambda mb, v: nn.gelu_ffn(mb, v, wu, None, wd, None, mode="FAST"))


def test_pad_spatial() -> None:
    assert [nn.pad_spatial(n) for n in (1, 32, 33)] == [32, 32, 64]
    with pytest.raises(ValueError, match="positive int"):
        nn.pad_spatial(0)


def test_blocks_not_in_the_llama_path_run_through_the_fake_framework() -> None:
    """LayerNorm, GELU FFN and the dynamic-weight linear via the ANE backend on the fake framework (reference
    mode); the llama tests cover the other blocks there."""
    from anekit import testing
    from anekit.errors import AneUnavailableError

    d, f, s, oc = 64, 96, 32, 32
    x, g, b = _x(d, s), 1 + 0.1 * RNG.standard_normal(d), 0.1 * RNG.standard_normal(d)
    wu, wd, wdyn = _w(f, d), _w(d, f), _w(oc, d)

    @mil.program(inputs={"x": mil.tensor((1, d, 1, s), "fp16"), "p": mil.tensor((1, d, 1, s + oc), "fp16")})
    def prog(mb: mil.Builder, xv: mil.Var, pv: mil.Var) -> dict[str, mil.Var]:
        h = nn.layer_norm(mb, xv, g, b)
        return {"y": nn.gelu_ffn(mb, h, wu, None, wd, None), "z": nn.dynamic_linear(mb, pv, s, oc)}

    packed = nn.pack_dynamic_input(x, wdyn)
    want = anekit.reference.run(prog, {"x": x, "p": packed})
    try:
        with testing.fake_ane(mode="reference"), anekit.compile(prog, backend="ane", cache=False) as kernel:
            got = kernel(x=x, p=packed)
    except AneUnavailableError as exc:
        pytest.skip(str(exc))
    for name in ("y", "z"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-3, atol=1e-3)
    _close(got["z"].astype(np.float64), _mm(wdyn, x))


def test_linear_with_a_weight_var_matches_the_baked_conv() -> None:
    w = RNG.standard_normal((48, 64)).astype(np.float32) / 8
    x = _x(64, 32)
    baked = _run(_build({"x": (1, 64, 1, 32)}, lambda mb, x: nn.linear(mb, x, w)), x=x)
    shape = nn.weight_input_shape(48, 64)
    assert shape == (1, 64, 1, 48)
    runtime = _run(
        _build({"x": (1, 64, 1, 32), "w": shape}, lambda mb, x, wv: nn.linear(mb, x, wv)),
        x=x,
        w=np.ascontiguousarray(w.T).reshape(shape),
    )
    _close(runtime, baked)


def test_linear_weight_var_checks() -> None:
    mb = mil.Builder("ios18")
    x = mb.input("x", mil.tensor((1, 64, 1, 32), "fp16"))
    w = mb.input("w", mil.tensor((1, 32, 1, 48), "fp16"))
    with pytest.raises(ValueError, match=r"\[1, 64, 1, OUT\]"):
        nn.linear(mb, x, w)
    w_ok = mb.input("w_ok", mil.tensor((1, 64, 1, 48), "fp16"))
    with pytest.raises(ValueError, match="bias"):
        nn.linear(mb, x, w_ok, np.zeros(48))


def test_rms_norm_and_swiglu_with_weight_vars_match_baked() -> None:
    c, hidden, s = 64, 96, 32
    g = (1 + 0.1 * RNG.standard_normal(c)).astype(np.float32)
    wg, wu = (RNG.standard_normal((hidden, c)) / 8 for _ in range(2))
    wd = RNG.standard_normal((c, hidden)) / 10
    x = _x(c, s)

    def baked(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return nn.swiglu(mb, nn.rms_norm(mb, x, g), wg, wu, wd)

    def runtime(mb: mil.Builder, x: mil.Var, gv: mil.Var, a: mil.Var, b: mil.Var, d: mil.Var) -> mil.Var:
        return nn.swiglu(mb, nn.rms_norm(mb, x, gv), a, b, d)

    want = _run(_build({"x": (1, c, 1, s)}, baked), x=x)
    shapes = {
        "x": (1, c, 1, s),
        "g": (1, c, 1, 1),
        "a": (1, c, 1, hidden),
        "b": (1, c, 1, hidden),
        "d": (1, hidden, 1, c),
    }
    got = _run(
        _build(shapes, runtime),
        x=x,
        g=g.reshape(1, c, 1, 1),
        a=wg.T.reshape(shapes["a"]),
        b=wu.T.reshape(shapes["b"]),
        d=wd.T.reshape(shapes["d"]),
    )
    _close(got, want)


def test_swiglu_refuses_a_mix_of_vars_and_arrays() -> None:
    mb = mil.Builder("ios18")
    x = mb.input("x", mil.tensor((1, 64, 1, 32), "fp16"))
    a = mb.input("a", mil.tensor((1, 64, 1, 96), "fp16"))
    with pytest.raises(ValueError, match="all as Vars"):
        nn.swiglu(mb, x, a, np.zeros((96, 64)), np.zeros((64, 96)))
    with pytest.raises(ValueError, match=r"\[1, 64, 1, 1\]"):
        nn.rms_norm(mb, x, a)
