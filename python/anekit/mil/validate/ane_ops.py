"""ANE rules about individual ops.

Target ``"ane"``. Facts come from docs/internals/mil-format.md §10 (per-op "ANE" notes), §11 (the rule table; rule
numbers are cited) and docs/internals/reference-numbers.md §6 (the SRAM cliff). **PROBE** rows of §11 (single or
contested reports) are warnings or infos, never errors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np

from ..diagnostics import Diagnostic
from ..ir import Function, Operation, Var
from ..ops._spec import OP_REGISTRY
from ._rules import Context, binding_type, is_runtime, known_value, rule

__all__ = [
    "ANE_DOCUMENTED_OPS",
    "CONV_REJECTED_INPUT_CHANNELS",
    "MATMUL_INNER_MULTIPLE",
]

#: conv with 32000 input channels is rejected (docs/internals/mil-format.md §11 rule 7).
CONV_REJECTED_INPUT_CHANNELS = 32000
#: matmul inner dimension must be a multiple of 32, else silent zeros (docs/internals/mil-format.md §11 rule 14).
MATMUL_INNER_MULTIPLE = 32

#: Ops used by programs that compiled and ran on the ANE according to the docs: the worked examples
#: (docs/internals/mil-format.md §8.1-8.6), the per-op ANE notes of §10, §11 and the E5 comparisons of §10.10.
ANE_DOCUMENTED_OPS = frozenset(
    {
        "const",
        "cast",  # §8.1 (not on M1/M2: ane-cast)
        "conv",  # §8.1, §10.1
        "matmul",  # §8.5, §10.1
        "linear",  # §10.1, §10.10 (const weights)
        "add",  # §8.3, §8.6
        "mul",  # §8.3
        "pow",  # §8.3
        "reduce_sum",  # §8.3
        "reduce_mean",  # §10.4 (PROBE: ane-reduce-mean)
        "reshape",  # §8.5
        "transpose",  # §8.5
        "slice_by_size",  # §8.5
        "slice_by_index",  # §10.5 (PROBE: ane-slice-by-index)
        "concat",  # §8.6, §11 rule 4
        "softmax",  # §8.6, §10.3
        "sigmoid",  # §10.3 (silu as mul(x, sigmoid(x)))
        "relu",  # §10.10 (E5)
        "gelu",  # §10.3, §10.10 (PROBE: ane-disputed-op)
        "rsqrt",  # §10.3 (PROBE: ane-disputed-op)
        "layer_norm",  # §10.4, §11 rule 3
        "identity",  # docs/internals/ane-private-api.md §14 (output through identity)
        "quantize",  # §8.4
        "dequantize",  # §8.4
        "constexpr_affine_dequantize",  # §7.4, §8.4
        "scaled_dot_product_attention",  # §10.6 (mask ignored: ane-sdpa-mask)
    }
)


def _first_int(value: object) -> int:
    """A const scalar (or the first element of a const array) as a Python int."""
    return int(np.asarray(value).reshape(-1)[0])


def _ops(ctx: Context, *types: str) -> Iterator[tuple[Function, Operation]]:
    for f in ctx.functions():
        for op in f.operations:
            if op.op_type in types:
                yield f, op


@rule(
    "ane-param-dtype",
    severity="warning",
    target="ane",
    source="docs/internals/mil-format.md §11 rule 3 and §10.4 (dev-erik E5 tests: layer_norm's epsilon must have the "
        "dtype of "
    "the normalisation parameters), §10.3 (iOS17 lets epsilon/alpha/beta have their own float dtype) and "
    "§7.2 (coremlc writes an fp16 program's epsilon as fp16)",
    summary="a float constant parameter of an op whose dtype differs from the dtype the op computes in",
)
def param_dtype(ctx: Context) -> Iterator[Diagnostic]:
    """The epsilon rule of §11 rule 3, extended to every float constant parameter (epsilon, alpha, beta,
    weights, biases ...) of every op: from iOS17 such parameters may have their own dtype, so an fp16 op can be
    handed fp32 constants (and fp32 weight blobs), which the ANE documentation never shows working. The
    compute dtype is that of the op's first run-time float input; inputs whose domain does not allow it are
    skipped (nothing else could be written there)."""
    for f in ctx.functions():
        for op in f.operations:
            if op.op_type.startswith("const"):
                continue
            spec = OP_REGISTRY.get(op.op_type)
            if spec is None or not spec.available_in(f.opset):
                continue  # reported by op-check
            compute = next(
                (
                    t.dtype
                    for b in op.inputs.values()
                    if is_runtime(b) and (t := binding_type(b)) is not None and t.dtype.is_float
                ),
                None,
            )
            if compute is None:
                continue
            domain = getattr(spec, "allowed_dtypes", None)
            for name, b in op.inputs.items():
                t = binding_type(b)
                if t is None or is_runtime(b) or not t.dtype.is_float or t.dtype == compute:
                    continue
                allowed = domain(name, f.opset) if callable(domain) else ()
                if allowed and compute.name not in allowed:
                    continue
                yield ctx.diag(
                    "ane-param-dtype",
                    f"[{op.op_type} '{op.name}'] {name} is a {t.dtype} constant while the op computes in "
                    f"{compute}; the ANE wants constant parameters in the op's dtype (layer_norm's epsilon "
                    "is documented to fail otherwise)",
                    f=f,
                    op=op,
                    hint=f"make {name} a {compute} const (the Builder does this for Python floats and float64 "
                    "arrays)",
                )


@rule(
    "ane-concat",
    severity="error",
    target="ane",
    source="docs/internals/mil-format.md §11 rule 4 and §10.5 (axis an int32 scalar const, interleave mandatory)",
    summary="concat without an explicit interleave input",
)
def concat(ctx: Context) -> Iterator[Diagnostic]:
    """The "axis is an int32 scalar" half of rule 4 is enforced by concat's op spec (rank-0 int32 axis) and
    reported by op-check; this rule adds the ANE-only requirement that interleave be given explicitly."""
    for f, op in _ops(ctx, "concat"):
        if "interleave" not in op.inputs:
            yield ctx.diag(
                "ane-concat",
                f"[concat '{op.name}'] has no interleave input; the ANE requires it",
                f=f,
                op=op,
                hint="pass interleave = false explicitly",
            )


@rule(
    "ane-sdpa-mask",
    severity="warning",
    target="ane",
    source="docs/internals/mil-format.md §10.6 and §11 rule 10 (maderix test_ane_sdpa5.m: attn_mask ignored, PROBE)",
    summary="scaled_dot_product_attention with an attn_mask (the ANE ignores it)",
)
def sdpa_mask(ctx: Context) -> Iterator[Diagnostic]:
    for f, op in _ops(ctx, "scaled_dot_product_attention"):
        if "attn_mask" in op.inputs:
            yield ctx.diag(
                "ane-sdpa-mask",
                f"[scaled_dot_product_attention '{op.name}'] has an attn_mask, which the ANE ignores "
                "(silently unmasked attention)",
                f=f,
                op=op,
                hint="spell masked attention out: matmul, scale, add mask, softmax, matmul (§8.6)",
            )


@rule(
    "ane-cast",
    severity="warning",
    target="ane",
    source="docs/internals/mil-format.md §10.3 and §11 rule 6; docs/internals/ane-private-api.md §14 (M1/M2 cannot run "
        "cast)",
    summary="cast ops (not supported by the M1/M2 ANE)",
)
def cast(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        casts = [op for op in f.operations if op.op_type == "cast"]
        if casts:
            yield ctx.diag(
                "ane-cast",
                f"function {f.name} has {len(casts)} cast op(s); the M1/M2 ANE cannot run cast (compile fails there)",
                f=f,
                op=casts[0],
                hint="use fp16 I/O and no casts for M1/M2 (dev-erik's fallback)",
            )


@rule(
    "ane-reduce-mean",
    severity="warning",
    target="ane",
    source="docs/internals/mil-format.md §10.4 and §11 rule 12 (hollance/neural-engine#44, PROBE)",
    summary="reduce_mean (reportedly not accepted in raw MIL text)",
)
def reduce_mean(ctx: Context) -> Iterator[Diagnostic]:
    for f, op in _ops(ctx, "reduce_mean"):
        yield ctx.diag(
            "ane-reduce-mean",
            f"[reduce_mean '{op.name}'] is reportedly not accepted by the ANE compiler in MIL text",
            f=f,
            op=op,
            hint="use reduce_sum followed by mul with 1/N (§8.3)",
        )


@rule(
    "ane-slice-by-index",
    severity="warning",
    target="ane",
    source="docs/internals/mil-format.md §10.5 and §11 rule 13 (hollance/neural-engine#44, PROBE)",
    summary="slice_by_index applied to a function input",
)
def slice_by_index(ctx: Context) -> Iterator[Diagnostic]:
    for f, op in _ops(ctx, "slice_by_index"):
        x = op.inputs.get("x")
        if isinstance(x, Var) and x.op is None:
            yield ctx.diag(
                "ane-slice-by-index",
                f"[slice_by_index '{op.name}'] slices function input {x.name!r}; this gave "
                "InvalidMILProgram together with RMSNorm + convs in one report",
                f=f,
                op=op,
                hint="use slice_by_size for static slices",
            )


@rule(
    "ane-softmax-axis",
    severity="warning",
    target="ane",
    source="docs/internals/mil-format.md §11 rule 9 (Espresso report vs a 32000-channel softmax that compiled, PROBE)",
    summary="softmax over an axis whose length is not a power of 2",
)
def softmax_axis(ctx: Context) -> Iterator[Diagnostic]:
    for f, op in _ops(ctx, "softmax"):
        x = binding_type(op.inputs.get("x"))
        axis = known_value(op, "axis")
        if x is None or x.rank == 0:
            continue
        a = -1 if axis is None and "axis" not in op.inputs else axis
        if a is None:
            continue
        a = _first_int(a)
        if not -x.rank <= a < x.rank:
            continue
        n = x.shape[a]
        if n is not None and n & (n - 1):
            yield ctx.diag(
                "ane-softmax-axis",
                f"[softmax '{op.name}'] runs over an axis of length {n} (not a power of 2); one report "
                "says this gives InvalidMILProgram, another compiled a 32000-wide softmax",
                f=f,
                op=op,
            )


@rule(
    "ane-disputed-op",
    severity="info",
    target="ane",
    source="docs/internals/mil-format.md §11 rule 16 (Orion says rejected; ANEForge and maderix emit them, PROBE)",
    summary="gelu, concat or rsqrt (their ANE support is disputed)",
)
def disputed_op(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        counts = Counter(op.op_type for op in f.operations if op.op_type in ("gelu", "concat", "rsqrt"))
        if counts:
            listed = ", ".join(f"{t} ×{n}" for t, n in sorted(counts.items()))
            yield ctx.diag(
                "ane-disputed-op",
                f"function {f.name} uses {listed}: one source says the ANE rejects them, others use them successfully",
                f=f,
            )


@rule(
    "ane-conv-bias",
    severity="info",
    target="ane",
    source="docs/internals/mil-format.md §11 rule 17 (whether conv(bias = …) compiles is unverified, PROBE)",
    summary="conv with a bias input",
)
def conv_bias(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        with_bias = [op for op in f.operations if op.op_type == "conv" and "bias" in op.inputs]
        if with_bias:
            yield ctx.diag(
                "ane-conv-bias",
                f"{len(with_bias)} conv op(s) of function {f.name} take a bias; ANE programs upstream "
                "add the bias separately and conv(bias=…) is unverified",
                f=f,
                op=with_bias[0],
                hint="if compilation fails, apply the bias with a separate add",
            )


@rule(
    "ane-matmul-inner",
    severity="warning",
    target="ane",
    source="docs/internals/mil-format.md §10.1 and §11 rule 14 (maderix/ANE#47: otherwise silent zeros); "
        "docs/internals/ane-private-api.md §15.1",
    summary="matmul whose inner (contracted) dimension is not a multiple of 32",
)
def matmul_inner(ctx: Context) -> Iterator[Diagnostic]:
    for f, op in _ops(ctx, "matmul"):
        x = binding_type(op.inputs.get("x"))
        tx = known_value(op, "transpose_x")
        if x is None or x.rank == 0 or (tx is None and "transpose_x" in op.inputs):
            continue
        k = x.shape[0] if x.rank == 1 else (x.shape[-2] if tx is not None and bool(tx) else x.shape[-1])
        if k is not None and k % MATMUL_INNER_MULTIPLE:
            yield ctx.diag(
                "ane-matmul-inner",
                f"[matmul '{op.name}'] contracts over {k}, not a multiple of {MATMUL_INNER_MULTIPLE}; "
                "reported to give silent zeros",
                f=f,
                op=op,
                hint=f"zero-pad the inner dimension to a multiple of {MATMUL_INNER_MULTIPLE}",
            )


@rule(
    "ane-runtime-grouped-conv",
    severity="error",
    target="ane",
    source="docs/internals/mil-format.md §10.1 and §11 rule 14; docs/internals/ane-private-api.md §15.1 "
        "(InvalidMILProgram, maderix/ANE#47)",
    summary="grouped or depthwise conv whose weight is a run-time tensor",
)
def runtime_grouped_conv(ctx: Context) -> Iterator[Diagnostic]:
    for f, op in _ops(ctx, "conv"):
        if not is_runtime(op.inputs.get("weight")):
            continue
        groups = known_value(op, "groups")
        g = None if groups is None else _first_int(groups)
        if g is not None and g > 1:
            yield ctx.diag(
                "ane-runtime-grouped-conv",
                f"[conv '{op.name}'] is grouped (groups = {g}) "
                "with a run-time weight; the ANE compiler rejects this (InvalidMILProgram)",
                f=f,
                op=op,
                hint="bake the weight as a const, or use groups = 1 / per-group matmuls",
            )


@rule(
    "ane-conv-input-channels",
    severity="error",
    target="ane",
    source="docs/internals/mil-format.md §11 rule 7 and §10.1 (conv with 32000 input channels is rejected; 32000 "
    "output channels compile)",
    summary="conv with 32000 or more input channels",
)
def conv_input_channels(ctx: Context) -> Iterator[Diagnostic]:
    for f, op in _ops(ctx, "conv"):
        x = binding_type(op.inputs.get("x"))
        if x is None or x.rank < 2 or x.shape[1] is None:
            continue
        if x.shape[1] >= CONV_REJECTED_INPUT_CHANNELS:
            yield ctx.diag(
                "ane-conv-input-channels",
                f"[conv '{op.name}'] has {x.shape[1]} input channels; a conv with "
                f"{CONV_REJECTED_INPUT_CHANNELS} input channels is rejected by the ANE",
                f=f,
                op=op,
                hint="use matmul with a baked [1, DIM, VOCAB] const, or transpose the problem so the "
                "large side is the output channels",
            )


@rule(
    "ane-unverified-op",
    severity="info",
    target="ane",
    source="docs/internals/mil-format.md §8 (worked examples), §10 (ANE notes), §11; docs/internals/ane-private-api.md "
        "§14",
    summary="op types no documented ANE program uses (they may be rejected by the ANE compiler)",
)
def unverified_op(ctx: Context) -> Iterator[Diagnostic]:
    for f in ctx.functions():
        counts = Counter(op.op_type for op in f.operations if op.op_type not in ANE_DOCUMENTED_OPS)
        if counts:
            listed = ", ".join(f"{t} ×{n}" for t, n in sorted(counts.items()))
            yield ctx.diag(
                "ane-unverified-op",
                f"function {f.name} uses ops with no documented ANE use: {listed}",
                f=f,
                hint="expect to probe these on device; the worked examples (docs/internals/mil-format.md §8) show the "
                    "known-good set",
            )
