"""The fake framework's modes and decompiled contract (docs/internals/ane-private-api.md §25), and the backend fixes
they
exposed: binding by modelAttributes, surface rules, the real processRequest signature, the perf-stats recipe,
the post-load checks and the load retry."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from _ane_samples import identity_mil, surface

from anekit import CompileError

pytestmark = pytest.mark.objc

A = (1, 4, 1, 8)  # 64 bytes in fp16
B = (1, 2, 1, 8)  # 32 bytes


def named_io_mil(tag: str = "named") -> str:
    """Inputs ``zeta`` [1,4,1,8] and ``Alpha`` [1,2,1,8] (declaration order differs from sorted order), outputs
    ``q = relu(zeta)`` and ``k = relu(Alpha)``."""
    a = "tensor<fp16, [1, 4, 1, 8]>"
    b = "tensor<fp16, [1, 2, 1, 8]>"
    return (
        "program(1.0)\n{\n"
        f"    func main<ios16>({a} zeta, {b} Alpha) {{\n"
        f'        {a} q = relu(x = zeta)[name = tensor<string, []>("{tag}q")];\n'
        f'        {b} k = relu(x = Alpha)[name = tensor<string, []>("{tag}k")];\n'
        "    } -> (q, k);\n}\n"
    )


def _ramp(shape: tuple[int, ...], start: float) -> np.ndarray:
    return (np.arange(int(np.prod(shape)), dtype=np.float32) + start).reshape(shape)


def _same_size_io_mil(tag: str) -> str:
    """Inputs ``zeta``, ``Alpha`` (sorted order differs) and outputs ``a = relu(zeta)``, ``b = relu(Alpha)``
    (sorted order agrees), all [1,4,1,8]: alphabetical binding crosses the inputs only."""
    t = "tensor<fp16, [1, 4, 1, 8]>"
    return (
        "program(1.0)\n{\n"
        f"    func main<ios16>({t} zeta, {t} Alpha) {{\n"
        f'        {t} a = relu(x = zeta)[name = tensor<string, []>("{tag}a")];\n'
        f'        {t} b = relu(x = Alpha)[name = tensor<string, []>("{tag}b")];\n'
        "    } -> (a, b);\n}\n"
    )


# ---- binding -------------------------------------------------------------------------------------------


def _copy_by_name(mil_text: str, weights: object, inputs: dict, outputs: dict) -> None:
    """A reference evaluator for the same-size programs: a <- zeta, b <- Alpha, by symbol name."""
    outputs["a"][:] = inputs["zeta"]
    outputs["b"][:] = inputs["Alpha"]


def test_alphabetical_binding_swaps_surfaces_without_help(fake: ModuleType) -> None:
    # What the fake models (Orion #3/#13): request index k names the k-th symbol in sorted order, so surfaces
    # passed in declaration order with indices 0..n-1 feed zeta's data to Alpha. This is the behaviour the
    # backend must defeat (canonical names, or modelAttributes).
    fake.fake_configure(mode="reference", binding="alphabetical", model_attributes=False)
    fake.set_fake_evaluator(_copy_by_name)
    zeta, alpha = surface(_ramp(A, 1.0)), surface(_ramp(A, 100.0))
    a, b = surface(), surface()
    with fake.compile(_same_size_io_mil("swap")) as model:
        assert model.binding == ("declaration", [], [])
        model.evaluate([zeta, alpha], [a, b])
    np.testing.assert_array_equal(a.read(), _ramp(A, 100.0))  # crossed
    np.testing.assert_array_equal(b.read(), _ramp(A, 1.0))
    fake.fake_configure(mode="reference", binding="declaration", model_attributes=False)
    with fake.compile(_same_size_io_mil("noswap")) as model:
        model.evaluate([zeta, alpha], [a, b])
    np.testing.assert_array_equal(a.read(), _ramp(A, 1.0))
    np.testing.assert_array_equal(b.read(), _ramp(A, 100.0))


@pytest.mark.parametrize("binding", ["declaration", "alphabetical"])
def test_model_attributes_choose_the_request_indices(fake: ModuleType, binding: str) -> None:
    fake.fake_configure(binding=binding)
    zeta, alpha = surface(_ramp(A, 1.0)), surface(_ramp(B, 100.0), B)
    q, k = surface(), surface(shape=B)
    with fake.compile(named_io_mil(binding), input_names=["zeta", "Alpha"], output_names=["q", "k"]) as model:
        source, ins, outs = model.binding
        assert source == "modelAttributes"
        assert (ins, outs) == (([0, 1], [0, 1]) if binding == "declaration" else ([1, 0], [1, 0]))
        model.evaluate([zeta, alpha], [q, k])
    np.testing.assert_array_equal(q.read(), _ramp(A, 1.0))
    np.testing.assert_array_equal(k.read(), _ramp(B, 100.0))


def test_model_attributes_are_reported_for_bug_reports(fake: ModuleType) -> None:
    import json

    with fake.compile(named_io_mil("report"), input_names=["zeta", "Alpha"], output_names=["q", "k"]) as model:
        description = json.loads(model.model_attributes())["kANEFModelDescriptionKey"]
        assert description["kANEFModelInputSymbolsArrayKey"] == ["zeta", "Alpha"]
        assert description["kANEFModelOutputSymbolsArrayKey"] == ["q", "k"]
    fake.fake_configure(model_attributes=False)
    with fake.compile(named_io_mil("noreport")) as model:
        assert model.model_attributes() == ""


def test_model_attributes_naming_other_symbols_is_a_compile_error(fake: ModuleType) -> None:
    with pytest.raises(CompileError, match=r"modelAttributes lists the input symbols \[zeta, Alpha\].*'x' is missing"):
        fake.compile(named_io_mil("other"), input_names=["x", "Alpha"], output_names=["q", "k"])


def test_without_model_attributes_indices_follow_declaration(fake: ModuleType) -> None:
    fake.fake_configure(model_attributes=False)
    with fake.compile(named_io_mil("noattr"), input_names=["zeta", "Alpha"], output_names=["q", "k"]) as model:
        assert model.binding == ("declaration", [0, 1], [0, 1])


# ---- surfaces ------------------------------------------------------------------------------------------


def test_exact_rule_accepts_larger_page_rounded_surfaces_and_reads_offset_zero(fake: ModuleType) -> None:
    x = fake_padded(_ramp(A, 3.0), 16384)
    y = fake_padded(None, 16384)
    with fake.compile(identity_mil(tag="pad")) as model:
        model.evaluate([x], [y])
    np.testing.assert_array_equal(y.read(), _ramp(A, 3.0))  # the tensor is packed at offset 0 (Orion #14)


def fake_padded(values: np.ndarray | None, allocation: int) -> object:
    from anekit import _core

    s = _core.Surface(A, "fp16", allocation=allocation)
    assert s.nbytes == 64 and s.allocation_bytes == allocation
    if values is not None:
        s.write(values)
    return s


def test_uniform_rule_needs_one_size_per_side(fake: ModuleType) -> None:
    fake.fake_configure(surfaces="uniform")
    zeta, alpha = surface(_ramp(A, 1.0)), surface(_ramp(B, 2.0), B)
    q, k = surface(), surface(shape=B)
    with fake.compile(named_io_mil("uni"), input_names=["zeta", "Alpha"], output_names=["q", "k"]) as model:
        with pytest.raises(fake.FrameworkError, match=r"status=0x1d.*input surfaces must share one allocation size"):
            model.evaluate([zeta, alpha], [q, k])
        from anekit import _core

        padded = [_core.Surface(s.shape, "fp16", allocation=64) for s in (zeta, alpha, q, k)]
        padded[0].write(_ramp(A, 1.0))
        padded[1].write(_ramp(B, 2.0))
        model.evaluate(padded[:2], padded[2:])
        np.testing.assert_array_equal(padded[3].read(), _ramp(B, 2.0))


def test_minimum_surface_size_is_enforced(fake: ModuleType) -> None:
    fake.fake_configure(min_surface_bytes=49152)
    with fake.compile(identity_mil(tag="min")) as model:
        with pytest.raises(fake.FrameworkError, match="surfaces under 49152 bytes are refused"):
            model.evaluate([surface()], [surface()])
        model.evaluate([fake_padded(_ramp(A, 0.0), 49152)], [fake_padded(None, 49152)])


def test_surface_rules_are_fixed_at_compile_time(fake: ModuleType) -> None:
    with fake.compile(identity_mil(tag="fixed")) as model:
        fake.fake_configure(min_surface_bytes=49152)  # later configuration does not change this model
        model.evaluate([surface()], [surface()])


# ---- processRequest, perf stats ------------------------------------------------------------------------


def test_process_request_passes_uint64_string_id(fake: ModuleType) -> None:
    # The fake checks modelStringID == -[_ANEInMemoryModel string_id] (a uint64); the old call passed the
    # hexStringIdentifier NSString and a 1-byte BOOL for a 4-byte status (§17.3).
    x, y = surface(_ramp(A, 5.0)), surface()
    with fake.compile(identity_mil(tag="pr")) as model:
        model.evaluate([x], [y], "process_request")
    np.testing.assert_array_equal(y.read(), _ramp(A, 5.0))
    assert fake.fake_stats()["evalsProcessRequest"] == 1


def test_perf_stats_use_the_stats_surface_recipe(fake: ModuleType) -> None:
    # _ANERequest validate sends -statType to every perfStats element; _ANEPerformanceStats has none.
    x, y = surface(_ramp(A, 0.0)), surface()
    fake.fake_configure(perf_stats_ns=777)
    with fake.compile(identity_mil(tag="perf"), perf_stats=True) as model:
        for path in ("standard", "process_request", "realtime", "direct"):
            assert model.evaluate([x], [y], path) == 777


# ---- load ----------------------------------------------------------------------------------------------


def test_load_that_loads_nothing_is_a_compile_error(fake: ModuleType, live: Callable[[], dict[str, int]]) -> None:
    fake.fake_configure(faults={"load_unloaded"})
    with pytest.raises(CompileError, match=r"returned YES but the model has no program \(programHandle 0"):
        fake.compile(identity_mil(tag="hollow"))
    assert live()["liveModels"] == 0


def test_load_is_retried_once(fake: ModuleType) -> None:
    fake.fake_configure(faults={"load_once"})
    x, y = surface(_ramp(A, 2.0)), surface()
    with fake.compile(identity_mil(tag="retry")) as model:
        model.evaluate([x], [y])
        model.unload()
        model.load()  # the model's first load already happened: no fault this time
        model.evaluate([x], [y])
    np.testing.assert_array_equal(y.read(), _ramp(A, 2.0))
    assert fake.fake_stats()["loads"] == 2


def test_persistent_load_failure_is_reported_after_the_retry(fake: ModuleType) -> None:
    fake.fake_configure(faults={"load"})
    with pytest.raises(CompileError, match=r"failed twice, retried after 100 ms"):
        fake.compile(identity_mil(tag="noload"))


# ---- configuration and budget ends ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"binding": "random"}, "binding must be"),
        ({"surfaces": "padded"}, "surfaces must be"),
        ({"budget_end": "maybe"}, "budgetEnd must be"),
    ],
)
def test_bad_mode_values_are_rejected(fake: ModuleType, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fake.fake_configure(**kwargs)


def test_budget_end_crash_kills_the_process() -> None:
    code = textwrap.dedent(
        """
        import anekit
        from anekit import testing
        from anekit.doctor.programs import identity_program
        with testing.fake_ane(compile_budget=1, budget_end="crash"):
            anekit.compile(identity_program(8, 32, scale=2.0), backend="ane", cache=False).close()
            print("first compile ok", flush=True)
            anekit.compile(identity_program(8, 32, scale=3.0), backend="ane", cache=False)
            print("survived")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", code], capture_output=True, text=True, timeout=120
    )
    if "AneUnavailableError" in proc.stderr:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    assert "first compile ok" in proc.stdout and "survived" not in proc.stdout
    assert proc.returncode == -11, (proc.returncode, proc.stderr[-2000:])
