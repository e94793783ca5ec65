"""lstm, gru and rnn specs."""

from __future__ import annotations

import numpy as np
import pytest
from cases import T, infer

from anekit.errors import MILError


def _lstm(dt: str = "fp16", **extra: object) -> dict:
    return {
        "x": T(dt, 1, 1, 640),
        "initial_h": T(dt, 1, 640),
        "initial_c": T(dt, 1, 640),
        "weight_ih": T(dt, 2560, 640),
        "weight_hh": T(dt, 2560, 640),
        "bias": T(dt, 2560),
        **extra,
    }


def test_lstm_parakeet_shape() -> None:
    out = infer("lstm", _lstm(output_sequence=np.bool_(True)))
    assert out == [T("fp16", 1, 1, 640), T("fp16", 1, 640), T("fp16", 1, 640)]


def test_lstm_dtype_by_opset() -> None:
    with pytest.raises(MILError, match="'x' dtype fp16 not allowed in ios16; expected one of fp32"):
        infer("lstm", _lstm(), opset="ios16")
    assert len(infer("lstm", _lstm("fp32"), opset="ios15")) == 3


def test_lstm_errors() -> None:
    with pytest.raises(MILError, match=r"'weight_ih' dim 0 2559 != 4\*H = 2560"):
        infer("lstm", {**_lstm(), "weight_ih": T("fp16", 2559, 640)})
    with pytest.raises(MILError, match=r"'initial_c' must be \[batch, 640\]"):
        infer("lstm", {**_lstm(), "initial_c": T("fp16", 1, 320)})
    with pytest.raises(MILError, match="bidirectional lstm needs 'weight_ih_back'"):
        infer("lstm", _lstm(direction="bidirectional"))
    with pytest.raises(MILError, match="'direction' must be one of"):
        infer("lstm", _lstm(direction="backward"))
    with pytest.raises(MILError, match="'activation' must be one of"):
        infer("lstm", _lstm(activation="gelu"))
    with pytest.raises(MILError, match="rank 3"):
        infer("lstm", {**_lstm(), "x": T("fp16", 1, 640)})


def test_unknown_sequence_length() -> None:
    out = infer("lstm", {**_lstm(), "x": T("fp16", None, 1, 640), "output_sequence": np.bool_(True)})
    assert out[0] == T("fp16", None, 1, 640)


def test_gru_and_rnn() -> None:
    base = {
        "x": T("fp32", 5, 2, 10),
        "initial_h": T("fp32", 2, 6),
        "weight_ih": T("fp32", 18, 10),
        "weight_hh": T("fp32", 18, 6),
    }
    assert infer("gru", {**base, "reset_after": np.bool_(True)}, opset="ios18")[1] == T("fp32", 2, 6)
    with pytest.raises(MILError, match="'reset_after' exists from ios18"):
        infer("gru", {**base, "reset_after": np.bool_(True)}, opset="ios17")
    with pytest.raises(MILError, match="'direction' must be one of 'forward', 'reverse'"):
        infer("gru", {**base, "direction": "bidirectional"})
    with pytest.raises(MILError, match=r"'weight_ih' dim 0 18 != 1\*H = 6"):
        infer("rnn", base)
