"""Bring your own model: ``load`` reads compiled bundles, Core ML packages and ``MLModel`` objects.

``.mlmodelc`` folders (``model.mil`` text) go through the text parser; ``.mlpackage`` folders, ``.mlmodel``
files and ``coremltools.models.MLModel`` objects through :mod:`~anekit.mil.importers.coreml`. Flexible shapes
can be pinned in the same call (:func:`~anekit.mil.passes.shapes.pin_shapes`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...errors import MILError
from ..ir import Program
from ..passes.shapes import ShapeChoice, pin_shapes
from ..text.parser import load as load_text
from . import coreml

__all__ = ["load", "missing_weight_files"]


def load(
    source: str | os.PathLike[str] | Any,
    *,
    shapes: ShapeChoice | None = None,
    require_weights: bool = False,
) -> Program:
    """Load a model as a :class:`Program`.

    Args:
        source: a ``.mlmodelc``-style folder (``model.mil`` + ``weights/``) or its ``model.mil``; an
            ``.mlpackage`` folder; an ``.mlmodel`` file holding an ML program; or a
            ``coremltools.models.MLModel``.
        shapes: pin flexible inputs: ``{"x": (1, 128)}``, ``"default"`` (the bundle's default shapes), or an
            int / key choosing one of its enumerated shape sets. After pinning, every op's type is inferred
            again and the program is static.
        require_weights: raise now, naming the file, when a weight file the program references is absent
            (otherwise that error comes when the weights are first read: compile, run, or ``Value.data``).

    Core ML sources keep the output types their protobuf states (coremltools inferred them); ``mil.validate``
    infers them again (rule ``op-check``) and reports a mismatch. MIL text is checked as it is parsed
    (``program.diagnostics``).

    Raises:
        MILError: an unreadable or unsupported source (non-ML-program Core ML models: "convert to an ML
            program first"), a bad shape choice, or (with ``require_weights``) a missing weight file.
    """
    if hasattr(source, "get_spec") and not isinstance(source, (str, os.PathLike)):
        prog, flexible = coreml.import_mlmodel(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            # Otherwise a mistyped .mlmodel or .mlpackage path is reported as "no model.mil in ...".
            raise MILError(f"{path}: no such file or folder")
        package = path.is_dir() and (path / coreml.COREML_PACKAGE_SPEC).is_file()
        if package or (path.is_file() and path.suffix == ".mlmodel"):
            prog, flexible = coreml.import_file(path)
        elif path.suffix == ".mlpackage":
            raise MILError(f"{path} is not an .mlpackage folder with {coreml.COREML_PACKAGE_SPEC}")
        else:
            prog, flexible = load_text(path), None
    else:
        raise MILError(
            f"cannot load a {type(source).__name__}: pass a path (.mlmodelc, .mlpackage, .mlmodel, model.mil) "
            "or a coremltools MLModel"
        )
    if require_weights:
        missing = missing_weight_files(prog)
        if missing:
            raise MILError(
                f"weight file {missing[0]} is missing: the program references it but the bundle has no such file "
                "(bundles are often published without their weights; fetch the full model)"
            )
    if shapes is not None:
        pin_shapes(prog, shapes, flexible=flexible or None)
    return prog


def missing_weight_files(program: Program) -> list[str]:
    """The weight files ``program`` references that its weight source cannot provide (as paths to show)."""
    paths: set[str] = set()
    for f in program.functions.values():
        for op in f.operations:
            bound = (x for b in op.inputs.values() for x in (b if isinstance(b, tuple) else (b,)))
            for v in (*op.attrs.values(), *bound):
                blob = getattr(v, "blob", None)
                if blob is not None and not v.is_loaded:
                    paths.add(blob.path)
    return sorted(program.weight_source.describe_missing(p) for p in paths if not program.weight_source.has_file(p))
