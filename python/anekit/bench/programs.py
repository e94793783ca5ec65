"""The MIL programs the suites time, with their hand-countable costs.

Every kernel works in the ANE's ``[1, C, 1, S]`` fp16 layout. Weights are standard normal scaled by
``1/sqrt(C_in)`` so activations keep unit scale through deep chains (upstream's benchmarks used arbitrary fp16
bit patterns, docs/internals/reference-numbers.md §2.1, which can overflow and then prove nothing about the result).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import mil
from ..mil.analysis.summary import summarize
from ..mil.types import tensor
from ..mil.values import Value

__all__ = [
    "WEIGHT_FORMATS",
    "KernelCost",
    "conv_chain",
    "cost",
    "linear_head",
    "scale_program",
]

#: Weight formats of the quant suite: plain fp16 consts; int8 with a per-output-channel scale
#: (``constexpr_affine_dequantize``); 4-bit indices into a 16-entry table (``constexpr_lut_to_dense``); int4
#: with one scale per :data:`BLOCK_SIZE` inputs (``constexpr_blockwise_shift_scale``, ios18 only).
WEIGHT_FORMATS: tuple[str, ...] = ("fp16", "int8-affine", "palette-4bit", "int4-blockwise")

#: Block size along the input channels of the blockwise format (Core ML's default for int4, per 32 inputs).
BLOCK_SIZE = 32

_I2 = np.array([1, 1], np.int32)


@dataclass(frozen=True)
class KernelCost:
    """What a program asks of the hardware: FLOPs (1 MAC = 2), weight bytes as stored, and I/O bytes."""

    flops: int
    weight_bytes: int
    io_bytes: int

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved (weights + inputs + outputs): the roofline's x axis."""
        moved = self.weight_bytes + self.io_bytes
        return self.flops / moved if moved else 0.0


def cost(program: mil.Program) -> KernelCost:
    """FLOPs and bytes of ``program``'s main function (:mod:`anekit.mil.analysis.flops` conventions)."""
    s = summarize(program)
    f = program.main
    io = sum(_bytes(v.type) for v in f.inputs.values()) + sum(_bytes(v.type) for v in f.outputs)
    return KernelCost(flops=s.flops, weight_bytes=s.total_weight_bytes, io_bytes=io)


