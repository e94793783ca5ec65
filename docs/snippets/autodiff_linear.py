"""The autodiff guide: derive the backward of a layer whose weight is an input, run both, check the gradients."""

import numpy as np

import anekit
from anekit import autodiff, mil

C_IN, C_OUT, S = 64, 96, 32


SWAP = np.array([0, 1, 3, 2], np.int32)


def linear(mb, x, w):
    """W x over channels, with W^T a run-time input [1, IN, 1, OUT] (both in the ANE's [1, C, 1, S] layout)."""
    xt = mb.transpose(x=mb.reshape(x=x, shape=np.array([1, 1, C_IN, S], np.int32)), perm=SWAP)  # [1, 1, S, IN]
    y = mb.matmul(x=xt, y=mb.reshape(x=w, shape=np.array([1, 1, C_IN, C_OUT], np.int32)))  # [1, 1, S, OUT]
    return mb.reshape(x=mb.transpose(x=y, perm=SWAP), shape=np.array([1, C_OUT, 1, S], np.int32))


# 1. A forward whose weight is a function input (a training loop updates it without recompiling).
@mil.program(inputs={"x": mil.tensor((1, C_IN, 1, S), "fp16"), "w": mil.tensor((1, C_IN, 1, C_OUT), "fp16")})
def layer(mb, x, w):
    h = linear(mb, x, w)
    return {"y": mb.mul(x=h, y=mb.sigmoid(x=h))}  # SiLU


# 2. Derive the backward: inputs x, w and the cotangent grad_y; outputs grad_x and grad_w.
g = autodiff.vjp(layer, wrt=["x", "w"])
print(g)
print(list(g.backward.main.inputs), [v.name for v in g.backward.main.outputs])
print(mil.validate(g.backward))  # the ANE rules apply to backward programs too

# 3. Run both like any program (the ANE on a Mac, the reference executor elsewhere).
rng = np.random.default_rng(0)
x = rng.standard_normal((1, C_IN, 1, S)).astype(np.float16)
w = (rng.standard_normal((1, C_IN, 1, C_OUT)) / 8).astype(np.float16)
dy = rng.standard_normal((1, C_OUT, 1, S)).astype(np.float16)
with anekit.compile(layer) as fwd, anekit.compile(g.backward) as bwd:
    y = fwd(x=x, w=w)["y"]
    grads = bwd(x=x, w=w, grad_y=dy)

# 4. Check against the gradient written out by hand in float64.
w64, x64 = w[0, :, 0].astype(np.float64), x[0, :, 0].astype(np.float64)  # [IN, OUT], [IN, S]
h = w64.T @ x64
s = 1 / (1 + np.exp(-h))
dh = dy[0, :, 0] * (s * (1 + h * (1 - s)))
want_w = (x64 @ dh.T)[None, :, None, :]  # dL/dW^T = x dh^T
err = np.max(np.abs(grads["grad_w"] - want_w)) / np.max(np.abs(want_w))
print(f"grad_w: largest error {err:.1e} of max |grad_w|")
assert err < 1e-2

# 5. Save activations instead of recomputing them: the forward returns them, the backward takes them.
a = autodiff.vjp(layer, wrt=["x", "w"], save="activations")
print(a.saved, [v.name for v in a.forward.main.outputs])
