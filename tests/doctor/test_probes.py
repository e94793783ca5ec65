"""The doctor's probes against the fake framework: each reports the rule the fake was set to follow."""

from __future__ import annotations

import numpy as np
import pytest
from _doctor_fakes import binding_evaluator

from anekit import _core, testing
from anekit.doctor.device import KNOWN_GOOD_BYTES, Allocation, run_raw
from anekit.doctor.probes import (
    ORDER_NAMES,
    Settled,
    binding_rules,
    probe_allocation,
    probe_dialect,
    probe_execution_paths,
    probe_input_order,
    probe_min_surface,
    probe_output_order,
    probe_perf_stats,
    probe_seq_bucket,
)
from anekit.doctor.programs import identity_program

pytestmark = pytest.mark.objc


def test_order_names_tell_every_rule_apart() -> None:
    orders = binding_rules(ORDER_NAMES)
    assert len({tuple(v) for v in orders.values()}) == len(orders) == 3


@pytest.mark.parametrize("model_attributes", [True, False])
@pytest.mark.parametrize("binding", ["declaration", "alphabetical"])
def test_order_probes_report_the_fakes_binding_mode(
    fake_ane_ref: testing.FakeAne, binding: str, model_attributes: bool
) -> None:
    fake_ane_ref.configure(binding=binding, model_attributes=model_attributes)
    for probe in (probe_input_order, probe_output_order):
        result = probe(Settled())
        assert (result.status, result.finding) == ("ok", binding), result.evidence
        named = result.evidence["named_binding"]
        assert named["source"] == ("modelAttributes" if model_attributes else "declaration")
        assert named["rule"] == (binding if model_attributes else None)
        assert result.evidence["anekit_runtime"] == "ok"  # canonical names bind right under either rule


def test_order_probes_tell_case_insensitive_order(fake_ane_ref: testing.FakeAne) -> None:
    # The fake binds declaration or bytewise order; a case-insensitive framework is simulated by its callback.
    fake_ane_ref.configure(model_attributes=False)
    _core.ane.set_fake_evaluator(binding_evaluator("alphabetical_ci"))
    assert probe_input_order(Settled()).finding == "alphabetical_ci"
    assert probe_output_order(Settled()).finding == "alphabetical_ci"


def test_order_probe_fails_when_model_attributes_disagree(fake_ane_ref: testing.FakeAne) -> None:
    # modelAttributes report declaration order while the surfaces are wired bytewise-alphabetically.
    fake_ane_ref.configure(binding="declaration", model_attributes=True)
    _core.ane.set_fake_evaluator(binding_evaluator("alphabetical"))
    result = probe_input_order(Settled())
    assert result.status == "failed" and result.finding == "alphabetical"
    problem = result.evidence["named_binding"]["problem"]
    assert problem == "modelAttributes say declaration, the surfaces showed alphabetical"


def test_order_probe_fails_when_no_rule_explains_the_output(fake_ane_ref: testing.FakeAne) -> None:
    fake_ane_ref.configure(model_attributes=False)
    reference = testing._ReferenceEvaluator()

    def swap_two(mil_text, weights, inputs, outputs):  # a wiring no candidate rule produces
        names = list(inputs)
        reference(mil_text, weights, {names[0]: inputs[names[0]], names[1]: inputs[names[2]],
                                      names[2]: inputs[names[1]]}, outputs)  # fmt: skip

    _core.ane.set_fake_evaluator(swap_two)
    result = probe_input_order(Settled())
    assert result.status == "failed" and result.finding is None
    assert result.evidence["surface_to_declared"] == [0, 2, 1]


@pytest.mark.parametrize(("surfaces", "finding"), [("exact", "any"), ("uniform", "uniform")])
def test_allocation_probe_reports_the_fakes_surface_rule(
    fake_ane_ref: testing.FakeAne, surfaces: str, finding: str
) -> None:
    fake_ane_ref.configure(surfaces=surfaces)
    settled = Settled()
    result = probe_allocation(settled)
    assert (result.status, result.finding) == ("ok", finding), result.evidence
    assert result.evidence["uniform"] == "ok"
    exact = result.evidence["exact"]
    assert exact == "ok" if surfaces == "exact" else exact.startswith("eval-error")
    assert settled.allocation.rule == "uniform"


