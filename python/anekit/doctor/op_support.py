"""The op support matrix: every registered MIL op compiled in a minimal program, run on the device and checked
against the reference executor.

Support differs by OS: Orion (docs/ane_constraints.md #1/#10) saw ``concat`` and ``gelu`` rejected where the
seed's table had them verified (docs/internals/ane-private-api.md §25.2). One compile per op is more than one process's
budget (~119, §16), so the programs go through the recycling worker pool (:mod:`anekit.runtime.pool`), which
moves to a fresh worker process when one runs out. The matrix is saved with the doctor's report and
:func:`anekit.mil.validate` warns when a program uses an op that failed on this machine.

Each program has fp16 inputs of the known-good probe shape ``[1, 768, 1, 32]`` (49,152 bytes): ``x`` with
values in ``(0.1, 0.9)`` so every unary op is inside its domain, and ``y`` in ``(0.5, 1.5)`` only for ops that
need a second tensor; its one output ``out`` is cast to fp16 when the op gives bools or ints. Ops without a
minimal program (state, constexpr weights, shape-producing ops, ...) are listed as untested with the reason,
never as supported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import mil
from ..mil.ops import OP_REGISTRY, opset_index
from .programs import GOOD_C, GOOD_S

__all__ = ["OpOutcome", "op_support_matrix", "sample_program"]

SHAPE = (1, GOOD_C, 1, GOOD_S)
_F16 = np.float16

#: Values for required const inputs, by MIL input name (the minimal choice that keeps the output [1, C, 1, S]
#: or a reduction of it).
_CONST_INPUTS: dict[str, Any] = {
    "axes": np.array([1], np.int32),
    "axis": np.int32(1),
    "keep_dims": True,
    "alpha": _F16(0.5),
    "beta": _F16(0.25),
    "dtype": "fp16",
}


def _linear_weight(c: int) -> np.ndarray:
    return (np.eye(c) * 0.5 + 0.01).astype(_F16)


_AXIS0 = np.array([0], np.int32)
_AXIS2 = np.array([2], np.int32)


def _pool(kind: str) -> Callable[[mil.Builder, mil.Var, mil.Var | None], Any]:
    """A 1 x 2 window, stride 2 pooling op along S."""
    pair = np.array([1, 2], np.int32)
    return lambda mb, x, y: getattr(mb, kind)(x=x, kernel_sizes=pair, strides=pair, pad_type="valid")


#: Hand-written minimal programs for ops whose inputs no generic rule fills: op -> body(mb, x, y).
_SPECIAL: dict[str, Callable[[mil.Builder, mil.Var, mil.Var | None], Any]] = {
    "conv": lambda mb, x, y: mb.conv(x=x, weight=_linear_weight(GOOD_C).reshape(GOOD_C, GOOD_C, 1, 1)),
    "matmul": lambda mb, x, y: mb.matmul(x=x, y=mb.transpose(x=y, perm=np.array([0, 1, 3, 2], np.int32))),
    "linear": lambda mb, x, y: mb.transpose(
        x=mb.linear(x=mb.transpose(x=x, perm=np.array([0, 2, 3, 1], np.int32)), weight=_linear_weight(GOOD_C)),
        perm=np.array([0, 3, 1, 2], np.int32),
    ),
    "concat": lambda mb, x, y: mb.concat(values=(x, y), axis=np.int32(1), interleave=False),
    "softmax": lambda mb, x, y: mb.softmax(x=x, axis=np.int32(1)),
    "layer_norm": lambda mb, x, y: mb.layer_norm(x=x, axes=np.array([1], np.int32), epsilon=_F16(1e-5)),
    "transpose": lambda mb, x, y: mb.transpose(x=x, perm=np.array([0, 3, 2, 1], np.int32)),
    "reshape": lambda mb, x, y: mb.reshape(x=x, shape=np.array([1, GOOD_C // 2, 1, 2 * GOOD_S], np.int32)),
    "slice_by_size": lambda mb, x, y: mb.slice_by_size(
        x=x, begin=np.array([0, 0, 0, 0], np.int32), size=np.array([1, GOOD_C // 2, 1, GOOD_S], np.int32)
    ),
    "slice_by_index": lambda mb, x, y: mb.slice_by_index(
        x=x, begin=np.array([0, 0, 0, 0], np.int32), end=np.array([1, GOOD_C // 2, 1, GOOD_S], np.int32)
    ),
    "split": lambda mb, x, y: mb.split(x=x, num_splits=np.int32(2), axis=np.int32(1))[0],
    "scaled_dot_product_attention": lambda mb, x, y: mb.scaled_dot_product_attention(
        query=mb.reshape(x=x, shape=np.array([1, 12, GOOD_S, 64], np.int32)),
        key=mb.reshape(x=y, shape=np.array([1, 12, GOOD_S, 64], np.int32)),
        value=mb.reshape(x=x, shape=np.array([1, 12, GOOD_S, 64], np.int32)),
    ),
    "clip": lambda mb, x, y: mb.clip(x=x, alpha=_F16(0.25), beta=_F16(0.75)),
    "select": lambda mb, x, y: mb.select(cond=mb.greater(x=x, y=y), a=x, b=y),
    "batch_norm": lambda mb, x, y: mb.batch_norm(
        x=x, mean=np.full(GOOD_C, 0.5, _F16), variance=np.full(GOOD_C, 0.25, _F16), epsilon=_F16(1e-5)
    ),
    "instance_norm": lambda mb, x, y: mb.instance_norm(x=x, epsilon=_F16(1e-5)),
    "cast": lambda mb, x, y: mb.cast(x=mb.cast(x=x, dtype="fp32"), dtype="fp16"),
    "tile": lambda mb, x, y: mb.tile(x=x, reps=np.array([1, 1, 1, 2], np.int32)),
    "pad": lambda mb, x, y: mb.pad(x=x, pad=np.array([0, 0, 0, 0, 0, 0, 0, 32], np.int32)),
    "expand_dims": lambda mb, x, y: mb.squeeze(x=mb.expand_dims(x=x, axes=_AXIS0), axes=_AXIS0),
    "squeeze": lambda mb, x, y: mb.expand_dims(x=mb.squeeze(x=x, axes=_AXIS2), axes=_AXIS2),
    "avg_pool": _pool("avg_pool"),
    "max_pool": _pool("max_pool"),
    "l2_pool": _pool("l2_pool"),
    "const": lambda mb, x, y: mb.add(x=x, y=np.linspace(0, 1, GOOD_C * GOOD_S).astype(_F16).reshape(SHAPE)),
    "logical_and": lambda mb, x, y: mb.logical_and(x=mb.greater(x=x, y=y), y=mb.less(x=x, y=_F16(0.5))),
    "logical_or": lambda mb, x, y: mb.logical_or(x=mb.greater(x=x, y=y), y=mb.less(x=x, y=_F16(0.5))),
    "logical_xor": lambda mb, x, y: mb.logical_xor(x=mb.greater(x=x, y=y), y=mb.less(x=x, y=_F16(0.5))),
    "logical_not": lambda mb, x, y: mb.logical_not(x=mb.greater(x=x, y=y)),
    "prelu": lambda mb, x, y: mb.prelu(x=mb.sub(x=x, y=y), alpha=np.full(GOOD_C, 0.25, _F16)),
    "softplus_parametric": lambda mb, x, y: mb.softplus_parametric(
        x=x, alpha=np.full(GOOD_C, 0.5, _F16), beta=np.full(GOOD_C, 2.0, _F16)
    ),
    "stack": lambda mb, x, y: mb.stack(values=(x, y), axis=np.int32(0)),
    "gather": lambda mb, x, y: mb.gather(x=x, indices=np.arange(GOOD_C - 1, -1, -1, dtype=np.int32), axis=np.int32(1)),
    "local_response_norm": lambda mb, x, y: mb.local_response_norm(x=x, size=np.int32(5)),
    "conv_transpose": lambda mb, x, y: mb.conv_transpose(
        x=x, weight=_linear_weight(GOOD_C).reshape(GOOD_C, GOOD_C, 1, 1)
    ),
    "space_to_depth": lambda mb, x, y: mb.space_to_depth(
        x=mb.reshape(x=x, shape=np.array([1, GOOD_C, 2, GOOD_S // 2], np.int32)), block_size=np.int32(2)
    ),
    "depth_to_space": lambda mb, x, y: mb.depth_to_space(x=x, block_size=np.int32(2)),
    "pixel_shuffle": lambda mb, x, y: mb.pixel_shuffle(x=x, upscale_factor=np.int32(2)),
    "pixel_unshuffle": lambda mb, x, y: mb.pixel_unshuffle(
        x=mb.reshape(x=x, shape=np.array([1, GOOD_C, 2, GOOD_S // 2], np.int32)), downscale_factor=np.uint32(2)
    ),
}


def _feeds() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "x": rng.uniform(0.1, 0.9, SHAPE).astype(_F16),
        "y": rng.uniform(0.5, 1.5, SHAPE).astype(_F16),
    }


#: Optional inputs filled anyway: a reduction over every axis would leave a scalar, which no surface carries.
_FILLED_OPTIONAL = frozenset({"axes", "keep_dims"})


def _generic(op: str, mb: mil.Builder, x: mil.Var, y: mil.Var | None) -> Any:
    """Fill the op's required inputs: ``x`` and ``y`` are the run-time tensors, the rest from _CONST_INPUTS."""
    kwargs: dict[str, Any] = {}
    for inp in OP_REGISTRY[op].inputs:
        if inp.min_opset is not None and opset_index(inp.min_opset) > opset_index("ios18"):
            continue
        if inp.optional and inp.name not in _FILLED_OPTIONAL:
            continue
        if inp.name in ("x", "y") and not inp.const:
            kwargs[inp.name] = x if inp.name == "x" else y
        elif inp.name in _CONST_INPUTS:
            kwargs[inp.name] = _CONST_INPUTS[inp.name]
        elif not inp.optional:
            raise ValueError(f"no minimal value for its required input {inp.name!r}")
    if kwargs.get("y", x) is None:
        raise ValueError("it needs a second run-time tensor y")
    return getattr(mb, op)(**kwargs)


