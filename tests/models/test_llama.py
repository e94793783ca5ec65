"""anekit.models.llama against a torch llama written here (HF conventions: rotate-half RoPE, repeat_kv GQA)."""

from __future__ import annotations

import numpy as np
import pytest

from anekit import mil
from anekit.models import Llama, LlamaConfig, LlamaWeights
from anekit.nn import rope_tables

torch = pytest.importorskip("torch")


def _state_dict(c: LlamaConfig, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hd = c.dim // c.heads

    def w(*shape: int, scale: float | None = None) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * (scale if scale is not None else shape[-1] ** -0.5)

    sd = {
        "model.embed_tokens.weight": w(c.vocab_size, c.dim, scale=1.0),
        "model.norm.weight": 1 + 0.1 * w(c.dim, scale=1),
    }
    if not c.tie_embeddings:
        sd["lm_head.weight"] = w(c.vocab_size, c.dim, scale=0.5)
    for i in range(c.layers):
        p = f"model.layers.{i}."
        sd[p + "input_layernorm.weight"] = 1 + 0.1 * w(c.dim, scale=1)
        sd[p + "post_attention_layernorm.weight"] = 1 + 0.1 * w(c.dim, scale=1)
        sd[p + "self_attn.q_proj.weight"] = w(c.heads * hd, c.dim)
        sd[p + "self_attn.k_proj.weight"] = w(c.kv_heads * hd, c.dim)
        sd[p + "self_attn.v_proj.weight"] = w(c.kv_heads * hd, c.dim)
        sd[p + "self_attn.o_proj.weight"] = w(c.dim, c.heads * hd)
        sd[p + "mlp.gate_proj.weight"] = w(c.hidden, c.dim)
        sd[p + "mlp.up_proj.weight"] = w(c.hidden, c.dim)
        sd[p + "mlp.down_proj.weight"] = w(c.dim, c.hidden)
    # Round to fp16 so both sides use the same weights; the torch side then computes in float64.
    return {k: v.half().double() for k, v in sd.items()}


def _torch_logits(sd: dict[str, torch.Tensor], c: LlamaConfig, ids: list[int]) -> torch.Tensor:
    """Logits at every position ``[len(ids), vocab]`` of a plain torch llama (float64)."""
    hd, n = c.dim // c.heads, len(ids)

    def rms(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + c.eps) * w

    def rope(x: torch.Tensor) -> torch.Tensor:  # x [heads, n, hd]
        inv = 1.0 / c.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        ang = torch.outer(torch.arange(n, dtype=torch.float64), inv)
        cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
        rot = torch.cat([-x[..., hd // 2 :], x[..., : hd // 2]], -1)
        return x * cos + rot * sin

    x = sd["model.embed_tokens.weight"][ids]
    mask = torch.full((n, n), float("-inf"), dtype=torch.float64).triu(1)
    for i in range(c.layers):
        p = f"model.layers.{i}."
        h = rms(x, sd[p + "input_layernorm.weight"])
        q = rope((h @ sd[p + "self_attn.q_proj.weight"].T).view(n, c.heads, hd).transpose(0, 1))
        k = rope((h @ sd[p + "self_attn.k_proj.weight"].T).view(n, c.kv_heads, hd).transpose(0, 1))
        v = (h @ sd[p + "self_attn.v_proj.weight"].T).view(n, c.kv_heads, hd).transpose(0, 1)
        rep = c.heads // c.kv_heads
        k, v = k.repeat_interleave(rep, 0), v.repeat_interleave(rep, 0)
        a = torch.softmax(q @ k.transpose(1, 2) / hd**0.5 + mask, -1) @ v
        x = x + a.transpose(0, 1).reshape(n, c.dim) @ sd[p + "self_attn.o_proj.weight"].T
        h = rms(x, sd[p + "post_attention_layernorm.weight"])
        f = torch.nn.functional.silu(h @ sd[p + "mlp.gate_proj.weight"].T) * (h @ sd[p + "mlp.up_proj.weight"].T)
        x = x + f @ sd[p + "mlp.down_proj.weight"].T
    head = sd["model.embed_tokens.weight" if c.tie_embeddings else "lm_head.weight"]
    return rms(x, sd["model.norm.weight"]) @ head.T


def _torch_greedy(sd: dict[str, torch.Tensor], c: LlamaConfig, ids: list[int], steps: int) -> list[int]:
    seq = list(ids)
    for _ in range(steps):
        seq.append(int(_torch_logits(sd, c, seq)[-1].argmax()))
    return seq[len(ids) :]


CONFIG = LlamaConfig(
    vocab_size=300, dim=128, layers=3, heads=4, kv_heads=2, hidden=192, max_context=64, layers_per_program=2,
    tie_embeddings=False,
)


@pytest.fixture(scope="module")
def model_and_sd() -> tuple[Llama, dict[str, torch.Tensor]]:
    sd = _state_dict(CONFIG, seed=1)
    return Llama(CONFIG, LlamaWeights.from_state_dict(sd, CONFIG), backend="reference"), sd


def _agree(got: np.ndarray, want: torch.Tensor) -> None:
    w = want.numpy()
    cos = float(got @ w / (np.linalg.norm(got) * np.linalg.norm(w)))
    assert cos > 0.999, cos
    assert np.max(np.abs(got - w)) < 0.03 * np.max(np.abs(w))


def test_program_layout_and_validation(model_and_sd: tuple[Llama, dict]) -> None:
    model, _ = model_and_sd
    # 3 layers, 2 per program: prefill and decode for 2 groups, plus the head.
    assert sorted(model.programs) == ["decode0", "decode1", "head", "prefill0", "prefill1"]
    assert CONFIG.program_count == 5
    for name, p in model.programs.items():
        found = mil.validate(p)
        assert not [d for d in found if d.severity == "error"], (name, found)
        # Single-token programs are padded to 32 columns; head_dim 32 keeps every matmul inner dimension legal.
        assert not {d.rule for d in found} & {"ane-single-token", "ane-matmul-inner"}, (name, found)
    big = LlamaConfig(vocab_size=49152, dim=576, layers=30, heads=9, kv_heads=3, hidden=1536)
    assert big.program_count == 11


@pytest.mark.parametrize("n", [5, 32, 37])
def test_prefill_logits_match_torch(model_and_sd: tuple[Llama, dict], n: int) -> None:
    # 37 > prefill_bucket: the last 5 tokens go through decode steps.
    model, sd = model_and_sd
    ids = list(np.random.default_rng(n).integers(0, CONFIG.vocab_size, n))
    got = model.prefill(ids, model.new_cache())
    _agree(got.astype(np.float64), _torch_logits(sd, CONFIG, ids)[-1])


def test_decode_logits_match_torch_and_greedy_tokens_agree(model_and_sd: tuple[Llama, dict]) -> None:
    model, sd = model_and_sd
    ids = [3, 141, 59, 26, 5]
    cache = model.new_cache()
    model.prefill(ids, cache)
    got = model.decode(7, len(ids), cache)
    _agree(got.astype(np.float64), _torch_logits(sd, CONFIG, [*ids, 7])[-1])
    tokens = model.generate(ids, 6)
    assert tokens == _torch_greedy(sd, CONFIG, ids, 6)
    assert len(set(tokens)) > 1, tokens  # a degenerate repetition would prove little
    assert model.generate(ids, 6, stop_tokens=[tokens[1]]) == tokens[:2]


def test_decode_padding_columns_do_not_reach_the_token(model_and_sd: tuple[Llama, dict]) -> None:
    # Llama.decode fills the 31 padding columns with copies of the token (the reference executor then computes
    # each 1x1 conv on one column); the token's column must come out the same as with zero padding, up to the
    # float32 summation order of the products.
    model, _ = model_and_sd
    c, d = CONFIG, CONFIG.dims
    rng = np.random.default_rng(3)
    token = rng.standard_normal((1, c.dim, 1, 1)).astype(np.float16)
    pos = 9
    feeds = {
        "mask": np.where(np.arange(c.max_context) <= pos, 0, -65504).astype(np.float16).reshape(1, 1, 1, -1),
        "slot": (np.arange(c.max_context) == pos).astype(np.float16).reshape(1, 1, 1, -1),
    }
    feeds["cos"], feeds["sin"] = rope_tables(d.head_dim, np.full(32, pos), c.rope_theta)
    for i in range(c.layers_per_program):
        for label in ("k", "v"):
            kv = rng.standard_normal((1, d.kv_dim, 1, c.max_context)).astype(np.float16)
            kv[..., pos] = 0
            feeds[f"{label}_cache{i}"] = kv
    zero_pad = np.concatenate([token, np.zeros((1, c.dim, 1, 31), np.float16)], axis=3)
    copies = np.repeat(token, 32, axis=3)
    a = model.kernels["decode0"]({**feeds, "x": zero_pad}, dtype=np.float16)
    b = model.kernels["decode0"]({**feeds, "x": copies}, dtype=np.float16)
    for name in a:
        np.testing.assert_allclose(
            b[name][..., 0].astype(np.float32), a[name][..., 0].astype(np.float32), rtol=4e-3, atol=2e-3
        )
        # With copies every column is the token's: the padding carries no other value.
        np.testing.assert_array_equal(b[name], np.repeat(b[name][..., :1], 32, axis=3))


def test_bad_inputs_are_refused(model_and_sd: tuple[Llama, dict]) -> None:
    model, _ = model_and_sd
    with pytest.raises(ValueError, match="token ids must be in"):
        model.prefill([CONFIG.vocab_size], model.new_cache())
    with pytest.raises(ValueError, match="cache must be"):
        model.decode(1, 0, model.new_cache()[:1])
    with pytest.raises(ValueError, match="pos must be in"):
        model.decode(1, CONFIG.max_context, model.new_cache())
    with pytest.raises(ValueError, match="exceed max_context"):
        model.generate([1] * 60, 10)
    with pytest.raises(ValueError, match="multiple of 32"):
        LlamaConfig(vocab_size=10, dim=64, layers=1, heads=4, kv_heads=2, hidden=96, prefill_bucket=20)
    with pytest.raises(ValueError, match="must divide"):
        LlamaConfig(vocab_size=10, dim=64, layers=1, heads=4, kv_heads=3, hidden=96)
    # The K/V cache's length is a program dimension: above the ANE's limit every decode program would fail
    # validation after the whole model was read (before: 68 ane-dim-limit errors from the compile).
    LlamaConfig(vocab_size=10, dim=64, layers=1, heads=4, kv_heads=2, hidden=96, max_context=65536)
    with pytest.raises(ValueError, match="max_context must be at most 65536"):
        LlamaConfig(vocab_size=10, dim=64, layers=1, heads=4, kv_heads=2, hidden=96, max_context=65537)
    with pytest.raises(KeyError, match=r"missing lm_head\.weight"):
        LlamaWeights.from_state_dict({"model.embed_tokens.weight": np.zeros((10, 64)), "model.norm.weight": 1}, CONFIG)


def test_fake_framework_wires_kv_caches_and_chunked_head() -> None:
    """The same generation through the ANE backend on the fake framework (reference mode): canonical I/O names,
    padded surfaces, K/V caches as inputs and a head split into chunks; no compile after construction."""
    from anekit import budget, testing
    from anekit.errors import AneUnavailableError
    from anekit.runtime.cache import default_cache

    config = LlamaConfig(**{**_fields(CONFIG), "vocab_size": 70, "head_chunk": 32})
    sd = _state_dict(config, seed=2)
    ids = [3, 14, 15, 9]
    want = _torch_greedy(sd, config, ids, 4)
    try:
        with testing.fake_ane(mode="reference") as fake:
            model = Llama(config, LlamaWeights.from_state_dict(sd, config), backend="ane")
            # Head split into chunks of at most 32 outputs, so three logits outputs.
            assert len(model.programs["head"].main.outputs) == 3
            compiles = fake.stats()["compiles"]
            assert compiles == config.program_count
            assert model.generate(ids, 4) == want
            assert fake.stats()["compiles"] == compiles
            # The same model again (same programs, same weights): every program comes from the content cache,
            # the framework compiles nothing and the budget is untouched.
            model.close()
            stats, used, hits = default_cache().stats, budget.used(), default_cache().stats.hits
            again = Llama(config, LlamaWeights.from_state_dict(sd, config), backend="ane")
            assert (stats.hits - hits, budget.used() - used) == (config.program_count, 0)
            assert fake.stats()["compiles"] == compiles
            assert again.generate(ids, 4) == want
            # Other weights are other programs: compiled, not served from the cache.
            Llama(config, LlamaWeights.from_state_dict(_state_dict(config, seed=9), config), backend="ane")
            assert budget.used() - used == config.program_count
            assert fake.stats()["compiles"] == 2 * compiles
    except AneUnavailableError as exc:
        pytest.skip(str(exc))


def _fields(c: LlamaConfig) -> dict:
    import dataclasses

    return {f.name: getattr(c, f.name) for f in dataclasses.fields(c) if f.init}
