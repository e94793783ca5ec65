"""Fake-framework behaviours for the doctor tests (also entered by pool workers: keep it importable alone)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable, Iterator
from typing import Any

from anekit import _core, testing

#: The fake's own evaluator, captured at import (tests may patch the name in anekit.testing).
_Reference = testing._ReferenceEvaluator


def binding_evaluator(rule: str) -> Any:
    """A fake evaluation callback that binds surfaces by ``rule`` instead of declaration order.

    The fake hands the callback surface ``k`` under the ``k``-th declared name; under ``"alphabetical"``
    (bytewise) or ``"alphabetical_ci"`` the device would give it to the ``k``-th name in that order, for inputs
    and outputs alike (Orion docs/ane_constraints.md #3/#13).
    """
    reference = _Reference()

    def order(names: list[str]) -> list[str]:
        if rule == "alphabetical":
            return sorted(names)
        if rule == "alphabetical_ci":
            return sorted(names, key=lambda n: (n.lower(), n))
        return list(names)

    def evaluate(mil_text: str, weights: Any, inputs: dict[str, memoryview], outputs: dict[str, memoryview]) -> None:
        fn = reference._executor(mil_text, weights).function
        declared_in = list(fn.inputs)
        declared_out = [v.name for v in fn.outputs]
        rebound_in = {name: inputs[declared_in[k]] for k, name in enumerate(order(declared_in))}
        rebound_out = {name: outputs[declared_out[k]] for k, name in enumerate(order(declared_out))}
        reference(mil_text, weights, rebound_in, rebound_out)

    return evaluate


@contextlib.contextmanager
def rejecting_fake(ops: Iterable[str], crash: Iterable[str] = ()) -> Iterator[testing.FakeAne]:
    """:func:`anekit.testing.fake_ane` whose compiler refuses programs using any of ``ops`` (as Orion saw
    ``concat`` and ``gelu`` refused, docs/ane_constraints.md #1/#10) and kills the process (SIGSEGV) on any of
    ``crash``, for pool workers."""
    refused, fatal = set(ops), set(crash)

    def check(mil_text: str, weights: Any) -> None:
        program = testing._parse(mil_text, weights)
        used = {op.op_type for f in program.functions.values() for op in f.operations}
        if used & fatal:
            os.kill(os.getpid(), signal.SIGSEGV)
        if used & refused:
            raise ValueError(f"unsupported op(s) {sorted(used & refused)}")

    with testing.fake_ane() as handle:
        _core.ane.set_fake_compile_checker(check)
        yield handle
