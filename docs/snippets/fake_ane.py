"""Drive the Objective-C++ backend on Linux against the bundled fake framework (needs ANEKIT_BUILD_ANE=ON)."""

import numpy as np

import anekit
from anekit import mil, testing


@mil.program(inputs={"x": mil.tensor((1, 64, 1, 32), "fp16")})
def double(mb, x):
    return {"y": mb.mul(x=x, y=np.float16(2.0))}


with testing.fake_ane(mode="reference"):  # evaluation delegates to the reference executor
    assert anekit.info()["ane_fake"]
    with anekit.compile(double, backend="ane") as kernel:  # the real Objective-C++ code path
        y = kernel(x=np.ones((64, 32)))["y"]
    assert np.all(y == 2.0)
    print(anekit.verify(double, backend="ane").format())
