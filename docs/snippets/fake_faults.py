"""Inject a framework failure with the fake and check that anekit reports it (needs ANEKIT_BUILD_ANE=ON)."""

import anekit
from anekit import mil, testing


@mil.program(inputs={"x": mil.tensor((1, 64, 1, 32), "fp16")})
def ident(mb, x):
    return {"y": mb.identity(x=x)}


with testing.fake_ane(faults={"compile"}):  # the fake's compileWithQoS: returns NO with an NSError
    try:
        anekit.compile(ident, backend="ane", cache=False)
    except anekit.CompileError as exc:
        print("compile failed as injected:", exc)
    else:
        raise SystemExit("the injected compile failure was not reported")
