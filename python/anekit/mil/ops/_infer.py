"""Pure shape and dtype arithmetic shared by the op specs (no context, no registry).

Every function here works on plain Python values: shapes are tuples whose entries are non-negative ints or
``None`` for an unknown (``?``) dimension. Problems raise :class:`InferError`; the op base class turns it into
a :class:`~anekit.errors.MILError` prefixed with the op name and its input types (``ctx.error``). The
reference executor may reuse these helpers directly.

Reference: docs/internals/mil-format.md §10 (op semantics) and coremltools' ``ops/defs/_utils.py`` rules.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..types import Dim

__all__ = [
    "FLOATS",
    "IOS17_INTS",
    "IOS17_NUMERIC_BOOL",
    "NUMERIC",
    "NUMERIC_BOOL",
    "InferError",
    "broadcast_shapes",
    "conv_output_dim",
    "conv_transpose_output_dim",
    "dims_equal",
    "fmt_shape",
    "merge_dim",
    "normalize_axes",
    "normalize_axis",
    "pool_output_dim",
    "prod",
    "promote_dtype",
    "same_padding",
    "slice_by_index_shape",
    "spatial_pads",
]

#: fp16 and fp32: the float domain of most ops (docs/internals/mil-format.md §10 "T ∈ {fp16, fp32}").
FLOATS: tuple[str, ...] = ("fp16", "fp32")
#: The iOS15 arithmetic domain (§10.2).
NUMERIC: tuple[str, ...] = ("fp16", "fp32", "int32")
#: The iOS15 domain of shape ops (reshape, transpose, concat ...).
NUMERIC_BOOL: tuple[str, ...] = ("fp16", "fp32", "int32", "bool")
#: Integer types iOS17 adds to many shape/index ops (coremltools iOS17 ``type_domains``).
IOS17_INTS: tuple[str, ...] = ("int8", "uint8", "int16", "uint16", "int32")
#: The iOS17 domain of shape ops: iOS15's plus the small integers.
IOS17_NUMERIC_BOOL: tuple[str, ...] = ("fp16", "fp32", *IOS17_INTS, "bool")


class InferError(ValueError):
    """A shape or dtype rule was violated; the message says what was expected."""


def _fmt(shape: Sequence[Dim]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def broadcast_shapes(a: Sequence[Dim], b: Sequence[Dim]) -> tuple[Dim, ...]:
    """NumPy broadcasting of two shapes with unknown dims.

    An unknown dim against a known ``n != 1`` yields ``n`` (the unknown must be 1 or ``n`` at run time);
    two unknowns yield unknown.

    Raises:
        InferError: two known dims differ and neither is 1.
    """
    rank = max(len(a), len(b))
    pa = (1,) * (rank - len(a)) + tuple(a)
    pb = (1,) * (rank - len(b)) + tuple(b)
    out: list[Dim] = []
    for i, (x, y) in enumerate(zip(pa, pb, strict=True)):
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None:
            out.append(y)
        elif y is None or x == y:
            out.append(x)
        else:
            raise InferError(f"shapes {_fmt(a)} and {_fmt(b)} do not broadcast (dim {i - rank}: {x} vs {y})")
    return tuple(out)


_PROMOTION_ORDER = ("bool", "uint8", "int8", "uint16", "int16", "int32", "fp16", "fp32")


def promote_dtype(a: str, b: str) -> str:
    """The common dtype of two element types (coremltools ``promoted_primitive_type``).

    Floats win over integers, wider wins over narrower. The builder uses this to pick the dtype of a
    Python-scalar operand; MIL ops themselves require equal dtypes for inputs sharing a type domain.

    Raises:
        InferError: one of the dtypes cannot be promoted (e.g. ``string``).
    """
    if a == b:
        return a
    try:
        ia, ib = _PROMOTION_ORDER.index(a), _PROMOTION_ORDER.index(b)
    except ValueError:
        raise InferError(f"dtypes {a} and {b} have no common type") from None
    return _PROMOTION_ORDER[max(ia, ib)]


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    """Map ``axis`` in ``[-rank, rank)`` to ``[0, rank)``.

    Raises:
        InferError: out of range.
    """
    if not -rank <= axis < rank:
        raise InferError(f"{what} {axis} out of range for rank {rank} (expected {-rank} <= {what} < {rank})")
    return axis + rank if axis < 0 else axis


def normalize_axes(axes: Sequence[int], rank: int, what: str = "axes") -> list[int]:
    """Normalise several axes, rejecting out-of-range and repeated entries (order preserved)."""
    out = [normalize_axis(int(a), rank, what) for a in axes]
    if len(set(out)) != len(out):
        raise InferError(f"{what} {list(axes)} repeat an axis (rank {rank})")
    return out


def conv_output_dim(size: Dim, kernel: Dim, stride: int, dilation: int, pad_before: int, pad_after: int) -> Dim:
    """``floor((D + pads − ((K−1)·dil + 1)) / stride) + 1`` (docs/internals/mil-format.md §10.1); ``None`` if unknown.

    Raises:
        InferError: the dilated kernel is larger than the padded input.
    """
    if size is None or kernel is None:
        return None
    eff = (kernel - 1) * dilation + 1
    padded = size + pad_before + pad_after
    if padded < eff:
        raise InferError(
            f"dilated kernel {eff} (kernel {kernel}, dilation {dilation}) is larger than the padded input "
            f"{padded} (size {size} + pads {pad_before}+{pad_after})"
        )
    return (padded - eff) // stride + 1


def same_padding(size: Dim, kernel: Dim, stride: int, dilation: int, lower: bool) -> tuple[int, int] | None:
    """Before/after pads of ``same`` (``lower=False``) or ``same_lower`` padding (docs/internals/mil-format.md §10.1).

    ``out = ceil(D/s)``, ``total = max(0, (out−1)·s + dk − D)``; ``same`` puts the extra pad after,
    ``same_lower`` before. Returns None when the size or kernel is unknown.
    """
    if size is None or kernel is None:
        return None
    out = -(-size // stride)
    eff = (kernel - 1) * dilation + 1
    total = max(0, (out - 1) * stride + eff - size)
    small = total // 2
    return (small, total - small) if not lower else (total - small, small)


def spatial_pads(
    pad_type: str,
    sizes: Sequence[Dim],
    kernels: Sequence[Dim],
    strides: Sequence[int],
    dilations: Sequence[int],
    pad: Sequence[int] | None,
) -> list[tuple[int, int] | None]:
    """Per spatial dim ``(before, after)`` pads for a conv/pool ``pad_type``; None entries are unknown.

    Raises:
        InferError: unknown pad_type or a ``custom`` pad of the wrong length.
    """
    n = len(sizes)
    if pad_type == "valid":
        return [(0, 0)] * n
    if pad_type == "custom":
        if pad is None:
            return [None] * n
        if len(pad) != 2 * n:
            raise InferError(f"pad must have 2*{n} = {2 * n} entries for custom padding, got {len(pad)}")
        if any(p < 0 for p in pad):
            raise InferError(f"pad entries must be >= 0, got {list(pad)}")
        return [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(n)]
    if pad_type in ("same", "same_lower"):
        return [
            same_padding(sizes[i], kernels[i], strides[i], dilations[i], pad_type == "same_lower") for i in range(n)
        ]
    raise InferError(f"pad_type must be one of valid, same, same_lower, custom; got {pad_type!r}")


def pool_output_dim(
    size: Dim,
    kernel: int,
    stride: int,
    pads: tuple[int, int] | None,
    ceil_mode: bool,
    dilation: int = 1,
) -> Dim:
    """Pooling (or conv) output size with optional ``ceil_mode`` (coremltools ``spatial_dimensions_out_shape``).

    Floor mode: ``floor((D + P − K) / s) + 1``. Ceil mode: ``ceil((D + P − K) / s) + 1``, minus one when the
    last window would start at or beyond ``D + P/2`` and there is padding (the rule coremltools applies).

    Raises:
        InferError: the output size is not positive.
    """
    if size is None or pads is None:
        return None
    total = pads[0] + pads[1]
    eff = (kernel - 1) * dilation + 1
    if ceil_mode:
        out = (size + total - eff + stride - 1) // stride + 1
        if (out - 1) * stride >= size + total / 2 and total > 0:
            out -= 1
    else:
        out = (size + total - eff) // stride + 1
    if out <= 0:
        raise InferError(
            f"output size {out} is not positive (input {size}, pads {total}, kernel {eff}, stride {stride})"
        )
    return out


def conv_transpose_output_dim(size: Dim, kernel: Dim, stride: int, dilation: int, pads: tuple[int, int] | None) -> Dim:
    """``stride·(D−1) + (K−1)·dil + 1 − pad_before − pad_after`` (coremltools conv_transpose)."""
    if size is None or kernel is None or pads is None:
        return None
    out = stride * (size - 1) + (kernel - 1) * dilation + 1 - pads[0] - pads[1]
    if out <= 0:
        raise InferError(f"conv_transpose output size {out} is not positive (input {size}, kernel {kernel})")
    return out


def slice_by_index_shape(
    shape: Sequence[Dim],
    begin: Sequence[int] | None,
    end: Sequence[int] | None,
    stride: Sequence[int],
    begin_mask: Sequence[bool],
    end_mask: Sequence[bool],
    squeeze_mask: Sequence[bool],
) -> tuple[Dim, ...]:
    """Output shape of ``slice_by_index`` (numpy slicing per axis; docs/internals/mil-format.md §10.5).

    ``begin``/``end`` may be None (not const): then an axis is known only when both its masks cover it.

    Raises:
        InferError: zero stride, or a squeezed axis whose index is out of range.
    """
    out: list[Dim] = []
    for i, n in enumerate(shape):
        s = int(stride[i])
        if s == 0:
            raise InferError(f"stride[{i}] is 0")
        if squeeze_mask[i]:
            if begin is not None and n is not None:
                b = int(begin[i])
                if not -n <= b < n:
                    raise InferError(f"squeezed index begin[{i}] = {b} out of range for dim {n}")
            continue
        b: int | None = None if begin_mask[i] else (None if begin is None else int(begin[i]))
        e: int | None = None if end_mask[i] else (None if end is None else int(end[i]))
        if (not begin_mask[i] and begin is None) or (not end_mask[i] and end is None):
            out.append(None)
            continue
        if n is None:
            # The slice length depends on the unknown dim (even a full slice: it *is* the unknown dim).
            out.append(None)
            continue
        out.append(len(range(*slice(b, e, s).indices(n))))
    return tuple(out)


def dims_equal(a: Dim, b: Dim) -> bool:
    """True unless both dims are known and differ (unknown is compatible with anything)."""
    return a is None or b is None or a == b


def merge_dim(a: Dim, b: Dim) -> Dim:
    """The known one of two compatible dims (None if both unknown)."""
    return a if a is not None else b


def fmt_shape(shape: Sequence[Dim]) -> str:
    """``[1, ?, 64]`` rendering of a shape for messages."""
    return _fmt(shape)


def prod(dims: Sequence[Dim]) -> int | None:
    """Product of dims, None if any is unknown."""
    n = 1
    for d in dims:
        if d is None:
            return None
        n *= d
    return n
