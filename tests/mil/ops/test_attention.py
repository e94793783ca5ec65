"""scaled_dot_product_attention spec."""

from __future__ import annotations

import pytest
from cases import T, infer

from anekit.errors import MILError


def test_sdpa() -> None:
    q, k, v = T("fp16", 1, 12, None, 64), T("fp16", 1, 12, None, 64), T("fp16", 1, 12, None, 64)
    assert infer("scaled_dot_product_attention", {"query": q, "key": k, "value": v}, opset="ios18") == [q]
    mask = T("fp16", 1, 1, None, None)
    assert infer(
        "scaled_dot_product_attention",
        {"query": q, "key": k, "value": v, "attn_mask": mask},
        opset="ios18",
    ) == [q]


def test_sdpa_errors() -> None:
    q = T("fp16", 1, 4, 8, 16)
    with pytest.raises(MILError, match="query last dim 16 != key last dim 8"):
        infer(
            "scaled_dot_product_attention",
            {"query": q, "key": T("fp16", 1, 4, 8, 8), "value": T("fp16", 1, 4, 8, 8)},
            opset="ios18",
        )
    with pytest.raises(MILError, match="key dim -2 9 != value dim -2 8"):
        infer(
            "scaled_dot_product_attention",
            {"query": q, "key": T("fp16", 1, 4, 9, 16), "value": T("fp16", 1, 4, 8, 16)},
            opset="ios18",
        )
    with pytest.raises(MILError, match=r"attn_mask \[1, 1, 8, 7\] does not broadcast to \[1, 4, 8, 8\]"):
        infer(
            "scaled_dot_product_attention",
            {
                "query": q,
                "key": T("fp16", 1, 4, 8, 16),
                "value": T("fp16", 1, 4, 8, 16),
                "attn_mask": T("bool", 1, 1, 8, 7),
            },
            opset="ios18",
        )
    with pytest.raises(MILError, match="not available in opset ios17"):
        infer("scaled_dot_product_attention", {"query": q, "key": q, "value": q}, opset="ios17")
