"""The recycling pool refuses what validation marks as an error before a worker sees it (issue #11 item 13)."""

from __future__ import annotations

import numpy as np
import pytest

from anekit import _core, mil
from anekit.errors import MILError
from anekit.runtime.pool import WorkerPool

TEXT = (
    "program(1.3)\n{{\n"
    "    func main<ios18>(tensor<fp16, [{dims}]> x) {{\n"
    '            tensor<fp16, [{dims}]> y = relu(x = x)[name = string("y")];\n'
    "        }} -> (y);\n}}\n"
)


def test_the_pool_refuses_an_invalid_program_without_starting_or_using_a_worker() -> None:
    prog = mil.parse(TEXT.format(dims=f"1, {2**31}, 1, 1"))  # ane-dim-limit: 8 GB of shared memory otherwise
    spent = _core.compile_count()
    with WorkerPool(per_worker=4) as pool:
        for cache in (True, False):
            with pytest.raises(MILError, match=r"fails validation, nothing was compiled(.|\n)*ane-dim-limit"):
                pool.compile(prog, backend="reference", cache=cache)
        assert pool.stats.compiles == 0 and pool.stats.workers_started == 0
        assert _core.compile_count() == spent
        # A valid program still goes through.
        with pool.compile(mil.parse(TEXT.format(dims="1, 4, 1, 8")), backend="reference") as k:
            x = np.linspace(-1, 1, 32, dtype=np.float32).reshape(1, 4, 1, 8)
            np.testing.assert_array_equal(k(x=x)["y"], np.maximum(x.astype(np.float16), 0))
