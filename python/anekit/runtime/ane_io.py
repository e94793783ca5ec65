"""How the ANE backend presents a function's inputs and outputs to the framework.

Two facts public sources still disagree on are made moot here (docs/internals/ane-private-api.md §25.2, §25.3):

* **Binding order.** Every upstream bridge binds request index *k* to the *k*-th input (output) in declaration
  order (§13); Orion measured alphabetical order of the MIL names on an M4 Max (``docs/ane_constraints.md``
  #3/#13). :func:`canonical_function` renames the function's inputs and outputs to index-ordered names
  (``in_000``, ``in_001``, …, ``out_000``, …) whose declaration, bytewise and case-insensitive orders coincide,
  so either rule binds the same way. Users keep their own names at the Python API; only the submitted text
  changes.
* **Surface sizes.** Orion #2/#12: every input surface must share one allocation size, every output surface
  one; #4: surfaces below about 49,152 bytes fail at evaluate; #14: the tensor is read packed from offset 0.
  :func:`surface_allocations` sizes surfaces under the configured rule (``ANEKIT_ANE_SURFACES``,
  ``ANEKIT_ANE_MIN_SURFACE_BYTES``), which ``anekit doctor`` can settle per machine.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import MILError
from ..mil.ir import Binding, Function, Operation, Program, Var
from .backend import IOSpec

__all__ = ["CanonicalFunction", "canonical_function", "surface_allocations"]

# At most 255 buffers per side (kANEMaxBuffers, _ANERequest validate), so three digits always suffice and
# keep the names the same length: equal-length names with zero-padded numbers sort identically bytewise and
# case-insensitively.
_DIGITS = 3
_MAX_BUFFERS = 255


class CanonicalFunction:
    """A program whose single function has canonical I/O names, with the mapping back to the user's names.

    Attributes:
        program: the renamed copy (the caller's program is not modified).
        input_names: canonical input names in declaration order.
        output_names: canonical output names in declaration order.
    """

    def __init__(self, program: Program, input_names: list[str], output_names: list[str]) -> None:
        self.program = program
        self.input_names = input_names
        self.output_names = output_names


def canonical_function(program: Program, function: str) -> CanonicalFunction:
    """A copy of ``program`` whose ``function`` names its inputs ``in_NNN`` and its outputs ``out_NNN``.

    Outputs that are function inputs, or that appear more than once in the output tuple, become ``identity``
    ops so that every input and output has its own name. When a canonical name is already used by another
    variable of the function, a longer prefix is chosen (``anekit_in_NNN``, …).

    Raises:
        MILError: more than 255 inputs or outputs (the framework's kANEMaxBuffers).
    """
    fn = program.functions[function]
    if len(fn.inputs) > _MAX_BUFFERS or len(fn.outputs) > _MAX_BUFFERS:
        raise MILError(
            f"function {function!r} has {len(fn.inputs)} inputs and {len(fn.outputs)} outputs; the ANE takes at "
            f"most {_MAX_BUFFERS} of each (kANEMaxBuffers, _ANERequest validate)"
        )
    in_prefix, out_prefix = _prefixes(fn)
    in_names = [f"{in_prefix}{i:0{_DIGITS}d}" for i in range(len(fn.inputs))]
    out_names = [f"{out_prefix}{i:0{_DIGITS}d}" for i in range(len(fn.outputs))]

    # New Var objects throughout: Operation() points its output vars at itself, so sharing Vars with the
    # caller's program would corrupt it.
    mapping: dict[int, Var] = {}
    new_inputs: dict[str, Var] = {}
    for name, var in zip(in_names, fn.inputs.values(), strict=True):
        mapping[id(var)] = new_inputs[name] = Var(name, var.type)
    # Each output var produced by an op of this function (and returned once) is renamed in place; the others
    # get an identity op.
    renamed: dict[int, str] = {}
    passthrough: set[int] = set()  # output positions served by an identity op
    for k, var in enumerate(fn.outputs):
        if var.op is None or id(var) in renamed:
            passthrough.add(k)
        else:
            renamed[id(var)] = out_names[k]

    def bind(b: Binding) -> Binding:
        if isinstance(b, Var):
            return mapping.get(id(b), b)
        if isinstance(b, tuple):
            return tuple(bind(x) for x in b)  # type: ignore[misc]
        return b

    ops: list[Operation] = []
    for op in fn.operations:
        outs = [Var(renamed.get(id(v), v.name), v.type) for v in op.outputs]
        for old, new in zip(op.outputs, outs, strict=True):
            mapping[id(old)] = new
        ops.append(
            Operation(
                op.op_type,
                op.name,
                inputs={k: bind(v) for k, v in op.inputs.items()},
                attrs=op.attrs,
                outputs=outs,
                line=op.line,
            )
        )
    outputs: list[Var] = []
    for k, var in enumerate(fn.outputs):
        if k in passthrough:
            out = Var(out_names[k], var.type)
            ops.append(Operation("identity", out_names[k], inputs={"x": mapping[id(var)]}, outputs=[out]))
            outputs.append(out)
        else:
            outputs.append(mapping[id(var)])
    new_fn = Function(fn.name, fn.opset, new_inputs, ops, outputs, fn.attributes)
    copy = Program([new_fn], program.attributes, program.version, program.weight_source)
    return CanonicalFunction(copy, in_names, out_names)


def _prefixes(fn: Function) -> tuple[str, str]:
    """``("in_", "out_")``, or a longer pair when the function already uses a name they would produce."""
    taken = set(fn.vars()) | {op.name for op in fn.operations}
    for extra in ("", "anekit_", "anekit_io_", "anekit__io_"):
        pair = (f"{extra}in_", f"{extra}out_")
        if not any(name.startswith(pair) for name in taken):
            return pair
    raise MILError("cannot choose canonical I/O names: the function uses every reserved prefix")


def surface_allocations(specs: Sequence[IOSpec], rule: str, min_bytes: int) -> list[int]:
    """Allocation size in bytes of each surface of one side (inputs, or outputs), in ``specs`` order.

    Args:
        specs: the side's tensors.
        rule: ``"uniform"``: every surface gets the side's largest size; ``"exact"``: each its own.
        min_bytes: no surface is smaller than this.
    """
    sizes = [max(_tensor_bytes(s), min_bytes) for s in specs]
    if rule == "uniform" and sizes:
        return [max(sizes)] * len(sizes)
    return sizes


def _tensor_bytes(spec: IOSpec) -> int:
    itemsize = 2 if spec.surface_dtype == "fp16" else 4
    return int(spec.type.numel or 0) * itemsize
