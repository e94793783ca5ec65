"""The trainable llama-style model: its sizes, its fp32 parameters and the MIL programs of one layer and the head.

Every weight is a **function input** (docs/internals/ane-private-api.md §20.2): one compiled layer program serves
every layer and every weight value, so a training loop compiles once and never again. Granularity: one program per
decoder layer (shared by all layers) and one for the head, each with a backward program derived by
:func:`anekit.autodiff.vjp`. That is 4 compiles whatever the depth, well inside the ~119-compile budget
(docs/internals/ane-private-api.md §16.1), and ``2 * (layers + 1)`` kernel dispatches per micro-batch, which at
≈ 0.2 ms per dispatch (docs/internals/reference-numbers.md §3) costs ~5 ms for Stories110M's 12 layers against a
60-110 ms step (§7). A whole-model program would save those dispatches but would carry every weight of the model as
inputs of one kernel and recompile whole for any change of shape.

The token embedding is a row lookup on the CPU and its gradient a scatter-add there.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .. import mil
from ..nn import DecoderDims, DecoderWeights, causal_mask, decoder_block, linear, rms_norm_trainable, rope_tables
from ..nn.rules import MAX_CHANNELS, SAFE_SPATIAL, channel_chunks, check_positive

__all__ = [
    "INIT_STD",
    "LAYER_WEIGHTS",
    "ModelConfig",
    "from_input",
    "head_inputs",
    "head_outputs",
    "head_program",
    "init_params",
    "layer_program",
    "rope_inputs",
    "to_input",
]

#: Standard deviation of the initial weight matrices (:func:`init_params`).
INIT_STD = 0.02

#: The weights of one decoder layer, in program-input order, with PyTorch-style names.
LAYER_WEIGHTS = ("attn_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w_gate", "w_up", "w_down")


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the model.

    Attributes:
        vocab_size: tokens (256 for bytes).
        dim, layers, heads, kv_heads, hidden: the architecture (``hidden`` is the SwiGLU width).
        seq: positions per sequence (the spatial axis S; a multiple of 32, docs/internals/ane-private-api.md
            §25.3 item 3).
        eps: RMSNorm epsilon.
        rope_theta: RoPE base.
        tie_embeddings: the LM head reuses the token embedding matrix (llama2.c's Stories models do) instead of a
            separate ``output`` parameter; its gradient is the sum of the head's and the embedding lookup's.
        head_chunk: the widest piece of the LM head: a head of ``vocab_size`` outputs is split into
            :attr:`head_chunks` of near-equal size at most this wide, each a weight input and a logits output of
            its own (the ANE's channel limit :data:`~anekit.nn.rules.MAX_CHANNELS` by default; smaller values
            exist for tests).
    """

    vocab_size: int = 256
    dim: int = 256
    layers: int = 4
    heads: int = 8
    kv_heads: int = 4
    hidden: int = 704
    seq: int = 128
    eps: float = 1e-5
    rope_theta: float = 10000.0
    tie_embeddings: bool = False
    head_chunk: int = MAX_CHANNELS

    def __post_init__(self) -> None:
        check_positive(
            "ModelConfig",
            vocab_size=self.vocab_size,
            dim=self.dim,
            layers=self.layers,
            heads=self.heads,
            kv_heads=self.kv_heads,
            hidden=self.hidden,
            seq=self.seq,
            head_chunk=self.head_chunk,
        )
        if self.seq % SAFE_SPATIAL:
            raise ValueError(f"ModelConfig: seq must be a multiple of {SAFE_SPATIAL}, got {self.seq}")
        if self.head_chunk > MAX_CHANNELS:
            raise ValueError(
                f"ModelConfig: head_chunk must be at most the ANE's {MAX_CHANNELS} channels "
                f"(docs/internals/mil-format.md §11 rules 7-8), got {self.head_chunk}"
            )
        for label in ("eps", "rope_theta"):
            v = getattr(self, label)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise ValueError(f"ModelConfig: {label} must be a positive finite number, got {v!r}")
        if not isinstance(self.tie_embeddings, bool):
            raise ValueError(f"ModelConfig: tie_embeddings must be a bool, got {self.tie_embeddings!r}")
        self.dims  # noqa: B018  (DecoderDims checks heads, kv_heads and the head size)

    @property
    def dims(self) -> DecoderDims:
        return DecoderDims(dim=self.dim, heads=self.heads, kv_heads=self.kv_heads, hidden=self.hidden, eps=self.eps)

    @property
    def head_chunks(self) -> list[tuple[int, int]]:
        """``(first row, rows)`` of each piece of the LM head, in vocabulary order."""
        return channel_chunks(self.vocab_size, self.head_chunk)

    @property
    def head_weight(self) -> str:
        """The parameter the LM head multiplies by: ``"output"``, or ``"tok_embeddings"`` when tied."""
        return "tok_embeddings" if self.tie_embeddings else "output"

    def as_dict(self) -> dict[str, int | float | bool]:
        return asdict(self)

    def layer_shapes(self) -> dict[str, tuple[int, ...]]:
        """PyTorch-layout shape of each weight of one layer (``[out, in]`` for projections)."""
        d, kv, h = self.dim, self.dims.kv_dim, self.hidden
        return {
            "attn_norm": (d,),
            "wq": (d, d),
            "wk": (kv, d),
            "wv": (kv, d),
            "wo": (d, d),
            "ffn_norm": (d,),
            "w_gate": (h, d),
            "w_up": (h, d),
            "w_down": (d, h),
        }

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and PyTorch-layout shape, in a fixed order."""
        shapes: dict[str, tuple[int, ...]] = {"tok_embeddings": (self.vocab_size, self.dim)}
        for i in range(self.layers):
            shapes.update({f"layers.{i}.{k}": s for k, s in self.layer_shapes().items()})
        shapes["norm"] = (self.dim,)
        if not self.tie_embeddings:
            shapes["output"] = (self.vocab_size, self.dim)
        return shapes

    def initial_loss(self) -> float:
        """The expected cross-entropy of a fresh untied model (:func:`init_params`): the head's logits over the
        unit-RMS normalised activations are about normal with variance ``INIT_STD^2 * dim``, and the mean of
        ``log sum exp`` of ``V`` such logits is ``ln V + variance / 2`` (ln 32000 + 0.15 for Stories110M)."""
        return math.log(self.vocab_size) + 0.5 * INIT_STD**2 * self.dim

    def n_params(self) -> int:
        return sum(int(np.prod(s)) for s in self.param_shapes().values())

    def flops_per_token(self) -> float:
        """Training FLOPs per token: 6 per weight of a matmul (forward 2, backward 4) plus the attention's
        ``q k^T`` and ``p v`` (12 * layers * dim * seq, forward and backward), the usual estimate."""
        layer = sum(int(np.prod(s)) for s in self.layer_shapes().values() if len(s) == 2)
        matmul_params = self.layers * layer + self.vocab_size * self.dim  # the embedding lookup is no matmul
        return 6.0 * matmul_params + 12.0 * self.layers * self.dim * self.seq


def _check_config(owner: str, config: object) -> ModelConfig:
    if not isinstance(config, ModelConfig):
        raise TypeError(f"{owner}: config must be a ModelConfig, got {type(config).__name__}")
    return config


def init_params(config: ModelConfig, seed: int) -> dict[str, np.ndarray]:
    """fp32 parameters from ``seed``: normal(0, :data:`INIT_STD`) matrices, with the residual projections (``wo``,
    ``w_down``) scaled by ``1 / sqrt(2 * layers)`` (GPT-2's initialisation), and unit RMSNorm gains."""
    _check_config("init_params", config)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"init_params: seed must be a non-negative int, got {seed!r}")
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    for name, shape in config.param_shapes().items():
        if len(shape) == 1:
            params[name] = np.ones(shape, np.float32)
            continue
        std = INIT_STD / np.sqrt(2 * config.layers) if name.endswith((".wo", ".w_down")) else INIT_STD
        params[name] = (rng.standard_normal(shape) * std).astype(np.float32)
    return params


