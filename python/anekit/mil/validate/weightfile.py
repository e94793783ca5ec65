"""Validator rule checking ``BLOBFILE`` references against the weight files, when weights are available.

Target ``"any"``. Only the 64-byte metadata records are checked (sentinel, bounds, dtype code, size), never
the data decoded, so checking a model is cheap. Facts: docs/internals/mil-format.md §7.3 (offset = metadata offset),
§9.3-9.5 (record layout, dtype codes, sizes) and §11 rule 20 (some chips validate ``sizeInBytes``; malformed headers
upstream made only 512-channel programs compile, docs/internals/ane-private-api.md §15.4).
"""

from __future__ import annotations

from collections.abc import Iterator

from ...errors import MILError
from ..blob import BLOB_DTYPE_CODES, blob_size
from ..diagnostics import Diagnostic
from ..ir import Operation
from ..types import TensorType
from ..values import Value, WeightSource
from ._rules import Context, rule

__all__: list[str] = []


def _blob_values(op: Operation) -> Iterator[tuple[str, Value]]:
    """``(name, value)`` of every BLOBFILE literal of ``op`` (attributes and inline arguments)."""
    for k, v in op.attrs.items():
        if v.blob is not None:
            yield k, v
    for k, b in op.inputs.items():
        for x in b if isinstance(b, tuple) else (b,):
            if isinstance(x, Value) and x.blob is not None:
                yield k, x


@rule(
    "blob-ref",
    severity="error",
    target="any",
    source="docs/internals/mil-format.md §7.3, §9.3-9.5 and §11 rule 20",
    summary="a BLOBFILE reference does not resolve to a metadata record matching the declared type "
    "(checked only when the weights are available)",
)
def blob_ref(ctx: Context) -> Iterator[Diagnostic]:
    """A weight file that is absent altogether is one info per file (a bare ``model.mil``, as most of the
    corpus, has no weights beside it); a record that is missing or disagrees with the declared type is an
    error (the compiler reads these records, §11 rule 20)."""
    source = ctx.program.weight_source
    if not source.available:
        return
    missing: dict[str, int] = {}
    for f in ctx.functions():
        for op in f.operations:
            for key, v in _blob_values(op):
                assert v.blob is not None  # filtered by _blob_values
                path = v.blob.path
                if path in missing or _absent(source, path):
                    missing[path] = missing.get(path, 0) + 1
                    continue
                problem = _check(source, v)
                if problem:
                    yield ctx.diag(
                        "blob-ref",
                        f"[{op.op_type} '{op.name}'] {key}: {problem}",
                        f=f,
                        op=op,
                        hint="rewrite the weight file with anekit (Program.save) so headers, sizes and "
                        "offsets are correct",
                    )
    for path, n in missing.items():
        yield ctx.diag(
            "blob-ref",
            f"weight file {path} was not found; {n} BLOBFILE reference(s) to it were not checked",
            severity="info",
            hint="load the model folder that contains weights/ to check them",
        )


def _absent(source: WeightSource, path: str) -> bool:
    """Whether the weight file cannot be found (as opposed to being present but malformed)."""
    try:
        source.file(path)
    except MILError:
        return source.raw_file(path) is None
    return False


def _check(source: WeightSource, v: Value) -> str | None:
    assert v.blob is not None  # filtered by _blob_values
    t = v.type
    if not isinstance(t, TensorType) or t.numel is None:
        return f"BLOBFILE value has non-static type {t}"
    try:
        entry = source.file(v.blob.path).entry(v.blob.offset)
    except MILError as exc:
        return str(exc)
    want = BLOB_DTYPE_CODES.get(t.dtype.name)
    if want is None:
        return f"{t.dtype.name} cannot be stored in a weight file"
    if entry.dtype_code != want:
        return (
            f"blob at offset {v.blob.offset} of {v.blob.path} has dtype code {entry.dtype_code} "
            f"({entry.dtype_name or 'unknown'}), the program declares {t.dtype.name} (code {want})"
        )
    size = blob_size(t.dtype, t.numel)
    if entry.size != size:
        return f"blob at offset {v.blob.offset} of {v.blob.path} holds {entry.size} bytes, {t} needs {size}"
    return None
