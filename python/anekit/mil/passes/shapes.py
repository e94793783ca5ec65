"""Pin flexible input shapes so a program compiles as a static one.

Flexible bundles describe their allowed shapes in the ``FlexibleShapeInformation`` function attribute
(docs/internals/mil-format.md §7.6): ``DefaultShapes`` (one shape per input), ``RangeDims`` (a ``[min, max]`` pair per
dimension) and ``EnumeratedShapes`` (named sets of input shapes). The ANE compiles static shapes only, so the
inputs are fixed here, every op's output type is inferred again from the pinned inputs, and the attribute is
dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import MILError
from ..check import infer_op, types_compatible
from ..infer_memo import InferMemo
from ..ir import Function, Program
from ..ops._spec import OP_REGISTRY, OPSETS
from ..types import TensorType
from .fold import fold_static

__all__ = ["FLEXIBLE_SHAPES", "ShapeChoice", "flexible_shapes", "pin_shapes"]

#: The function attribute holding the flexible-shape description (§7.6).
FLEXIBLE_SHAPES = "FlexibleShapeInformation"

#: ``{"x": (1, 128)}``; ``"default"`` (the bundle's default shapes); an int or a key picking one of the
#: bundle's enumerated shape sets.
ShapeChoice = Mapping[str, Sequence[int]] | str | int


def flexible_shapes(f: Function) -> dict[str, Any]:
    """``{"DefaultShapes": {...}, "RangeDims": {...}, "EnumeratedShapes": {...}}`` from ``f``'s attribute.

    Shapes are tuples of ints; ranges are lists of ``(min, max)``; absent sections are absent keys.
    """
    attr = f.attributes.get(FLEXIBLE_SHAPES)
    if attr is None:
        return {}
    out: dict[str, Any] = {}
    try:
        for section, table in attr.data:
            if section == "RangeDims":
                out[section] = {k: [tuple(int(x) for x in r) for r in v] for k, v in table.items()}
            elif section == "EnumeratedShapes":
                out[section] = {key: {k: _shape(v) for k, v in s.items()} for key, s in table.items()}
            else:
                out[section] = {k: _shape(v) for k, v in table.items()}
    except (TypeError, ValueError, AttributeError) as exc:
        raise MILError(f"function {f.name!r}: malformed {FLEXIBLE_SHAPES} attribute ({exc})") from exc
    return out


def _shape(v: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in np.asarray(v).reshape(-1))


def _resolve(f: Function, choice: ShapeChoice, info: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    enumerated = info.get("EnumeratedShapes", {})
    if isinstance(choice, str):
        if choice == "default":
            if "DefaultShapes" not in info:
                raise MILError(f"function {f.name!r} declares no default shapes; pass shapes={{name: shape}}")
            return dict(info["DefaultShapes"])
        if choice not in enumerated:
            raise MILError(
                f"function {f.name!r} has no enumerated shape set {choice!r}; "
                f"choose one of {sorted(enumerated) or 'none (the bundle has no enumerated shapes)'} or 'default'"
            )
        return dict(enumerated[choice])
    if isinstance(choice, (int, np.integer)) and not isinstance(choice, bool):
        keys = list(enumerated)
        if not 0 <= choice < len(keys):
            raise MILError(
                f"enumerated shape index {choice} is out of range: function {f.name!r} has {len(keys)} "
                f"enumerated shape sets" + (f" ({', '.join(f'{i}: {enumerated[k]}' for i, k in enumerate(keys))})")
            )
        return dict(enumerated[keys[int(choice)]])
    if isinstance(choice, Mapping):
        out = {}
        for name, shape in choice.items():
            if not isinstance(shape, (Sequence, np.ndarray)) or isinstance(shape, str):
                raise MILError(f"shape for input {name!r} must be a sequence of ints, got {shape!r}")
            dims = tuple(shape)
            if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in dims):
                raise MILError(f"shape for input {name!r} must be positive ints, got {list(dims)}")
            out[name] = tuple(int(d) for d in dims)
        return out
    raise MILError(
        f"shapes must be a dict of input name -> shape, 'default', or an enumerated shape index/key; got {choice!r}"
    )


def pin_shapes(
    program: Program,
    shapes: ShapeChoice,
    *,
    function: str | None = None,
    flexible: dict[str, Any] | None = None,
) -> Program:
    """Fix the flexible inputs of one function to static shapes, in place, and re-infer every op's type.

    Args:
        program: the program (its function is changed in place and the program returned).
        shapes: ``{"x": (1, 128)}`` (inputs not named keep their declared shape, which must then be static),
            ``"default"`` for the bundle's default shapes, or an int / key choosing an enumerated shape set.
        function: the function to pin (default: ``program.main``).
        flexible: the allowed shapes in the form :func:`flexible_shapes` returns, when they are not in the
            function attribute (Core ML packages keep them in the model description instead).

    Returns:
        ``program``, now with static input and op types and without the flexible-shape attribute.

    Raises:
        MILError: an unknown input, a shape of the wrong rank, a dim that contradicts a static dim or lies
            outside the bundle's ``RangeDims``, a shape set that is not one of the enumerated ones, or an op
            whose type cannot be inferred from the pinned shapes (the message names the op).
    """
    f = program.functions[function] if function is not None else program.main
    info = flexible if flexible is not None else flexible_shapes(f)
    pins = _resolve(f, shapes, info)
    for name, shape in pins.items():
        var = f.inputs.get(name)
        if var is None:
            raise MILError(f"function {f.name!r} has no input {name!r} (inputs: {', '.join(f.inputs)})")
        t = var.type
        if not isinstance(t, TensorType):
            raise MILError(f"input {name!r} is a {t}, not a tensor; only tensor inputs can be pinned")
        if len(shape) != t.rank:
            raise MILError(f"input {name!r} has rank {t.rank} ({t}); the pinned shape {list(shape)} has {len(shape)}")
        for axis, (want, have) in enumerate(zip(shape, t.shape, strict=True)):
            if have is not None and have != want:
                raise MILError(f"input {name!r} ({t}) has dim {axis} fixed to {have}; cannot pin it to {want}")
        ranges = info.get("RangeDims", {}).get(name)
        if ranges is not None:
            for axis, (d, (lo, hi)) in enumerate(zip(shape, ranges, strict=True)):
                if not lo <= d <= hi:
                    raise MILError(f"input {name!r} dim {axis} = {d} is outside the bundle's range [{lo}, {hi}]")
    enumerated = info.get("EnumeratedShapes")
    if enumerated and isinstance(shapes, Mapping):
        sets = list(enumerated.values())
        if not any(all(s.get(k) == v for k, v in pins.items()) for s in sets):
            raise MILError(
                f"shapes {pins} are not one of the bundle's enumerated shape sets: "
                + "; ".join(str(s) for s in sets)
            )
    for name, shape in pins.items():
        f.inputs[name].type = f.inputs[name].type.with_shape(shape)
    dynamic = [n for n, v in f.inputs.items() if isinstance(v.type, TensorType) and not v.type.is_static]
    if dynamic:
        raise MILError(
            f"inputs {dynamic} of function {f.name!r} still have unknown dims; give their shapes too "
            f"({', '.join(f'{n}: {f.inputs[n].type}' for n in dynamic)})"
        )
    reinfer(f)
    # Shapes computed at run time are now fixed: fold them and infer again, until nothing is left to fold (a
    # folded reshape makes the next shape() static, so each round can unlock the next).
    while fold_static(f):
        reinfer(f)
    f.attributes.pop(FLEXIBLE_SHAPES, None)
    return program


def reinfer(f: Function) -> None:
    """Infer every op's output types again, in order, replacing the declared ones.

    Raises:
        MILError: an op that has no spec and non-static outputs, or whose inference fails (named).
    """
    opset = f.opset if f.opset in OPSETS else OPSETS[-1]
    memo = InferMemo()
    for op in f.operations:
        spec = OP_REGISTRY.get(op.op_type)
        if spec is None and op.op_type != "const":
            if all(not isinstance(v.type, TensorType) or v.type.is_static for v in op.outputs):
                continue  # an op anekit does not know, with static declared outputs: keep them
            raise MILError(f"cannot infer the output types of {op.op_type} '{op.name}': the op has no spec")
        try:
            inferred = infer_op(op, spec, opset, memo)
        except (MILError, ValueError, TypeError, IndexError, KeyError) as exc:
            raise MILError(f"[{op.op_type} '{op.name}'] type inference failed after pinning shapes: {exc}") from exc
        if len(inferred) != len(op.outputs):
            raise MILError(f"[{op.op_type} '{op.name}'] infers {len(inferred)} outputs, declares {len(op.outputs)}")
        for v, t in zip(op.outputs, inferred, strict=True):
            if not types_compatible(v.type, t):
                raise MILError(f"[{op.op_type} '{op.name}'] output {v.name!r} is declared {v.type}, inferred {t}")
            v.type = _merge(v.type, t)


def _merge(declared: Any, inferred: Any) -> Any:
    # A dim the spec could not infer (a shape computed at run time) keeps the declared one.
    if isinstance(declared, TensorType) and isinstance(inferred, TensorType) and not inferred.is_static:
        dims = zip(declared.shape, inferred.shape, strict=True)
        return inferred.with_shape(i if i is not None else d for d, i in dims)
    return inferred
