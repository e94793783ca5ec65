"""Weights kept compressed in the program: GGUF blocks expressed with MIL's iOS18 ``constexpr_*`` ops.

A :class:`QuantizedWeight` is a ``[out, in]`` projection stored as blocks of 32 along the input axis (llama.cpp's
``QK = 32``), emitted as one decompression op whose fp16 output feeds the 1x1 conv, so the weight file holds the
compressed data and the decompression happens when the program is compiled or loaded (coremltools' iOS18
``compression.py``: "not constant-folded ... decompressed later, at model load time or runtime").

Each format is expressed *exactly*: the op's fp16 result equals, bit for bit, llama.cpp's float32 dequantization
(``gguf.quants.dequantize``) rounded to fp16 — what baking the dequantized weight as fp16 gives.

* ``Q4_0`` (fp16 ``d``, 32 x 4-bit ``q``; ``w = d * (q - 8)``): ``constexpr_blockwise_shift_scale`` with uint4
  data, fp16 scale ``d`` and uint4 offset 8. ``d * (q - 8)`` has at most 15 significant bits, so float32 holds
  it exactly whatever the op's internal precision. 4.5 bits per weight.
* ``Q8_0`` (fp16 ``d``, 32 x int8 ``q``; ``w = d * q``): ``constexpr_blockwise_shift_scale`` with int8 data and
  fp16 scale, no offset (19 significant bits: exact in float32). 8.5 bits per weight.
* ``Q4_1`` (fp16 ``d`` and ``m``, 32 x 4-bit ``q``; ``w = d * q + m``): ``constexpr_lut_to_dense`` with uint4
  indices and one 16-entry fp16 table per block, ``lut[k] = fp16(d * k + m)``. The shift-scale form would need
  the fp16 offset ``-m / d``, which is rarely representable: on SmolLM2-135M's Q4_1 file 98% of the blocks come
  out different in at least one weight's last fp16 bit for every offset near ``-m / d``. The table costs 12 bits
  per weight (75% of fp16) instead of 5, and is exact.

Other GGUF types (K-quants, F16, F32, ...) are dequantized to fp16 by the loader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import MILError
from ..mil import Builder, Var, tensor
from ..mil.ops._spec import opset_index
from ..mil.values import Value

__all__ = ["BLOCK", "QUANTIZED_FORMATS", "QuantizedWeight"]

#: Weights per block in every llama.cpp ``Q*_0`` / ``Q*_1`` format (``QK4_0 = QK4_1 = QK8_0 = 32``).
BLOCK = 32
#: GGUF tensor types :meth:`QuantizedWeight.from_gguf_blocks` keeps compressed, with their bytes per block.
QUANTIZED_FORMATS: dict[str, int] = {"Q4_0": 2 + BLOCK // 2, "Q4_1": 4 + BLOCK // 2, "Q8_0": 2 + BLOCK}


def _nibbles(qs: np.ndarray) -> np.ndarray:
    """llama.cpp's 4-bit order: byte ``j`` holds weight ``j`` in its low nibble and weight ``j + 16`` in its high
    nibble (``dequantize_row_q4_0`` in ggml-quants.c)."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


