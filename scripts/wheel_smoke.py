"""Smoke test of an installed anekit wheel, run in a fresh environment (cibuildwheel's test-command, and the
wheel step of scripts/test.sh): the extension imports, the version is the project's, a tiny program builds,
validates, compiles on the reference backend and computes the right numbers, and the console script answers.

Run it from outside the source tree so that the installed package, not python/anekit, is imported.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version

import numpy as np

import anekit
from anekit import mil


def main() -> int:
    assert anekit.__file__ and "site-packages" in anekit.__file__, f"not the installed wheel: {anekit.__file__}"
    assert anekit.__version__ == version("anekit"), (anekit.__version__, version("anekit"))

    @mil.program(inputs={"x": mil.tensor((1, 8, 1, 16), "fp16")})
    def prog(mb: mil.Builder, x: mil.Var) -> mil.Var:
        return mb.relu(x=mb.mul(x=x, y=2.0))

    assert not [d for d in mil.validate(prog) if d.severity == "error"]
    x = np.linspace(-1, 1, 128, dtype=np.float32).reshape(1, 8, 1, 16)
    with anekit.compile(prog, backend="reference") as kernel:
        y = kernel(x)["relu_0"]
    np.testing.assert_allclose(y, np.maximum(2 * x, 0), rtol=2**-10, atol=2**-11)
    assert anekit.verify(prog, backend="reference").passed

    script = shutil.which("anekit")
    assert script, "the anekit console script is not on PATH"
    out = subprocess.run([script, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"anekit {anekit.__version__}", out
    print(f"wheel smoke test passed: anekit {anekit.__version__} from {anekit.__file__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
