"""More compiles than one process may make: the "recycle" policy runs kernels in replaceable worker processes."""

import os

import numpy as np

# Give the reference backend a tiny simulated per-process budget (set before importing anekit, so the worker
# processes inherit it), to see recycling happen on any machine. On a Mac the ANE's real limit plays this role.
os.environ["ANEKIT_SIMULATE_COMPILE_LIMIT"] = "4"
os.environ["ANEKIT_COMPILE_LIMIT"] = "4"

import anekit
from anekit import budget, mil


def scaled(k: int) -> mil.Program:
    @mil.program(inputs={"x": mil.tensor((1, 32, 1, 32), "fp16")})
    def prog(mb, x):
        return {"y": mb.mul(x=x, y=np.float16(k))}

    return prog


x = np.ones((32, 32), np.float32)
with budget.policy("recycle"):
    for k in range(10):  # 10 distinct programs, 2.5 times one process's budget
        with anekit.compile(scaled(k), backend="reference") as kernel:
            assert np.all(kernel(x=x)["y"] == k)
print("10 programs compiled and run; compiles spent in this process:", budget.used())
