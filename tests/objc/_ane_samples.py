"""Shared helpers of the Objective-C++ backend tests: MIL samples, fp16 surfaces for them and the bundled fake
framework's location."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from anekit import _core

#: The I/O shape of :func:`identity_mil` with its default arguments.
SHAPE = (1, 4, 1, 8)

FAKE_NAME = "libFakeAppleNeuralEngine.so"
FAKE_NO_REQUEST_NAME = "libFakeAppleNeuralEngineNoRequest.so"


def fake_library(name: str = FAKE_NAME) -> Path | None:
    """Path of a bundled fake framework library, or None when this build has none."""
    spec = importlib.util.find_spec("anekit")
    if spec is None or spec.submodule_search_locations is None:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "_fake" / name
        if candidate.is_file():
            return candidate
    # Editable installs keep compiled artefacts next to the extension module rather than the sources.
    from anekit import _core

    candidate = Path(_core.__file__).resolve().parent / "_fake" / name
    return candidate if candidate.is_file() else None


def identity_mil(channels: int = 4, spatial: int = 8, *, tag: str = "y", dtype: str = "fp16") -> str:
    """A one-input, one-output program ``y = relu(x)`` on ``[1, C, 1, S]`` (docs/internals/mil-format.md §8.2 dialect).

    ``tag`` goes into the op name so that programs differ (and get distinct model directories) on demand; it
    also carries the fake's failure markers (``FAKE_ANE_FAIL_COMPILE`` ...).
    """
    t = f"tensor<{dtype}, [1, {channels}, 1, {spatial}]>"
    return (
        "program(1.0)\n"
        '[buildInfo = dict<tensor<string, []>, tensor<string, []>>({{"coremlc-version", "3505.4.1"}})]\n'
        "{\n"
        f"    func main<ios16>({t} x) {{\n"
        f'        {t} y = relu(x = x)[name = tensor<string, []>("{tag}")];\n'
        "    } -> (y);\n"
        "}\n"
    )


def two_io_mil(tag: str = "two") -> str:
    """Two inputs of different sizes and two outputs, to check index wiring (docs/internals/ane-private-api.md §13)."""
    a = "tensor<fp16, [1, 4, 1, 8]>"
    b = "tensor<fp16, [1, 2, 1, 8]>"
    return (
        "program(1.0)\n{\n"
        f"    func main<ios16>({a} a, {b} b) {{\n"
        f'        {a} ya = relu(x = a)[name = tensor<string, []>("{tag}a")];\n'
        f'        {b} yb = relu(x = b)[name = tensor<string, []>("{tag}b")];\n'
        "    } -> (ya, yb);\n}\n"
    )


def surface(values: np.ndarray | None = None, shape: tuple[int, ...] = SHAPE) -> _core.Surface:
    """A new fp16 surface of ``shape``, holding ``values`` when given (zeros otherwise)."""
    # Imported here: conftest.py imports this module before it can skip on a missing extension.
    from anekit import _core

    s = _core.Surface(shape, "fp16")
    if values is not None:
        s.write(values)
    return s
