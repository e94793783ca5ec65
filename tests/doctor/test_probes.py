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


@pytest.mark.parametrize("rule", ["declaration", "alphabetical", "alphabetical_ci"])
def test_order_probes_report_the_fakes_binding_rule(fake_ane_ref: testing.FakeAne, rule: str) -> None:
    _core.ane.set_fake_evaluator(binding_evaluator(rule))
    inputs = probe_input_order(Settled())
    outputs = probe_output_order(Settled())
    assert (inputs.status, inputs.finding) == ("ok", rule), inputs.evidence
    assert (outputs.status, outputs.finding) == ("ok", rule), outputs.evidence


def test_order_probe_fails_when_no_rule_explains_the_output(fake_ane_ref: testing.FakeAne) -> None:
    reference = testing._ReferenceEvaluator()

    def swap_two(mil_text, weights, inputs, outputs):  # a wiring no candidate rule produces
        names = list(inputs)
        reference(mil_text, weights, {names[0]: inputs[names[0]], names[1]: inputs[names[2]],
                                      names[2]: inputs[names[1]]}, outputs)  # fmt: skip

    _core.ane.set_fake_evaluator(swap_two)
    result = probe_input_order(Settled())
    assert result.status == "failed" and result.finding.startswith("unexplained")


def test_allocation_probe_reports_exact_sizes_on_the_exact_fake(fake_ane_ref: testing.FakeAne) -> None:
    settled = Settled()
    result = probe_allocation(settled)
    assert result.finding == "exact", result.evidence
    assert result.evidence["uniform"].startswith("eval-error")
    assert settled.allocation.rule == "exact"


def test_min_surface_sweep_starts_at_the_known_good_size(fake_ane_ref: testing.FakeAne) -> None:
    result = probe_min_surface(Settled())
    sizes = [int(case.split()[0]) for case in result.evidence]
    assert sizes[0] == KNOWN_GOOD_BYTES and sizes == sorted(sizes, reverse=True)
    assert result.finding["min_surface_bytes"] is None  # the exact fake takes any size


def test_probes_lay_out_surfaces_as_asked(fake_ane_ref: testing.FakeAne) -> None:
    x = np.arange(16 * 32, dtype=np.float16).reshape(1, 16, 1, 32) % 7
    program = identity_program(16, 32, scale=2.0)
    assert run_raw(program, [x], allocation=Allocation("exact")).verdict(x * np.float16(2)) == "ok"
    padded = run_raw(program, [x], allocation=Allocation("exact", KNOWN_GOOD_BYTES))
    assert padded.status == "eval-error" and "49152" in padded.detail  # the fake checks the size we asked for


def test_seq_bucket_probe(fake_ane_ref: testing.FakeAne) -> None:
    result = probe_seq_bucket(Settled())
    assert result.finding == {"s1_exact": True, "s1_padded": False, "smallest_exact_seq": 1}


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
