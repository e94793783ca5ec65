"""anekit.budget: counting from the native counter, limit/margin/policy API, the reference backend's simulated
limit (loud and silent), and the policies applied by anekit.compile."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

import numpy as np
import pytest

import anekit
from anekit import budget, config, mil
from anekit.errors import CompileBudgetExceeded, CompileError

_seeds = itertools.count(10_000)


def fresh_program(c: int = 4, s: int = 8) -> mil.Program:
    """A tiny weight-bearing program never compiled before in this process (distinct weights)."""
    w = np.random.default_rng(next(_seeds)).standard_normal((c, c, 1, 1)).astype(np.float16)

    @mil.program(inputs={"x": mil.tensor((1, c, 1, s), "fp16")}, opset="ios18")
    def prog(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.conv(x=x, weight=w, pad_type="valid")

    return prog


@pytest.fixture(autouse=True)
def _reset_budget() -> Iterator[None]:
    yield
    budget.set_policy(None)
    budget.set_limit(None)
    budget.set_safety_margin(None)


def test_defaults_come_from_config() -> None:
    assert budget.limit() == config.get().compile_limit
    assert config.get().compile_safety_margin is None  # not set: the default applies
    assert budget.safety_margin() == 4  # issue #10: a few compiles short of a limit that varies by machine
    with config.override(compile_limit=3):
        assert budget.safety_margin() == 2  # the default never leaves less than one compile
    assert budget.get_policy() == config.get().budget_policy
    with config.override(compile_limit=77, compile_safety_margin=5, budget_policy="warn"):
        assert (budget.limit(), budget.safety_margin(), budget.get_policy()) == (77, 5, "warn")
        with budget.simulate(10**6):  # a limit applies to the reference backend only while simulated
            assert budget.remaining() == max(0, 72 - budget.used())


def test_used_is_the_native_counter_and_counts_every_compile() -> None:
    before = budget.used()
    assert before == anekit._core.compile_count()
    with anekit.compile(fresh_program(), backend="reference"):
        pass
    with anekit.compile(fresh_program(), backend="reference", cache=False):
        pass
    assert budget.used() == before + 2


def test_setters_validate_and_remaining_follows() -> None:
    budget.set_limit(budget.used() + 10)
    budget.set_safety_margin(3)
    assert budget.remaining() is None  # off the ANE no limit applies (issue #12) ...
    with budget.simulate(10**6):
        assert budget.remaining() == 7  # ... unless one is simulated
    budget.set_limit(None)
    assert budget.limit() == config.get().compile_limit
    with pytest.raises(ValueError, match="positive int"):
        budget.set_limit(0)
    with pytest.raises(ValueError, match="above the safety margin"):
        budget.set_limit(2)
    with pytest.raises(ValueError, match="set_safety_margin"):
        budget.set_safety_margin(-1)
    with pytest.raises(ValueError, match="unknown budget policy 'hope'"):
        budget.set_policy("hope")
    with pytest.raises(ValueError, match="unknown budget policy"), budget.policy("nope"):
        pass


def test_policy_context_overrides_set_policy_and_restores() -> None:
    budget.set_policy("warn")
    with budget.policy("raise"):
        assert budget.get_policy() == "raise"
        with budget.policy("recycle"):
            assert budget.get_policy() == "recycle"
        assert budget.get_policy() == "raise"
    assert budget.get_policy() == "warn"


def test_raise_policy_raises_at_the_right_count_with_the_numbers() -> None:
    start = budget.used()
    budget.set_limit(start + 5)
    budget.set_safety_margin(2)  # 3 compiles allowed
    with budget.simulate(start + 100):  # give the reference backend a budget (far above the limit)
        for _ in range(3):
            anekit.compile(fresh_program(), backend="reference").close()
        assert budget.used() == start + 3
        assert budget.remaining() == 0
        with pytest.raises(CompileBudgetExceeded) as info:
            anekit.compile(fresh_program(), backend="reference")
    err = info.value
    assert (err.used, err.limit) == (start + 3, start + 3)
    msg = str(err)
    assert f"{start + 3} of {start + 3}" in msg
    assert f"limit {start + 5} minus safety margin 2" in msg
    assert "recycle" in msg
    assert "restart_if_needed" in msg
    assert budget.used() == start + 3  # refused before the backend was called


def test_warn_policy_warns_and_compiles() -> None:
    anekit.compile(fresh_program(), backend="reference").close()
    budget.set_limit(budget.used())
    budget.set_policy("warn")
    before = budget.used()
    # The reference backend has a budget only while one is simulated (a generous one here).
    with budget.simulate(budget.used() + 100), pytest.warns(budget.CompileBudgetWarning, match="passes the compile"):
        anekit.compile(fresh_program(), backend="reference").close()
    assert budget.used() == before + 1


def test_reference_backend_has_no_budget_unless_simulated() -> None:
    budget.set_limit(budget.used())
    assert not budget.backend_has_budget("reference")
    anekit.compile(fresh_program(), backend="reference").close()  # no limit to pass
    with budget.simulate(budget.used() + 100):
        assert budget.backend_has_budget("reference")
        with pytest.raises(CompileBudgetExceeded):
            anekit.compile(fresh_program(), backend="reference")
    assert budget.backend_has_budget("ane")


def test_cache_hits_are_free_even_past_the_limit() -> None:
    prog = fresh_program()
    anekit.compile(prog, backend="reference").close()
    budget.set_limit(budget.used())  # nothing left
    before = budget.used()
    x = np.ones((1, 4, 1, 8), np.float32)
    with anekit.compile(prog, backend="reference") as k:
        assert k(x=x)
    assert budget.used() == before


def test_a_limit_below_the_configured_one_raises_budget_exceeded_naming_it() -> None:
    """Issue #10: the compiler failing below the configured limit is the budget's end, not a raw CompileError."""
    n = budget.used() + 2
    assert budget.allowed() > n + 10  # the configured limit is far above the real (simulated) one
    with budget.simulate(n):
        anekit.compile(fresh_program(), backend="reference").close()
        anekit.compile(fresh_program(), backend="reference").close()
        with pytest.raises(CompileBudgetExceeded, match=rf"real compile limit is {n} below \(anekit allowed") as info:
            anekit.compile(fresh_program(), backend="reference")
        assert (info.value.used, info.value.limit) == (n, n)
        assert isinstance(info.value, budget.CompileBudgetExhausted)
        assert isinstance(info.value, CompileError)  # the compiler did reject it: `except CompileError` still works
        assert isinstance(info.value.__cause__, CompileError)
        assert "simulated ANE compile failure" in str(info.value.__cause__)
        # The failed attempt and the canary are both counted (docs/internals/ane-private-api.md §16.2).
        assert budget.used() == n + 2
        assert budget.observed_limit() == n
        assert budget.allowed() == n
        # Learned: the next compile is refused before reaching the compiler.
        with pytest.raises(CompileBudgetExceeded, match="the limit observed in this process"):
            anekit.compile(fresh_program(), backend="reference")
        assert budget.used() == n + 2
    budget.set_limit(None)
    assert budget.observed_limit() is None


