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
# pull a multi-GB CUDA build on Linux. coremltools provides the numpy value_inference oracle.
"$PY" -m pip install --quiet --disable-pip-version-check "torch==2.13.0" "coremltools==9.0" "ruff==0.17.6"

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

step "Benchmark smoke runs"
# Short runs: they keep the scripts working; the figures that count come from full runs.
for bench in bench_io bench_mil bench_reference bench_dispatch bench_budget; do
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