def _build(op: str, names: tuple[str, ...]) -> mil.Program:
    body = _SPECIAL.get(op)

    def build(mb: mil.Builder, x: mil.Var, y: mil.Var | None = None) -> dict[str, mil.Var]:
        out = body(mb, x, y) if body is not None else _generic(op, mb, x, y)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if out.type.dtype.name != "fp16":  # bool and int results leave through an fp16 surface
            out = mb.cast(x=out, dtype="fp16")
        return {"out": out}

    return mil.program(inputs={n: mil.tensor(SHAPE, "fp16") for n in names}, opset="ios18")(build)


def sample_program(op: str) -> tuple[mil.Program | None, str]:
    """A minimal ios18 program exercising ``op`` on input ``x`` (and ``y`` when the op needs a second tensor),
    both ``SHAPE`` fp16, with one output ``out``; or None and why there is none."""
    if op not in OP_REGISTRY:
        raise ValueError(f"sample_program: {op!r} is not a registered MIL op")
    if not OP_REGISTRY[op].available_in("ios18"):
        return None, "not available in ios18"
    try:
        try:
            return _build(op, ("x",)), ""
        except (AttributeError, TypeError, ValueError):  # the op needs y (a MILError is a ValueError)
            return _build(op, ("x", "y")), ""
    except Exception as exc:  # any builder refusal means "no minimal program", reported as such
        return None, f"no minimal program: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}"