def to_input(value: np.ndarray) -> np.ndarray:
    """A PyTorch-layout parameter as its program input: ``[OUT, IN] -> [1, IN, 1, OUT]``, ``[C] -> [1, 1, 1, C]``.

    A gain lies along S rather than C: a ``[1, C, 1, 1]`` input would be a single-token surface, which the ANE is
    reported to evaluate wrongly (validator rule ``ane-single-token``); the program reshapes it to ``[1, C, 1, 1]``.
    """
    if value.ndim == 1:
        return value.reshape(1, 1, 1, -1)
    if value.ndim == 2:
        return np.ascontiguousarray(value.T).reshape(1, value.shape[1], 1, value.shape[0])
    raise ValueError(f"to_input: expected a 1-D or 2-D parameter, got shape {value.shape}")


def from_input(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of :func:`to_input`: a program-layout gradient back in the parameter's ``shape``."""
    value = np.asarray(value)
    if len(shape) in (1, 2) and value.size != int(np.prod(shape)):
        raise ValueError(f"from_input: a value of shape {value.shape} cannot be a parameter of shape {tuple(shape)}")
    if len(shape) == 1:
        return value.reshape(shape)
    if len(shape) == 2:
        return value.reshape(shape[1], shape[0]).T
    raise ValueError(f"from_input: expected a 1-D or 2-D parameter shape, got {shape}")


def _fp16(shape: tuple[int, ...]) -> mil.types.TensorType:
    return mil.tensor(shape, "fp16")


def _weight_types(shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    return {name: to_input(np.zeros(shape, np.float32)).shape for name, shape in shapes.items()}


def _gain(mb: mil.Builder, g: mil.Var, c: int) -> mil.Var:
    return mb.reshape(x=g, shape=np.array([1, c, 1, 1], np.int32))


def layer_program(config: ModelConfig) -> mil.Program:
    """One decoder layer, ``y = layer(x)``: inputs ``x[1, dim, 1, seq]``, ``cos``/``sin`` ``[1, head_dim, 1, seq]``
    and the weights of :data:`LAYER_WEIGHTS` in the layouts of :func:`to_input`; output ``y``."""
    c = _check_config("layer_program", config)
    mb = mil.Builder("ios18", name="main")
    x = mb.input("x", _fp16((1, c.dim, 1, c.seq)))
    cos = mb.input("cos", _fp16((1, c.dims.head_dim, 1, c.seq)))
    sin = mb.input("sin", _fp16((1, c.dims.head_dim, 1, c.seq)))
    shapes = _weight_types(c.layer_shapes())
    w = {name: mb.input(name, _fp16(shapes[name])) for name in LAYER_WEIGHTS}
    for name in ("attn_norm", "ffn_norm"):
        w[name] = _gain(mb, w[name], c.dim)
    y, _, _ = decoder_block(
        mb, x, DecoderWeights(**w), c.dims, cos, sin, causal_mask(c.seq), norm=rms_norm_trainable, name="layer"
    )
    return mb.build({"y": y})


def head_inputs(config: ModelConfig) -> tuple[str, ...]:
    """The weight inputs of :func:`head_program`: ``norm``, then ``output_<i>`` for each of :attr:`head_chunks`."""
    n = len(_check_config("head_inputs", config).head_chunks)
    return ("norm", *(f"output_{i}" for i in range(n)))


def head_outputs(config: ModelConfig) -> tuple[str, ...]:
    """The outputs of :func:`head_program`: ``logits_<i>`` for each of :attr:`head_chunks`."""
    return tuple(f"logits_{i}" for i in range(len(_check_config("head_outputs", config).head_chunks)))


def head_program(config: ModelConfig) -> mil.Program:
    """Final RMSNorm and the LM head, split along the vocabulary into :attr:`ModelConfig.head_chunks`.

    Inputs ``x[1, dim, 1, seq]``, ``norm[1, 1, 1, dim]`` and, per chunk ``i`` of ``n`` rows, ``output_<i>[1, dim,
    1, n]`` (those rows of the head's weight, :func:`to_input` layout); outputs ``logits_<i>[1, n, 1, seq]``. The
    chunks are independent outputs: the softmax and cross-entropy run on the CPU over their concatenation, and the
    derived backward takes one cotangent per chunk and returns one weight gradient per chunk (the ANE cannot hold
    a 32000-channel tensor, docs/internals/mil-format.md §11 rules 7-8, so the head is never one matmul).
    """
    c = _check_config("head_program", config)
    mb = mil.Builder("ios18", name="main")
    x = mb.input("x", _fp16((1, c.dim, 1, c.seq)))
    g = _gain(mb, mb.input("norm", _fp16((1, 1, 1, c.dim))), c.dim)
    h = rms_norm_trainable(mb, x, g, c.eps, name="norm")
    logits = {}
    for i, (_, n) in enumerate(c.head_chunks):
        w = mb.input(f"output_{i}", _fp16((1, c.dim, 1, n)))
        logits[f"logits_{i}"] = linear(mb, h, w, name=f"output_{i}")
    return mb.build(logits)


def rope_inputs(config: ModelConfig) -> dict[str, np.ndarray]:
    """The ``cos``/``sin`` inputs for positions ``0 .. seq - 1``."""
    _check_config("rope_inputs", config)
    cos, sin = rope_tables(config.dims.head_dim, np.arange(config.seq), config.rope_theta)
    return {"cos": cos, "sin": sin}
