"""Absurd sizes: refused with anekit's own errors before anything is allocated (issue #11 items 13 and 16)."""

from __future__ import annotations

import numpy as np
import pytest

import anekit
from anekit import _core, mil
from anekit.errors import MILError, MILParseError
from anekit.mil.types import MAX_DIM
from anekit.runtime import kernel as kernel_module


def _relu_text(dims: str, *, spaced: bool = False) -> str:
    t = f"tensor< fp16 , [ {dims} ] >" if spaced else f"tensor<fp16, [{dims}]>"
    return (
        "program(1.3)\n{\n"
        f"    func main<ios18>({t} x) {{\n"
        f'            {t} y = relu(x = x)[name = string("y")];\n'
        "        } -> (y);\n}\n"
    )


def test_a_2_31_channel_input_fails_fast_without_allocating(monkeypatch) -> None:
    # It used to "compile" on the reference backend by zero-filling 8 GB of surfaces (21 s), although
    # validate() flags ane-dim-limit as an error.
    prog = mil.parse(_relu_text(f"1, {2**31}, 1, 1"))
    assert any(d.rule == "ane-dim-limit" and d.severity == "error" for d in mil.validate(prog))

    def no_surfaces(*args: object, **kwargs: object) -> None:
        raise AssertionError("a surface was allocated for a program that fails validation")

    monkeypatch.setattr(kernel_module._core, "Surface", no_surfaces)
    spent = _core.compile_count()
    with pytest.raises(MILError, match=r"fails validation, nothing was compiled(.|\n)*ane-dim-limit"):
        anekit.compile(prog, backend="reference", cache=False)
    assert _core.compile_count() == spent  # refused before the budget was touched


def test_a_valid_program_still_compiles_and_runs() -> None:
    prog = mil.parse(_relu_text("1, 64, 1, 32"))
    k = anekit.compile(prog, backend="reference", cache=False)
    x = np.linspace(-1, 1, 64 * 32, dtype=np.float16).reshape(1, 64, 1, 32)
    np.testing.assert_array_equal(k(x=x)["y"], np.maximum(x, 0))


@pytest.mark.parametrize("spaced", [False, True], ids=["compact", "spaced"])
@pytest.mark.parametrize("dim", [2**70, 2**63])
def test_a_parsed_dimension_beyond_64_bits_is_a_parse_error_naming_the_line(dim: int, spaced: bool) -> None:
    with pytest.raises(MILParseError, match=rf"line 3, col \d+: tensor dimension {dim} is larger") as info:
        mil.parse(_relu_text(f"1, {dim}", spaced=spaced))
    assert "Unable to cast" not in str(info.value)
    # The largest representable dimension parses (and validation then refuses it for the ANE).
    prog = mil.parse(_relu_text(f"1, {MAX_DIM}", spaced=spaced))
    assert any(d.rule == "ane-dim-limit" for d in mil.validate(prog))


def test_built_types_refuse_dimensions_beyond_64_bits() -> None:
    with pytest.raises(MILError, match="largest MIL dimension"):
        mil.tensor((1, 2**70), "fp16")
    assert mil.tensor((1, MAX_DIM), "fp16").shape == (1, MAX_DIM)
