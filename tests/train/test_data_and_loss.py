"""The corpus, the batch sampler and the cross-entropy."""

from __future__ import annotations

import numpy as np
import pytest

from anekit.train import BatchSampler, cross_entropy, pydoc_topics_bytes


def test_the_corpus_is_the_installed_pydoc_topics_text() -> None:
    from pydoc_data.topics import topics

    tokens = pydoc_topics_bytes()
    assert tokens.dtype == np.uint8 and tokens.size > 100_000
    assert topics["assert"][:40].encode() in tokens.tobytes()


def test_sampler_is_deterministic_and_resumes_from_its_state() -> None:
    tokens = np.arange(1000) % 256
    a, b = BatchSampler(tokens, 32, seed=5), BatchSampler(tokens, 32, seed=5)
    first = [a.next() for _ in range(3)]
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(first, [b.next() for _ in range(3)], strict=True))
    inputs, targets = first[0]
    np.testing.assert_array_equal(inputs[1:], targets[:-1])  # next-token targets
    state = a.state()
    assert state["position"] == 3
    resumed = BatchSampler(tokens, 32, seed=99)
    resumed.load_state(state)
    np.testing.assert_array_equal(resumed.next()[0], a.next()[0])
    with pytest.raises(ValueError, match="window"):
        BatchSampler(np.arange(10), 32, seed=0)
    with pytest.raises(ValueError, match="1-D integer"):
        BatchSampler(np.ones(100), 8, seed=0)


def test_cross_entropy_and_its_gradient_match_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((16, 256)) * 4).astype(np.float32)
    targets = rng.integers(0, 256, 16)
    loss, grad = cross_entropy(logits, targets)
    t = torch.tensor(logits, requires_grad=True)
    want = torch.nn.functional.cross_entropy(t, torch.from_numpy(targets))
    want.backward()
    assert loss == pytest.approx(float(want.detach()), rel=1e-6)
    np.testing.assert_allclose(grad, t.grad.numpy(), atol=1e-7)
    with pytest.raises(ValueError, match="NaN or infinity"):
        cross_entropy(np.full((2, 4), np.inf, np.float32), np.array([0, 1]))
    with pytest.raises(ValueError, match="targets"):
        cross_entropy(logits, np.full(16, 256))
