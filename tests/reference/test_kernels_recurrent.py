"""lstm / gru / rnn kernels against PyTorch (gate orders converted to MIL's) and hand-written loops."""

from __future__ import annotations

import numpy as np
import pytest
from _ref_helpers import call, randn, torch_of

from anekit.errors import MILError

S, B, IN, H = 5, 2, 3, 4


def ifgo_to_ifoz(w: np.ndarray) -> np.ndarray:
    """PyTorch LSTM gate order [i, f, g, o] -> MIL [i, f, o, z(=g)]."""
    i, f, g, o = np.split(w, 4, axis=0)
    return np.concatenate([i, f, o, g], axis=0)


def rzn_to_roz(w: np.ndarray) -> np.ndarray:
    """PyTorch GRU gate order [r, z, n] -> MIL [r, o(=n), z]."""
    r, z, n = np.split(w, 3, axis=0)
    return np.concatenate([r, n, z], axis=0)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("output_sequence", [True, False])
def test_lstm_matches_torch(direction, output_sequence):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    bi = direction == "bidirectional"
    m = torch.nn.LSTM(IN, H, bidirectional=bi)
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    x = randn(S, B, IN, seed=1)
    d = 2 if bi else 1
    h0, c0 = randn(d, B, H, seed=2), randn(d, B, H, seed=3)
    xt = torch_of(x[::-1].copy() if direction == "reverse" else x)
    with torch.no_grad():
        out, (hn, cn) = m(xt, (torch_of(h0), torch_of(c0)))
    out = out.numpy()
    kw = {
        "weight_ih": ifgo_to_ifoz(sd["weight_ih_l0"]),
        "weight_hh": ifgo_to_ifoz(sd["weight_hh_l0"]),
        "bias": ifgo_to_ifoz(sd["bias_ih_l0"] + sd["bias_hh_l0"]),
    }
    if bi:
        kw.update(
            weight_ih_back=ifgo_to_ifoz(sd["weight_ih_l0_reverse"]),
            weight_hh_back=ifgo_to_ifoz(sd["weight_hh_l0_reverse"]),
            bias_back=ifgo_to_ifoz(sd["bias_ih_l0_reverse"] + sd["bias_hh_l0_reverse"]),
        )
    cat = lambda a: np.concatenate(list(a), axis=-1)  # noqa: E731  [d, B, H] -> [B, d·H]
    seq, h, c = call(
        "lstm",
        x=x,
        initial_h=cat(h0),
        initial_c=cat(c0),
        direction=direction,
        output_sequence=np.bool_(output_sequence),
        **kw,
    )
    np.testing.assert_allclose(h, cat(hn.numpy()), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c, cat(cn.numpy()), rtol=1e-5, atol=1e-6)
    if output_sequence:
        np.testing.assert_allclose(seq, out, rtol=1e-5, atol=1e-6)
    else:
        assert seq.shape == (1, B, d * H)
        np.testing.assert_allclose(seq[0], h, rtol=1e-6)


def test_lstm_peephole_clip_and_activations_by_hand():
    x = randn(3, 1, 2, seed=4)
    w_ih, w_hh, b = randn(8, 2, seed=5), randn(8, 2, seed=6), randn(8, seed=7)
    p = randn(6, seed=8)
    h, c = np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for t in range(3):
        g = x[t] @ w_ih.T + h @ w_hh.T + b
        i = sig(g[:, 0:2] + p[0:2] * c)
        f = sig(g[:, 2:4] + p[2:4] * c)
        z = np.maximum(g[:, 6:8], 0)  # cell_activation relu
        c = np.clip(f * c + i * z, -0.5, 0.5)
        o = sig(g[:, 4:6] + p[4:6] * c)
        h = o * np.tanh(c)
    _seq, hh, cc = call(
        "lstm",
        x=x,
        initial_h=np.zeros((1, 2), np.float32),
        initial_c=np.zeros((1, 2), np.float32),
        weight_ih=w_ih,
        weight_hh=w_hh,
        bias=b,
        peephole=p,
        cell_activation="relu",
        clip=np.float32(0.5),
    )
    np.testing.assert_allclose(hh, h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cc, c, rtol=1e-5, atol=1e-6)
    with pytest.raises(MILError, match="unknown activation"):
        call("lstm", x=x, initial_h=h, initial_c=c, weight_ih=w_ih, weight_hh=w_hh, activation="gelu")


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_matches_torch_with_reset_after_and_a_loop_without(reset_after):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    m = torch.nn.GRU(IN, H)
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    x, h0 = randn(S, B, IN, seed=9), randn(B, H, seed=10)
    w_ih, w_hh = rzn_to_roz(sd["weight_ih_l0"]), rzn_to_roz(sd["weight_hh_l0"])
    if reset_after:  # iOS18: PyTorch's form; bias = hidden bias, input_bias = input bias
        with torch.no_grad():
            out, hn = m(torch_of(x), torch_of(h0[None]))
        seq, h = call(
            "gru",
            x=x,
            initial_h=h0,
            weight_ih=w_ih,
            weight_hh=w_hh,
            bias=rzn_to_roz(sd["bias_hh_l0"]),
            input_bias=rzn_to_roz(sd["bias_ih_l0"]),
            reset_after=np.bool_(True),
            output_sequence=np.bool_(True),
        )
        np.testing.assert_allclose(seq, out.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h, hn.numpy()[0], rtol=1e-5, atol=1e-6)
        return
    b = randn(3 * H, seed=11)
    h = h0.astype(np.float64)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for t in range(S):
        r = sig(x[t] @ w_ih[:H].T + h @ w_hh[:H].T + b[:H])
        z = sig(x[t] @ w_ih[2 * H :].T + h @ w_hh[2 * H :].T + b[2 * H :])
        o = np.tanh(x[t] @ w_ih[H : 2 * H].T + (r * h) @ w_hh[H : 2 * H].T + b[H : 2 * H])
        h = (1 - z) * o + z * h
    seq, hh = call("gru", x=x, initial_h=h0, weight_ih=w_ih, weight_hh=w_hh, bias=b)
    assert seq.shape == (1, B, H)
    np.testing.assert_allclose(hh, h, rtol=1e-5, atol=1e-6)


def test_rnn_matches_torch_and_reverse_keeps_processing_order():
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    m = torch.nn.RNN(IN, H)
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    x, h0 = randn(S, B, IN, seed=12), randn(B, H, seed=13)
    with torch.no_grad():
        out, hn = m(torch_of(x[::-1].copy()), torch_of(h0[None]))
    seq, h = call(
        "rnn",
        x=x,
        initial_h=h0,
        weight_ih=sd["weight_ih_l0"],
        weight_hh=sd["weight_hh_l0"],
        bias=sd["bias_ih_l0"] + sd["bias_hh_l0"],
        direction="reverse",
        output_sequence=np.bool_(True),
    )
    np.testing.assert_allclose(seq, out.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h, hn.numpy()[0], rtol=1e-5, atol=1e-6)
