"""A llama-architecture language model on anekit: prefill over a sequence bucket, decode of one token with the K/V
cache passed as inputs, greedy generation.

Programs (compiled once; generating never recompiles):

* ``prefill[g]``: decoder layers ``g*L .. g*L+L-1`` (``L = layers_per_program``) over ``prefill_bucket``
  positions; inputs ``x``, ``cos``, ``sin``; outputs ``y`` and every layer's keys and values for the cache.
  The causal mask is baked: padded positions sit after the prompt, so they never affect it.
* ``decode[g]``: the same layers for one token (column 0 of a padded bucket); inputs ``x``, ``cos``, ``sin``,
  the additive ``mask`` and one-hot ``slot`` over the ``max_context`` cache columns, and each layer's
  ``k_cache``/``v_cache``; outputs ``y`` and the token's keys and values, which the host writes into its cache
  at the token's position.
* ``head``: final RMSNorm and the LM head, split into chunks of at most ``MAX_CHANNELS`` outputs
  (a 49152-word vocabulary gives 3), for one position (column 0).

Single-token programs (decode, head) pad their one position to ``SAFE_SPATIAL`` columns: S = 1 kernels are
reported to compile but give wrong output on the ANE. The padding costs compute, which a later step can win back
by decoding several sequences (or speculative tokens) in those columns.

A model of ``N`` layers compiles ``2 * ceil(N / layers_per_program) + 1`` programs: 30 layers with the default
6 per program give 11, well inside the ~119-compile budget (docs/internals/ane-private-api.md §20). The token embedding
is a row lookup on the CPU. Every program goes through anekit's content cache, so constructing the same model
again (same configuration and weights, e.g. after ``close()``) compiles nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import mil
from ..errors import EvaluateError
from ..mil.validate.ane_io import MAX_DIMENSION
from ..nn import (
    MAX_CHANNELS,
    DecoderDims,
    DecoderWeights,
    KVCache,
    QuantizedWeight,
    causal_mask,
    channel_chunks,
    decoder_block,
    linear_chunks,
    pad_spatial,
    rms_norm,
    rope_tables,
)
from ..nn.rules import SAFE_SPATIAL, check_positive
from ..nn.weights import as_array, fp16_weight

__all__ = ["BUILD_FIELDS", "Llama", "LlamaConfig", "LlamaWeights", "config_from_file"]


@dataclass(frozen=True)
class LlamaConfig:
    """Architecture and bucket sizes.

    Attributes:
        vocab_size, dim, layers, heads, kv_heads, hidden: the architecture (``hidden`` is the SwiGLU width).
        eps: RMSNorm epsilon.
        rope_theta: RoPE base.
        max_context: K/V cache length (prompt plus generated tokens); rounded up to a multiple of 32.
        prefill_bucket: positions of the prefill programs; a multiple of 32. Longer prompts continue with
            decode steps.
        layers_per_program: decoder layers fused into one program.
        tie_embeddings: the LM head reuses the token embedding.
        head_chunk: most LM-head outputs per chunk (default the ANE's channel limit).
    """

    vocab_size: int
    dim: int
    layers: int
    heads: int
    kv_heads: int
    hidden: int
    eps: float = 1e-5
    rope_theta: float = 10000.0
    max_context: int = 256
    prefill_bucket: int = 32
    layers_per_program: int = 6
    tie_embeddings: bool = True
    head_chunk: int = MAX_CHANNELS
    dims: DecoderDims = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        labels = ("vocab_size", "layers", "max_context", "prefill_bucket", "layers_per_program", "head_chunk")
        check_positive("LlamaConfig", **{label: getattr(self, label) for label in labels})
        if self.prefill_bucket % SAFE_SPATIAL:
            raise ValueError(
                f"LlamaConfig: prefill_bucket must be a multiple of {SAFE_SPATIAL}, got {self.prefill_bucket}"
            )
        object.__setattr__(self, "max_context", pad_spatial(self.max_context))
        if self.max_context > MAX_DIMENSION:
            # The K/V cache inputs and the attention scores carry max_context as a dimension: a larger one fails
            # every decode program's ane-dim-limit check, after the whole model was read and built.
            raise ValueError(
                f"LlamaConfig: max_context must be at most {MAX_DIMENSION} (the ANE's largest dimension), "
                f"got {self.max_context}"
            )
        if self.prefill_bucket > self.max_context:
            raise ValueError(
                f"LlamaConfig: prefill_bucket ({self.prefill_bucket}) exceeds max_context ({self.max_context})"
            )
        if self.dim > MAX_CHANNELS or self.hidden > MAX_CHANNELS:
            raise ValueError(f"LlamaConfig: dim and hidden must be at most {MAX_CHANNELS} channels")
        object.__setattr__(self, "dims", DecoderDims(self.dim, self.heads, self.kv_heads, self.hidden, self.eps))

    @property
    def program_count(self) -> int:
        """Programs the model compiles: prefill and decode per layer group, plus the head."""
        return 2 * -(-self.layers // self.layers_per_program) + 1


#: The :class:`LlamaConfig` fields a file loader takes from its caller; the others describe the architecture and are
#: read from the file (a different ``dim`` or ``layers`` would not match the weights).
BUILD_FIELDS = ("max_context", "prefill_bucket", "layers_per_program", "head_chunk")


def config_from_file(architecture: Mapping[str, Any], settings: Mapping[str, Any], owner: str) -> LlamaConfig:
    """The configuration of a model file: ``architecture`` as read from it, with the caller's :data:`BUILD_FIELDS`.

    Raises:
        TypeError: a setting that is not one of :data:`BUILD_FIELDS` (named, with the accepted ones).
        ValueError: a value out of range (:class:`LlamaConfig`).
    """
    unknown = sorted(set(settings) - set(BUILD_FIELDS))
    if unknown:
        raise TypeError(
            f"{owner}: unexpected keyword argument(s) {', '.join(unknown)}; the architecture is read from the file, "
            f"and the settings are {', '.join(BUILD_FIELDS)}"
        )
    return LlamaConfig(**{**architecture, **settings})


@dataclass(frozen=True)
class LlamaWeights:
    """All weights, PyTorch layout: ``embed [vocab, dim]``, one :class:`DecoderWeights` per layer, the final
    ``norm [dim]`` and ``lm_head [vocab, dim]``. ``embed`` and ``lm_head`` may be :class:`~anekit.nn.QuantizedWeight`
    (the embedding is then decompressed once, for the host's row lookup; the head stays compressed)."""

    embed: np.ndarray | QuantizedWeight
    layers: tuple[DecoderWeights, ...]
    norm: np.ndarray
    lm_head: np.ndarray | QuantizedWeight

    @classmethod
    def from_state_dict(cls, sd: Mapping[str, Any], config: LlamaConfig) -> LlamaWeights:
        """From a Hugging Face ``LlamaForCausalLM`` ``state_dict`` (``model.embed_tokens.weight``, ...)."""
        if not isinstance(sd, Mapping):
            raise TypeError(f"LlamaWeights.from_state_dict: expected a mapping, got {type(sd).__name__}")
        for key in ("model.embed_tokens.weight", "model.norm.weight"):
            if key not in sd:
                raise KeyError(f"LlamaWeights.from_state_dict: missing {key}")
        embed = as_array(sd["model.embed_tokens.weight"], "model.embed_tokens.weight")
        if "lm_head.weight" in sd and not config.tie_embeddings:
            head = as_array(sd["lm_head.weight"], "lm_head.weight")
        elif config.tie_embeddings:
            head = embed
        else:
            raise KeyError("LlamaWeights.from_state_dict: missing lm_head.weight (config.tie_embeddings is False)")
        layers = tuple(DecoderWeights.from_state_dict(sd, f"model.layers.{i}.") for i in range(config.layers))
        return cls(embed, layers, as_array(sd["model.norm.weight"], "model.norm.weight"), head)


def _fp16(shape: tuple[int, ...]) -> mil.TensorType:
    return mil.tensor(shape, "fp16")


class Llama:
    """A llama model with compiled prefill, decode and head programs.

    Args:
        config: the architecture.
        weights: the weights (checked against ``config``).
        backend: ``"reference"``, ``"ane"`` or None (the best usable), as for :func:`anekit.compile`.
    """

    def __init__(self, config: LlamaConfig, weights: LlamaWeights, *, backend: str | None = None) -> None:
        if not isinstance(config, LlamaConfig):
            raise TypeError(f"Llama: config must be a LlamaConfig, got {type(config).__name__}")
        if not isinstance(weights, LlamaWeights):
            raise TypeError(f"Llama: weights must be LlamaWeights, got {type(weights).__name__}")
        if len(weights.layers) != config.layers:
            raise ValueError(f"Llama: config has {config.layers} layers, weights have {len(weights.layers)}")
        self.config = config
        c = config
        self._embed = fp16_weight(weights.embed, "embed", (c.vocab_size, c.dim))
        self._weights = weights
        self._groups = [
            range(first, min(first + c.layers_per_program, c.layers))
            for first in range(0, c.layers, c.layers_per_program)
        ]
        #: name -> program: ``prefill<g>``, ``decode<g>`` per layer group, and ``head``.
        self.programs: dict[str, mil.Program] = {}
        for g, span in enumerate(self._groups):
            self.programs[f"prefill{g}"] = self._stage_program(span, decode=False)
            self.programs[f"decode{g}"] = self._stage_program(span, decode=True)
        self.programs["head"] = self._head_program()
        from ..runtime.compile import compile as compile_program

        #: name -> compiled kernel, one per program; nothing is compiled after construction.
        self.kernels = {name: compile_program(p, backend=backend) for name, p in self.programs.items()}
        self._closed = False

    @property
    def backend(self) -> str:
        """The backend the kernels were compiled for (``"ane"`` or ``"reference"``; what ``backend=None`` chose)."""
        return self.kernels["head"].backend

    @property
    def closed(self) -> bool:
        """True after :meth:`close`: the kernels are released and the model cannot run."""
        return self._closed

    def close(self) -> None:
        """Release the compiled kernels (their models and surfaces)."""
        self._closed = True
        for kernel in self.kernels.values():
            kernel.close()

    def _check_open(self, owner: str) -> None:
        if self._closed:
            raise EvaluateError(f"{owner}: the model is closed (its kernels were released); load it again")

    def __enter__(self) -> Llama:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- programs ---------------------------------------------------------------------------------------------
    def _stage_program(self, span: range, *, decode: bool) -> mil.Program:
        c, d = self.config, self.config.dims
        # Decode pads its one token to SAFE_SPATIAL columns (S = 1 kernels are reported wrong on the ANE).
        s = SAFE_SPATIAL if decode else c.prefill_bucket
        inputs: dict[str, mil.TensorType] = {
            "x": _fp16((1, c.dim, 1, s)),
            "cos": _fp16((1, d.head_dim, 1, s)),
            "sin": _fp16((1, d.head_dim, 1, s)),
        }
        if decode:
            t = c.max_context
            inputs["mask"] = _fp16((1, 1, 1, t))
            inputs["slot"] = _fp16((1, 1, 1, t))
            for i in span:
                inputs[f"k_cache{i}"] = _fp16((1, d.kv_dim, 1, t))
                inputs[f"v_cache{i}"] = _fp16((1, d.kv_dim, 1, t))
        # Inputs declared in name order: the order public reports say the ANE binds them by
        # (docs/internals/ane-private-api.md §25.2 #3), so every plausible rule agrees.
        inputs = dict(sorted(inputs.items()))
        names = list(inputs)

        @mil.program(inputs=inputs)
        def stage(mb: mil.Builder, *args: mil.Var) -> dict[str, mil.Var]:
            v = dict(zip(names, args, strict=True))
            x, outs = v["x"], {}
            mask = v["mask"] if decode else causal_mask(s)
            for i in span:
                cache = KVCache(v[f"k_cache{i}"], v[f"v_cache{i}"], v["slot"]) if decode else None
                x, k, val = decoder_block(
                    mb, x, self._weights.layers[i], d, v["cos"], v["sin"], mask, cache, name=f"layer{i}"
                )
                outs[f"k{i}"], outs[f"v{i}"] = k, val
            return {"y": x, **outs}

        return stage

    def _head_program(self) -> mil.Program:
        c = self.config

        @mil.program(inputs={"x": _fp16((1, c.dim, 1, SAFE_SPATIAL))})
        def head(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
            h = rms_norm(mb, x, self._weights.norm, c.eps, name="norm")
            chunks = linear_chunks(mb, h, self._weights.lm_head, limit=c.head_chunk, name="lm_head")
            return {f"logits{i}": y for i, y in enumerate(chunks)}

        return head

    # -- running ----------------------------------------------------------------------------------------------
    def new_cache(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """An empty K/V cache: per layer ``(k, v)`` fp16 ``[kv_dim, max_context]``."""
        shape = (self.config.dims.kv_dim, self.config.max_context)
        return [(np.zeros(shape, np.float16), np.zeros(shape, np.float16)) for _ in range(self.config.layers)]

    def _tokens(self, ids: Sequence[int], owner: str) -> np.ndarray:
        arr = np.asarray(ids)
        if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
            raise ValueError(f"{owner}: expected a non-empty 1-D sequence of token ids, got {ids!r}")
        if arr.min() < 0 or arr.max() >= self.config.vocab_size:
            raise ValueError(
                f"{owner}: token ids must be in [0, {self.config.vocab_size}), got {arr.min()}..{arr.max()}"
            )
        return arr

    def _check_cache(self, cache: Any, owner: str) -> None:
        shape = (self.config.dims.kv_dim, self.config.max_context)
        ok = isinstance(cache, list) and len(cache) == self.config.layers
        ok = ok and all(
            len(kv) == 2 and all(isinstance(a, np.ndarray) and a.shape == shape and a.dtype == np.float16 for a in kv)
            for kv in cache
        )
        if not ok:
            raise ValueError(
                f"{owner}: cache must be Llama.new_cache()'s list of {self.config.layers} (k, v) fp16 arrays {shape}"
            )

    def _logits(self, hidden: np.ndarray) -> np.ndarray:
        # Padding columns are copies of the position, as in decode (the head is column-wise).
        x = np.repeat(np.asarray(hidden, np.float16).reshape(1, -1, 1, 1), SAFE_SPATIAL, axis=3)
        out = self.kernels["head"](x=x)
        chunks = channel_chunks(self.config.vocab_size, self.config.head_chunk)
        parts = [out[f"logits{i}"][0, :, 0, 0] for i in range(len(chunks))]
        return np.concatenate(parts)

    def prefill(self, ids: Sequence[int], cache: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Run the prompt from position 0, fill ``cache``, return the last position's logits ``[vocab]``.

        Up to ``prefill_bucket`` tokens go through the prefill programs in one pass; the rest are fed as decode
        steps (same programs, no compile).
        """
        self._check_open("Llama.prefill")
        tokens = self._tokens(ids, "Llama.prefill")
        self._check_cache(cache, "Llama.prefill")
        c = self.config
        if tokens.size > c.max_context:
            raise ValueError(f"Llama.prefill: {tokens.size} tokens exceed max_context ({c.max_context})")
        n = min(tokens.size, c.prefill_bucket)
        x = np.zeros((1, c.dim, 1, c.prefill_bucket), np.float16)
        x[0, :, 0, :n] = self._embed[tokens[:n]].T
        cos, sin = rope_tables(c.dims.head_dim, np.arange(c.prefill_bucket), c.rope_theta)
        for g, span in enumerate(self._groups):
            out = self.kernels[f"prefill{g}"](x=x, cos=cos, sin=sin, dtype=np.float16)
            x = out["y"]
            for i in span:
                cache[i][0][:, :n] = out[f"k{i}"][0, :, 0, :n]
                cache[i][1][:, :n] = out[f"v{i}"][0, :, 0, :n]
        logits = self._logits(x[0, :, 0, n - 1])
        for pos in range(n, tokens.size):
            logits = self.decode(int(tokens[pos]), pos, cache)
        return logits

    def decode(self, token: int, pos: int, cache: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """One token at position ``pos`` (earlier positions already in ``cache``); writes its K/V into ``cache``
        and returns its logits ``[vocab]``."""
        c = self.config
        self._check_open("Llama.decode")
        self._tokens([token], "Llama.decode")
        self._check_cache(cache, "Llama.decode")
        if not 0 <= pos < c.max_context:
            raise ValueError(f"Llama.decode: pos must be in [0, {c.max_context}), got {pos}")
        # Column 0 is the token. The padding columns never reach column 0 (every op but attention is
        # column-wise, and attention reads keys and values from the cache and column 0 only), so any finite
        # content would do: copies of the token make every column of every activation identical, which the
        # reference executor computes once (a 1x1 conv shares a repeated tail of columns), not 32 times.
        x = np.repeat(self._embed[token].reshape(1, -1, 1, 1), SAFE_SPATIAL, axis=3)
        cos, sin = rope_tables(c.dims.head_dim, np.full(SAFE_SPATIAL, pos), c.rope_theta)
        mask = causal_mask(1, c.max_context, offset=pos)  # the one query at pos sees keys 0..pos
        slot = (np.arange(c.max_context) == pos).astype(np.float16).reshape(1, 1, 1, -1)
        for g, span in enumerate(self._groups):
            feeds: dict[str, np.ndarray] = {"x": x, "cos": cos, "sin": sin, "mask": mask, "slot": slot}
            for i in span:
                # The slot column must be zero in the cache inputs: the program adds the new K/V there (the
                # column is overwritten with the token's K/V below, so clearing it in place loses nothing).
                for j, label in ((0, "k"), (1, "v")):
                    cache[i][j][:, pos] = 0
                    feeds[f"{label}_cache{i}"] = cache[i][j].reshape(1, -1, 1, c.max_context)
            out = self.kernels[f"decode{g}"](feeds, dtype=np.float16)
            x = out["y"]
            for i in span:
                cache[i][0][:, pos] = out[f"k{i}"][0, :, 0, 0]
                cache[i][1][:, pos] = out[f"v{i}"][0, :, 0, 0]
        return self._logits(x[0, :, 0, 0])

    def generate(self, ids: Sequence[int], max_new_tokens: int, *, stop_tokens: Collection[int] = ()) -> list[int]:
        """Greedy generation: up to ``max_new_tokens`` tokens following ``ids``, ending early after any of
        ``stop_tokens`` (e.g. the end-of-sequence id), which is included.

        Sampling, streaming, timings and text: :func:`anekit.models.generation.generate` (this delegates to it).
        """
        from .generation import generate

        return generate(self, ids, max_new_tokens=max_new_tokens, stop_tokens=stop_tokens).ids