def test_a_genuine_compile_error_after_earlier_compiles_stays_a_compile_error() -> None:
    """The canary passes, so an invalid program is reported as itself, and nothing is learned."""
    from anekit.runtime.reference import ReferenceBackend

    class Picky(ReferenceBackend):
        name = "picky"  # a backend with a budget that rejects one program

        def compile(self, program: mil.Program, *, function: str, options: object) -> object:
            if program is bad:
                anekit._core._note_compile()
                raise CompileError("picky: this program is invalid")
            return super().compile(program, function=function, options={})

    bad = fresh_program()
    anekit.compile(fresh_program(), backend="reference").close()  # used() > 0
    before = budget.used()
    picky = Picky()
    with pytest.raises(CompileError, match="this program is invalid") as info:
        budget.compile_within_budget(picky, lambda: picky.compile(bad, function="main", options={}))
    assert not isinstance(info.value, CompileBudgetExceeded)
    assert budget.used() == before + 2  # the failed compile and the canary
    assert budget.observed_limit() is None


def test_simulated_silent_failure_returns_zeros() -> None:
    prog = fresh_program()
    x = np.random.default_rng(0).standard_normal((1, 4, 1, 8))
    with budget.simulate(budget.used(), failure="silent"), anekit.compile(prog, backend="reference") as k:
        out = k(x=x)
    (y,) = out.values()
    assert not np.any(y)
    with anekit.compile(fresh_program(), backend="reference") as good:
        assert np.any(good(x=x)["conv_0"])


def test_simulate_validates() -> None:
    with pytest.raises(ValueError, match="simulate_compile_failure"), budget.simulate(1, failure="loud"):
        pass
    with pytest.raises(ValueError, match="simulate_compile_latency_ms"), budget.simulate(1, latency_ms=-1):
        pass


def test_simulated_latency_is_spent_per_compile() -> None:
    import time

    with budget.simulate(None, latency_ms=30):
        t0 = time.perf_counter()
        anekit.compile(fresh_program(), backend="reference", cache=False).close()
        assert time.perf_counter() - t0 >= 0.03


def test_environment_knobs_are_parsed() -> None:
    cfg = config.from_env(
        {
            "ANEKIT_SIMULATE_COMPILE_LATENCY_MS": "12.5",
            "ANEKIT_BUDGET_POLICY": "recycle",
            "ANEKIT_COMPILE_SAFETY_MARGIN": "4",
            "ANEKIT_CACHE_SIZE": "8",
        }
    )
    assert (cfg.simulate_compile_latency_ms, cfg.budget_policy, cfg.compile_safety_margin, cfg.cache_size) == (
        12.5,
        "recycle",
        4,
        8,
    )
    with pytest.raises(ValueError, match="budget_policy"):
        config.from_env({"ANEKIT_BUDGET_POLICY": "pray"})
    with pytest.raises(ValueError, match="must be a number"):
        config.from_env({"ANEKIT_SIMULATE_COMPILE_LATENCY_MS": "slow"})


