"""The first program of the user guide: build, validate, compile, run, verify (any machine)."""

import numpy as np

import anekit
from anekit import mil

rng = np.random.default_rng(0)
w = (rng.standard_normal((256, 256, 1, 1)) / 16).astype(np.float16)  # conv weight [OC, IC, 1, 1]


# 1. Build: a 1×1 conv (the ANE's linear layer) + relu on the canonical [1, C, 1, S] layout.
@mil.program(inputs={"x": mil.tensor((1, 256, 1, 64), "fp16")}, opset="ios18")
def block(mb, x):
    return {"y": mb.relu(x=mb.conv(x=x, weight=w, pad_type="valid"))}


# 2. Inspect and validate before spending a compile.
print(block.to_mil()[:200])  # the MIL text the ANE compiler receives
print(mil.summarize(block))  # ops, parameters, weights, FLOPs
print(mil.validate(block))  # structural and ANE rules (block.check() raises on errors)
print(mil.validate(block, verbose=True))  # also the infos that call for no action

# 3. Compile on the best available backend (the ANE on a Mac, the reference executor elsewhere) and run.
x = rng.standard_normal((256, 64))  # any float dtype; [C, S] is reshaped to [1, C, 1, S]
with anekit.compile(block) as kernel:
    print(kernel.backend)
    y = kernel(x=x)["y"]  # float32, shape (1, 256, 1, 64)
    print(y.shape, y.dtype)

# 4. Verify against the CPU reference executor with the ANE's fp16 semantics.
report = anekit.verify(block, backend=kernel.backend)
print(report.format())
assert report.passed