@dataclass(frozen=True, eq=False)
class QuantizedWeight:
    """A ``[out, in]`` weight kept compressed (see the module docstring for the formats).

    Attributes:
        source: the GGUF type it came from (``"Q4_0"``, ``"Q4_1"`` or ``"Q8_0"``).
        codes: ``[out, in]`` uint8 (4-bit values 0..15) or int8 (Q8_0).
        scale: ``[out, in / 32]`` fp16 block scales (Q4_0, Q8_0), else None.
        lut: ``[out, in / 32, 16]`` fp16 block tables (Q4_1), else None.
    """

    source: str
    codes: np.ndarray
    scale: np.ndarray | None = None
    lut: np.ndarray | None = None

    def __post_init__(self) -> None:
        name = "QuantizedWeight"
        if self.source not in QUANTIZED_FORMATS:
            raise ValueError(f"{name}: source must be one of {sorted(QUANTIZED_FORMATS)}, got {self.source!r}")
        if self.codes.ndim != 2 or self.codes.shape[1] % BLOCK:
            raise ValueError(f"{name}: codes must be [out, in] with in a multiple of {BLOCK}, got {self.codes.shape}")
        want = np.dtype(np.int8 if self.source == "Q8_0" else np.uint8)
        if self.codes.dtype != want:
            raise ValueError(f"{name}: {self.source} codes must be {want}, got {self.codes.dtype}")
        if self.source != "Q8_0" and self.codes.size and self.codes.max() > 15:
            raise ValueError(f"{name}: {self.source} codes must be 4-bit values (0..15)")
        blocks = (self.codes.shape[0], self.codes.shape[1] // BLOCK)
        if self.source == "Q4_1":
            label, table, other, shape = "lut", self.lut, self.scale, (*blocks, 16)
        else:
            label, table, other, shape = "scale", self.scale, self.lut, blocks
        if table is None or other is not None or table.shape != shape or table.dtype != np.float16:
            raise ValueError(f"{name}: {self.source} takes an fp16 {label} of shape {shape} and nothing else")

    # -- construction -----------------------------------------------------------------------------------------
    @classmethod
    def from_gguf_blocks(cls, source: str, raw: np.ndarray, shape: tuple[int, int]) -> QuantizedWeight:
        """From a GGUF tensor's raw bytes (``ReaderTensor.data``) of type ``source`` and shape ``[out, in]``."""
        if source not in QUANTIZED_FORMATS:
            raise ValueError(f"from_gguf_blocks: {source!r} is not one of {sorted(QUANTIZED_FORMATS)}")
        out, inp = (int(s) for s in shape)
        size = QUANTIZED_FORMATS[source]
        data = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1)
        if inp % BLOCK or data.size != out * inp // BLOCK * size:
            raise ValueError(
                f"QuantizedWeight.from_gguf_blocks: {data.size} bytes are not [{out}, {inp}] in {source} blocks of "
                f"{BLOCK} ({size} bytes each)"
            )
        blocks = data.reshape(out, inp // BLOCK, size)
        d = blocks[..., 0:2].copy().view(np.float16)[..., 0]
        if source == "Q8_0":
            return cls(source, blocks[..., 2:].copy().view(np.int8).reshape(out, inp), scale=d)
        first = 2 if source == "Q4_0" else 4
        codes = _nibbles(blocks[..., first:]).reshape(out, inp)
        if source == "Q4_0":
            return cls(source, codes, scale=d)
        m = blocks[..., 2:4].copy().view(np.float16)[..., 0]
        # llama.cpp's float32 d * q + m for every code k, rounded once to fp16 (gguf-py dequantize_blocks, Q4_1).
        k = np.arange(16, dtype=np.float32)
        lut = (d.astype(np.float32)[..., None] * k + m.astype(np.float32)[..., None]).astype(np.float16)
        return cls(source, codes, lut=lut)

    # -- shape and values -------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.codes.shape[0]), int(self.codes.shape[1]))

    @property
    def nbytes(self) -> int:
        """Bytes of the compressed operands in a weight file (4-bit codes packed two per byte)."""
        code_bytes = self.codes.size if self.source == "Q8_0" else -(-self.codes.size // 2)
        table = self.lut if self.lut is not None else self.scale
        assert table is not None
        offsets = self.codes.shape[0] * (self.codes.shape[1] // BLOCK) // 2 if self.source == "Q4_0" else 0
        return code_bytes + table.nbytes + offsets

    def dequantize(self) -> np.ndarray:
        """The fp16 ``[out, in]`` weight the decompression op produces."""
        if self.lut is not None:
            blocks = np.arange(self.codes.shape[1]) // BLOCK
            return self.lut[np.arange(self.codes.shape[0])[:, None], blocks[None, :], self.codes]
        assert self.scale is not None
        q = self.codes.astype(np.float32) - (8.0 if self.source == "Q4_0" else 0.0)
        return (np.repeat(self.scale.astype(np.float32), BLOCK, axis=1) * q).astype(np.float16)

    def take_rows(self, rows: np.ndarray | Sequence[int] | slice) -> QuantizedWeight:
        """The weight with its output rows selected (blocks run along the input axis, so rows are whole)."""
        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.ascontiguousarray(a[rows])

        return QuantizedWeight(self.source, self.codes[rows], scale=pick(self.scale), lut=pick(self.lut))

    @classmethod
    def concat_rows(cls, parts: Sequence[QuantizedWeight]) -> QuantizedWeight:
        """Stack weights of one format along the output axis (e.g. SwiGLU's gate and up)."""
        if not parts or len({p.source for p in parts}) != 1 or len({p.shape[1] for p in parts}) != 1:
            raise ValueError("QuantizedWeight.concat_rows: needs one or more weights of one format and input width")
        def cat(name: str) -> np.ndarray | None:
            arrays = [getattr(p, name) for p in parts]
            return None if arrays[0] is None else np.concatenate(arrays)

        return cls(parts[0].source, np.concatenate([p.codes for p in parts]), scale=cat("scale"), lut=cat("lut"))

    # -- MIL --------------------------------------------------------------------------------------------------
    def emit(self, mb: Builder, *, name: str = "weight") -> Var:
        """The decompression op for a 1x1 conv weight: an fp16 ``[out, in, 1, 1]`` Var.

        Raises:
            MILError: the builder's opset is older than ios18 (the iOS18 forms of both ops are used), naming
                ``name``.
        """
        if opset_index(mb.opset) < opset_index("ios18"):
            raise MILError(
                f"{name}: a {self.source} weight kept quantized needs opset ios18 (iOS18 constexpr ops), the program "
                f"is {mb.opset}; pass the dequantized weight (QuantizedWeight.dequantize()) instead"
            )
        out, inp = self.shape
        nb = inp // BLOCK

        def const(data: np.ndarray, dtype: str) -> Var:
            return mb.const(Value(tensor(data.shape, dtype), data, storage="blob"))

        if self.lut is not None:
            return mb.constexpr_lut_to_dense(
                indices=const(self.codes.reshape(out, inp, 1, 1), "uint4"),
                lut=const(self.lut.reshape(out, nb, 1, 1, 16, 1), "fp16"),
            )
        assert self.scale is not None
        scale = const(self.scale.reshape(out, nb, 1, 1), "fp16")
        if self.source == "Q8_0":
            return mb.constexpr_blockwise_shift_scale(
                data=const(self.codes.reshape(out, inp, 1, 1), "int8"), scale=scale
            )
        return mb.constexpr_blockwise_shift_scale(
            data=const(self.codes.reshape(out, inp, 1, 1), "uint4"),
            scale=scale,
            offset=const(np.full((out, nb, 1, 1), 8, np.uint8), "uint4"),
        )