def _fake_ane_or_skip() -> object:
    from anekit.errors import AneUnavailableError

    try:
        from anekit.testing import fake_ane, fake_framework_path

        fake_framework_path()
    except (ImportError, AneUnavailableError) as exc:
        pytest.skip(f"the fake ANE framework is not available in this build: {exc}")
    return fake_ane


def test_fake_framework_budget_through_objective_c() -> None:
    """Counting, cache and policy through the Objective-C++ path, against the fake's injected budget."""
    fake_ane = _fake_ane_or_skip()
    with fake_ane(compile_budget=2) as fake:  # type: ignore[operator]
        start = budget.used()
        prog = fresh_program()
        x = np.random.default_rng(3).standard_normal((1, 4, 1, 8))
        with anekit.compile(prog, backend="ane") as k:
            got = k(x=x)["conv_0"]
        from anekit.reference import run as reference_run

        np.testing.assert_array_equal(got, reference_run(prog, {"x": x})["conv_0"].astype(np.float32))
        assert budget.used() == start + 1  # counted in C++ by the ANE backend
        anekit.compile(prog, backend="ane").close()  # a cache hit: neither the counter nor the fake moves
        assert budget.used() == start + 1
        assert fake.stats()["compileAttempts"] == 1
        budget.set_safety_margin(0)
        budget.set_limit(start + 2)
        anekit.compile(fresh_program(), backend="ane").close()
        with pytest.raises(CompileBudgetExceeded, match=f"{start + 2} of {start + 2}"):
            anekit.compile(fresh_program(), backend="ane")
        assert fake.stats()["compileAttempts"] == 2  # refused before the framework was called
        budget.set_limit(None)
        # The fake's own limit, loud, below the configured one: the canary fails too, so the budget's end.
        with pytest.raises(CompileBudgetExceeded, match=f"real compile limit is {start + 2}") as info:
            anekit.compile(fresh_program(), backend="ane")
        assert "compile budget of 2 exhausted" in str(info.value.__cause__)
        assert fake.stats()["compileAttempts"] == 4  # the failed compile and the canary reached the fake


def test_off_the_ane_counts_are_reported_without_a_limit() -> None:
    """Issue #12: 130 reference compiles later, nothing claims the budget ran out, and the report says why."""
    budget.set_limit(budget.used() + 5)
    for _ in range(8):  # past the limit: nothing is refused, since no limit applies
        anekit.compile(fresh_program(), backend="reference").close()
    assert not budget.applies("reference")
    assert budget.remaining() is None
    rep = budget.report("reference")
    assert (rep.applies, rep.remaining, rep.used) == (False, None, budget.used())
    text = str(rep)
    assert repr(rep) == text  # the REPL shows the explanation, not a field dump
    assert "no limit: compiles are counted, never refused" in text
    assert f"{budget.used()} compiles in this process" in text
    assert "<table>" in rep._repr_html_() and "never refused" in rep._repr_html_()
    with budget.simulate(10**6):
        on = budget.report("reference")
        assert on.applies and on.remaining == 0
        assert f"limit {budget.limit()} minus safety margin {budget.safety_margin()}" in str(on)
    info = anekit.info()["budget"]
    assert info["applies"] is False and info["remaining"] is None and info["used"] == budget.used()


def test_report_escapes_html_and_lists_every_number() -> None:
    rep = budget.BudgetReport(
        used=3, applies=True, backend="ane", limit=119, safety_margin=4, observed_limit=90, allowed=90,
        remaining=87, in_flight=2, policy="<raise>",
    )  # fmt: skip
    text = str(rep)
    assert "90 compiles per process" in text and "failed after 90 compiles" in text
    assert "87 (2 compiling now)" in text
    assert "&lt;raise&gt;" in rep._repr_html_()
    assert rep.as_dict()["observed_limit"] == 90


@pytest.mark.parametrize("backend", ["reference", "ane"])
def test_concurrent_compiles_spend_exactly_the_limit(backend: str) -> None:
    """Issue #11 item 8: 8 threads x 10 uncached compiles with 20 allowed spend exactly 20, never more."""
    from _helpers import run_in_threads

    with contextlib.ExitStack() as stack:
        if backend == "ane":
            stack.enter_context(_fake_ane_or_skip()())  # type: ignore[operator]
        else:
            stack.enter_context(budget.simulate(10**6, latency_ms=20))  # a limit applies; compiles take time
        budget.set_safety_margin(0)
        start = budget.used()
        budget.set_limit(start + 20)
        refused: list[int] = []

        def work(i: int) -> None:
            for _ in range(10):
                try:
                    anekit.compile(fresh_program(), backend=backend, cache=False).close()
                except CompileBudgetExceeded:
                    refused.append(i)

        assert not run_in_threads(work, 8, timeout=120)
        assert budget.used() - start == 20
        assert len(refused) == 60
        assert budget.slots_in_flight() == 0