def _bytes(t: object) -> int:
    numel = getattr(t, "numel", None) or 0
    return int(numel * t.dtype.bits // 8)  # type: ignore[attr-defined]


def _check_dims(what: str, **dims: int) -> None:
    for name, v in dims.items():
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{what}: {name} must be a positive int, got {v!r}")


def _weights(rng: np.random.Generator, c_out: int, c_in: int) -> np.ndarray:
    w = rng.standard_normal((c_out, c_in, 1, 1), dtype=np.float32) * np.float32(1 / np.sqrt(c_in))
    return w.astype(np.float16)


def _conv(mb: mil.Builder, x: mil.Var, weight: object) -> mil.Var:
    return mb.conv(x=x, weight=weight, strides=_I2, pad_type="valid", dilations=_I2, groups=np.int32(1))


def scale_program(c: int, s: int, *, opset: str = "ios18") -> mil.Program:
    """``y = x * 0.5`` on ``[1, c, 1, s]`` fp16: a kernel whose cost is dispatch and data movement only."""
    _check_dims("scale_program", c=c, s=s)
    from ..doctor.programs import identity_program

    return identity_program(c, s, scale=0.5, opset=opset)


def conv_chain(c: int, s: int, depth: int, *, seed: int = 0, opset: str = "ios18") -> mil.Program:
    """``depth`` 1×1 convs ``c -> c`` on ``[1, c, 1, s]`` fp16, each with its own weights (``inmem_peak``'s
    graph, docs/internals/reference-numbers.md §2.1): ``2·c·c·s·depth`` FLOPs, ``2·c·c·depth`` weight bytes."""
    _check_dims("conv_chain", c=c, s=s, depth=depth)
    rng = np.random.default_rng(seed)

    @mil.program(inputs={"x": mil.tensor((1, c, 1, s), "fp16")}, opset=opset)
    def prog(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        h = x
        for _ in range(depth):
            h = _conv(mb, h, _weights(rng, c, c))
        return {"y": h}

    return prog


def linear_head(
    d_in: int, d_out: int, *, weights: str = "fp16", columns: int = 1, seed: int = 0, opset: str = "ios18"
) -> mil.Program:
    """An LM-head-like linear ``[1, d_in, 1, columns] -> [1, d_out, 1, columns]`` as a 1×1 conv (the ANE's
    linear layer), with its ``d_out × d_in`` weights stored in ``weights`` format (:data:`WEIGHT_FORMATS`).

    For one token every weight is read once per evaluation for one multiply-add per column: the kernel streams
    weights, so its time measures the weight bandwidth (what ANEMLL-Bench reports through Core ML). The ANE
    rules advise padding a single token to 32 columns (``ane-single-token``), which keeps the kernel
    weight-bound (32 FLOPs per weight byte, far below the ANE's ridge point).
    """
    _check_dims("linear_head", d_in=d_in, d_out=d_out, columns=columns)
    if weights not in WEIGHT_FORMATS:
        raise ValueError(f"linear_head: unknown weight format {weights!r}; expected one of {list(WEIGHT_FORMATS)}")
    if weights == "int4-blockwise" and d_in % BLOCK_SIZE:
        raise ValueError(f"linear_head: int4-blockwise needs d_in divisible by {BLOCK_SIZE}, got {d_in}")
    if weights == "int4-blockwise" and opset in ("ios16", "ios17"):
        raise ValueError("linear_head: int4-blockwise weights (constexpr_blockwise_shift_scale) need opset ios18")
    rng = np.random.default_rng(seed)
    w = _weights(rng, d_out, d_in).astype(np.float32)

    @mil.program(inputs={"x": mil.tensor((1, d_in, 1, columns), "fp16")}, opset=opset)
    def prog(mb: mil.Builder, x: mil.Var) -> dict[str, mil.Var]:
        return {"y": _conv(mb, x, _weight_op(mb, w, weights))}

    return prog


def _weight_op(mb: mil.Builder, w: np.ndarray, fmt: str) -> object:
    """``w`` (fp32 ``[O, I, 1, 1]``) stored in format ``fmt`` and expanded to fp16 by the matching op."""
    if fmt == "fp16":
        return w.astype(np.float16)
    if fmt == "int8-affine":
        # Symmetric per-output-channel int8 (zero point 0), the common weight-only scheme.
        scale = np.maximum(np.abs(w).max(axis=(1, 2, 3)), 1e-8) / 127
        q = np.clip(np.rint(w / scale[:, None, None, None]), -127, 127).astype(np.int8)
        return mb.constexpr_affine_dequantize(
            quantized_data=q,
            zero_point=np.zeros(w.shape[0], np.int8),
            scale=scale.astype(np.float16),
            axis=np.int32(0),
        )
    if fmt == "palette-4bit":
        # One 16-entry table for the tensor, at the weights' quantiles; each weight takes its nearest entry.
        lut = np.quantile(w, (np.arange(16) + 0.5) / 16).astype(np.float16)
        edges = (lut[1:].astype(np.float32) + lut[:-1].astype(np.float32)) / 2
        idx = np.searchsorted(edges, w).astype(np.uint8)
        if mb.opset in ("ios16", "ios17"):
            # iOS16/17 form: 4-bit indices packed two per byte, LSB first (docs/internals/mil-format.md §9.5), and the
            # shape.
            flat = idx.reshape(-1)
            packed = (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)
            return mb.constexpr_lut_to_dense(indices=packed, lut=lut, shape=np.array(w.shape, np.uint32))
        indices = Value(tensor(w.shape, "uint4"), idx, storage="blob")
        return mb.constexpr_lut_to_dense(indices=indices, lut=lut.reshape(1, 1, 1, 1, 16, 1))
    # int4-blockwise: symmetric int4 with one fp16 scale per BLOCK_SIZE input channels of each output channel.
    o, i = w.shape[:2]
    blocks = w.reshape(o, i // BLOCK_SIZE, BLOCK_SIZE)
    scale = np.maximum(np.abs(blocks).max(axis=2), 1e-8) / 7
    q = np.clip(np.rint(blocks / scale[:, :, None]), -7, 7).astype(np.int8).reshape(w.shape)
    return mb.constexpr_blockwise_shift_scale(
        data=Value(tensor(w.shape, "int4"), q, storage="blob"),
        scale=scale.astype(np.float16).reshape(o, i // BLOCK_SIZE, 1, 1),
    )