@dataclass(frozen=True)
class OpOutcome:
    """One op's row of the matrix: ``status`` is ``"passed"``, ``"failed"`` or ``"untested"``."""

    op: str
    status: str
    detail: str = ""


def _run_one(pool: Any, op: str, program: mil.Program, feeds: Mapping[str, np.ndarray]) -> OpOutcome:
    from ..errors import AnekitError, AneUnavailableError, MILError
    from ..reference.executor import Executor
    from ..runtime.verify import _compare

    feeds = {name: feeds[name] for name in program.functions["main"].inputs}
    try:
        with pool.compile(program, backend="ane", cache=False) as kernel:
            got = kernel(feeds)
    except AneUnavailableError:
        raise  # no framework: the matrix would say nothing about any op
    except MILError as exc:  # anekit refused the program before the framework saw it: says nothing about the op
        return OpOutcome(op, "untested", f"anekit refuses the sample: {' '.join(str(exc).split())[:200]}")
    except AnekitError as exc:
        return OpOutcome(op, "failed", f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
    ref = Executor(program, precision="ane")(feeds)
    cmp = _compare("out", got["out"], ref["out"], 2**-7, 2**-9, 0.999)
    if cmp.passed:
        return OpOutcome(op, "passed")
    if not np.any(got["out"]) and np.any(ref["out"]):
        return OpOutcome(op, "failed", "all-zero output")
    return OpOutcome(op, "failed", f"wrong numbers: max abs error {cmp.max_abs_error:.3g}, cosine {cmp.cosine:.5f}")


def op_support_matrix(
    ops: Iterable[str] | None = None,
    *,
    worker_context: tuple[str, str, dict[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Compile and check a minimal program per op through a recycling worker pool.

    Args:
        ops: the ops to try (default: every registered op).
        worker_context: what each worker enters for its life (``("anekit.testing", "fake_ane", {...})`` for
            the fake framework); None for the system framework.
        progress: called with a short message per op.

    Returns:
        ``{"passed": [...], "failed": {op: reason}, "untested": {op: reason}, "workers_started": n,
        "recycles": n}``.

    Raises:
        ValueError: an unregistered op name.
        AneUnavailableError: the ANE backend is not usable (the matrix would say nothing about any op).
    """
    from ..runtime.pool import WorkerPool

    names: Sequence[str] = sorted(OP_REGISTRY) if ops is None else list(ops)
    unknown = [n for n in names if n not in OP_REGISTRY]
    if unknown:
        raise ValueError(f"op_support_matrix: not registered MIL ops: {unknown}")
    feeds = _feeds()
    outcomes: list[OpOutcome] = []
    with WorkerPool(worker_context=worker_context) as pool:
        for i, op in enumerate(names):
            if progress is not None:
                progress(f"op {i + 1}/{len(names)}: {op}")
            program, why = sample_program(op)
            outcomes.append(OpOutcome(op, "untested", why) if program is None else _run_one(pool, op, program, feeds))
        stats = pool.snapshot()
    return {
        "passed": [o.op for o in outcomes if o.status == "passed"],
        "failed": {o.op: o.detail for o in outcomes if o.status == "failed"},
        "untested": {o.op: o.detail for o in outcomes if o.status == "untested"},
        "workers_started": stats.workers_started,
        "recycles": stats.recycles,
    }