@pytest.mark.parametrize(("minimum", "found", "refused"), [(0, None, None), (1000, 1024, 64), (49152, 49152, 24576)])
def test_min_surface_probe_reports_the_fakes_minimum(
    fake_ane_ref: testing.FakeAne, minimum: int, found: int | None, refused: int | None
) -> None:
    fake_ane_ref.configure(min_surface_bytes=minimum)
    settled = Settled()
    result = probe_min_surface(settled)
    sizes = [int(case.split()[0]) for case in result.evidence if case.endswith("exact")]
    assert sizes[0] == KNOWN_GOOD_BYTES and sizes == sorted(sizes, reverse=True)  # known-good first, then down
    assert all(f"{n} B padded to {found}" in result.evidence for n in sizes if found and n < found)
    assert result.finding["min_surface_bytes"] == found and result.finding["largest_refused"] == refused
    assert result.finding["padding_helps"] is (minimum > 0)
    assert settled.allocation.minimum == (found or 0)


def test_min_surface_probe_goes_up_when_the_known_good_size_is_refused(fake_ane_ref: testing.FakeAne) -> None:
    fake_ane_ref.configure(min_surface_bytes=60_000)
    settled = Settled()
    result = probe_min_surface(settled)
    assert result.status == "ok" and result.finding["min_surface_bytes"] == 98_304
    assert list(result.evidence)[:3] == ["49152 B exact", "98304 B exact", "196608 B exact"]
    assert settled.allocation.minimum == 98_304
    assert probe_allocation(settled).finding == "any"  # its surfaces are sized past the minimum


def test_probes_lay_out_surfaces_as_asked(fake_ane_ref: testing.FakeAne) -> None:
    fake_ane_ref.configure(min_surface_bytes=4096)
    x = np.arange(16 * 32, dtype=np.float16).reshape(1, 16, 1, 32) % 7
    program = identity_program(16, 32, scale=2.0)
    exact = run_raw(program, [x], allocation=Allocation("exact"))
    assert exact.status == "eval-error" and "1024" in exact.detail  # the fake saw the 1024-byte surface we made
    padded = run_raw(program, [x], allocation=Allocation("exact", KNOWN_GOOD_BYTES))
    assert padded.verdict(x * np.float16(2)) == "ok"  # packed at offset 0 of a larger surface


@pytest.mark.parametrize("minimum", [0, 49152])
def test_seq_bucket_probe(fake_ane_ref: testing.FakeAne, minimum: int) -> None:
    fake_ane_ref.configure(min_surface_bytes=minimum)
    result = probe_seq_bucket(Settled())
    # [1, 768, 1, 1] is 1536 bytes and S=16 24,576: both under a 49,152-byte minimum unless padded.
    expected = {"s1_exact": minimum == 0, "s1_padded": True, "smallest_exact_seq": 1 if minimum == 0 else 32}
    assert result.finding == expected, result.evidence


def test_dialect_probe_reports_a_rejected_dialect(fake_ane_ref: testing.FakeAne) -> None:
    assert probe_dialect(Settled()).finding == ["ios18", "ios16"]

    def refuse_program_1_3(mil_text, weights):
        if mil_text.lstrip().startswith("program(1.3)"):
            raise ValueError("program(1.3) is not supported by this compiler")
        testing._check_program(mil_text, weights)

    _core.ane.set_fake_compile_checker(refuse_program_1_3)
    try:
        result = probe_dialect(Settled())
    finally:
        _core.ane.set_fake_compile_checker(testing._check_program)
    assert result.finding == ["ios16"]
    assert result.evidence["ios18"].startswith("compile-error")


def test_probes_see_injected_behaviour(fake_ane_ref: testing.FakeAne) -> None:
    fake_ane_ref.configure(mode="reference", perf_stats_ns=12_345)
    perf = probe_perf_stats(Settled())
    assert perf.finding is True and perf.evidence["hw_time_s"] == pytest.approx(12_345e-9)
    fake_ane_ref.configure(mode="reference", faults={"evaluate"})
    paths = probe_execution_paths(Settled())
    assert paths.status == "failed" and paths.finding == []
