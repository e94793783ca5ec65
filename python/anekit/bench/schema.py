"""The result file format of ``anekit bench`` (documented in docs/bench.md), as a JSON Schema.

:data:`SCHEMA` is standard JSON Schema (draft 2020-12), for any tool; :func:`check_document` checks a parsed
file against it without third-party packages (it interprets the subset of keywords :data:`SCHEMA` uses, so the
schema is the one definition of the format). ``version`` changes whenever a field changes meaning or is
removed; adding a field does not change it.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import AnekitError

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "SCHEMA", "BenchFormatError", "check_document"]

FORMAT_NAME = "anekit-bench"
FORMAT_VERSION = 1


class BenchFormatError(AnekitError, ValueError):
    """A benchmark result file is not valid (not JSON, wrong format or version, a field missing or mistyped)."""


_NUMBER_OR_NULL = {"type": ["number", "null"]}

_ROW = {
    "type": "object",
    "required": ["name", "params", "metrics", "verified", "max_abs_error", "note", "error"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "params": {"type": "object"},
        "metrics": {"type": "object", "additionalProperties": _NUMBER_OR_NULL},
        "verified": {"type": ["boolean", "null"]},
        "max_abs_error": _NUMBER_OR_NULL,
        "note": {"type": "string"},
        "error": {"type": "string"},
    },
}

_SUITE = {
    "type": "object",
    "required": ["description", "measurement", "columns", "summary", "notes", "seconds", "compiles", "rows"],
    "properties": {
        "description": {"type": "string"},
        "measurement": {"type": "object"},
        "columns": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
        },
        "summary": {"type": "object"},
        "notes": {"type": "array", "items": {"type": "string"}},
        "seconds": {"type": "number", "minimum": 0},
        "compiles": {"type": "integer", "minimum": 0},
        "rows": {"type": "array", "items": _ROW},
    },
}

#: JSON Schema of a result file (format version :data:`FORMAT_VERSION`).
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "anekit bench result file",
    "type": "object",
    "required": [
        "format",
        "version",
        "created",
        "anekit",
        "backend",
        "ane_figures",
        "quick",
        "total_seconds",
        "machine",
        "budget",
        "suites",
    ],
    "properties": {
        "format": {"const": FORMAT_NAME},
        "version": {"const": FORMAT_VERSION},
        "created": {"type": "string"},
        "anekit": {"type": "string"},
        "backend": {"enum": ["ane", "reference"]},
        "ane_figures": {"type": "boolean"},
        "quick": {"type": "boolean"},
        "total_seconds": {"type": "number", "minimum": 0},
        "machine": {
            "type": "object",
            "required": ["system", "chip", "os_build", "ane_subtype", "anekit", "doctor"],
            "properties": {
                "system": {"type": "string"},
                "chip": {"type": "string"},
                "os_build": {"type": "string"},
                "ane_subtype": {"type": ["string", "null"]},
                "anekit": {"type": "string"},
                "doctor": {"type": ["object", "null"]},
            },
        },
        "budget": {
            "type": "object",
            "required": ["limit", "used_before", "used_after", "planned", "recycled"],
            "properties": {
                "limit": {"type": "integer"},
                "used_before": {"type": "integer", "minimum": 0},
                "used_after": {"type": "integer", "minimum": 0},
                "planned": {"type": "integer", "minimum": 0},
                "recycled": {"type": "boolean"},
            },
        },
        "suites": {"type": "object", "additionalProperties": _SUITE},
    },
}

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, _TYPES[name])


def _check(value: Any, schema: dict[str, Any], where: str) -> None:
    if "const" in schema and value != schema["const"]:
        raise BenchFormatError(f"{where} must be {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise BenchFormatError(f"{where} must be one of {schema['enum']}, got {value!r}")
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, n) for n in names):
            raise BenchFormatError(f"{where} must be of type {' or '.join(names)}, got {type(value).__name__}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < schema.get("minimum", -math.inf):
        raise BenchFormatError(f"{where} must be >= {schema['minimum']}, got {value!r}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        raise BenchFormatError(f"{where} must not be empty")
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                raise BenchFormatError(f"{where} lacks the field {key!r}")
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                _check(item, props[key], f"{where}.{key}")
            elif isinstance(extra, dict):
                _check(item, extra, f"{where}.{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", math.inf):
            raise BenchFormatError(f"{where} has {len(value)} items, outside the allowed range")
        if "items" in schema:
            for i, item in enumerate(value):
                _check(item, schema["items"], f"{where}[{i}]")


def check_document(doc: Any) -> None:
    """Check a parsed result file against :data:`SCHEMA`.

    Raises:
        BenchFormatError: the first problem found, with its location (e.g. ``suites.peak.rows[2] lacks ...``).
    """
    if isinstance(doc, dict) and doc.get("format") == FORMAT_NAME and doc.get("version") != FORMAT_VERSION:
        raise BenchFormatError(
            f"result file format version {doc.get('version')!r} is not supported by this anekit "
            f"(it reads version {FORMAT_VERSION})"
        )
    _check(doc, SCHEMA, "result")
