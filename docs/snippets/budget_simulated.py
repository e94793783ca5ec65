"""The compile budget on any machine: anekit refuses a compile past its limit before spending it, and the
reference backend can simulate what the ANE itself does past its own limit."""

import numpy as np

import anekit
from anekit import budget, mil


def scaled(k: float) -> mil.Program:
    @mil.program(inputs={"x": mil.tensor((1, 32, 1, 32), "fp16")})
    def prog(mb, x):
        return {"y": mb.mul(x=x, y=np.float16(k))}

    return prog


print(f"used {budget.used()} of {budget.limit()}, {budget.remaining()} left")

# The reference backend has no budget of its own; simulate() gives it the ANE's (ANEKIT_SIMULATE_COMPILE_LIMIT).
with budget.simulate(limit=1000):
    # anekit's own limit (ANEKIT_COMPILE_LIMIT): the compile past it is refused before any backend is called.
    # The limit keeps a safety margin in reserve (the last compiles before the real end can fail silently).
    budget.set_limit(budget.used() + 2 + budget.safety_margin())
    try:
        kernels = [anekit.compile(scaled(k), backend="reference") for k in (1, 2)]
        anekit.compile(scaled(1), backend="reference").close()  # a repeat comes from the content cache: free
        try:
            anekit.compile(scaled(3), backend="reference")
        except anekit.CompileBudgetExceeded as exc:
            print("refused:", str(exc).splitlines()[0])
        for k in kernels:
            k.close()
    finally:
        budget.set_limit(None)  # back to ANEKIT_COMPILE_LIMIT

# Past the device's own limit, the "device" fails the compile, as the real one does after ~119 compiles.
with budget.simulate(limit=budget.used()):
    try:
        anekit.compile(scaled(4), backend="reference")
    except anekit.CompileError as exc:
        print("simulated device failure:", str(exc).splitlines()[0])
