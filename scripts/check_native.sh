#!/usr/bin/env bash
# Run the native test of the Objective-C++ ANE backend (tests/objc/native/ane_native_test.cpp) against the
# fake framework under AddressSanitizer and/or valgrind, and the stress test of the conversion thread pool
# (tests/native/core/parallel_test.cpp) under ThreadSanitizer. On Linux the backend is built with manual
# retain/release, and MRC lifetime mistakes in the .mm files only show up under these tools
# (docs/internals/linux-objc-toolchain.md §7 rule 1, §14). Also runs the ARC syntax check (§8.5).
#
# Usage: scripts/check_native.sh [--asan] [--valgrind] [--tsan] [--cycles N]
#   (no mode flag = all three). Build directories: build/native-asan, build/native-valgrind.
# Prints the test's "N passed, N failed" line per mode; exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
modes=()
cycles=1000
while [ $# -gt 0 ]; do
    case "$1" in
        --asan) modes+=(asan) ;;
        --valgrind) modes+=(valgrind) ;;
        --tsan) modes+=(tsan) ;;
        --cycles) cycles="$2"; shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "check_native.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done
[ ${#modes[@]} -gt 0 ] || modes=(asan valgrind tsan)

log() { echo "[check_native] $*" >&2; }

# The toolchain (and, for ASan, clang's sanitizer runtime) must be present.
asan_flag=()
for m in "${modes[@]}"; do [ "$m" = asan ] || [ "$m" = tsan ] && asan_flag=(--asan); done
bash "$here/install_objc_toolchain.sh" "${asan_flag[@]}" >/dev/null
for m in "${modes[@]}"; do
    if [ "$m" = valgrind ] && ! command -v valgrind >/dev/null 2>&1; then
        log "installing valgrind"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
    fi
done

# The top-level CMakeLists.txt needs pybind11 even for these targets; an isolated `pip install .` does not
# leave it in the environment.
if ! python3 -m pybind11 --cmakedir >/dev/null 2>&1; then
    log "installing pybind11 (needed to configure the project)"
    python3 -m pip install --quiet --disable-pip-version-check "pybind11>=2.12"
fi
pybind11_dir="$(python3 -m pybind11 --cmakedir)"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

build() {  # build <dir> <extra flags>
    local dir="$1" flags="$2"
    # clang for every language, so that one sanitizer runtime is used throughout.
    cmake -S "$repo" -B "$dir" "${generator[@]}" -Wno-dev \
        -DCMAKE_BUILD_TYPE=Debug \
        -DCMAKE_C_COMPILER="$(command -v clang)" -DCMAKE_CXX_COMPILER="$(command -v clang++)" \
        -DCMAKE_OBJCXX_COMPILER="$(command -v clang++)" \
        "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_OBJCXX_FLAGS=$flags" \
        "-DCMAKE_EXE_LINKER_FLAGS=$flags" "-DCMAKE_MODULE_LINKER_FLAGS=$flags" \
        -DANEKIT_BUILD_ANE=ON -DANEKIT_BUILD_NATIVE_TESTS=ON -DANEKIT_ARC_CHECK=ON \
        -Dpybind11_DIR="$pybind11_dir" >"$dir.configure.log" 2>&1 \
        || { cat "$dir.configure.log" >&2; return 1; }
    cmake --build "$dir" --target anekit_ane_native_test anekit_fake_ane anekit_arc_check -j 2 \
        >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log" >&2; return 1; }
}

status=0
for mode in "${modes[@]}"; do
    dir="$repo/build/native-$mode"
    mkdir -p "$repo/build"
    start=$(date +%s)
    case "$mode" in
        asan)
            build "$dir" "-fsanitize=address -fno-omit-frame-pointer -g"
            log "AddressSanitizer build ready in $(( $(date +%s) - start )) s; running $cycles cycles"
            # One-time class tables and +initialize allocations of libobjc/GNUstep are reported as leaks
            # (§14); leaks in anekit's own objects are caught by the fake's live counters in the test.
            printf 'leak:libobjc.so\nleak:libgnustep-base.so\n' >"$dir/lsan.supp"
            if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
                LSAN_OPTIONS="suppressions=$dir/lsan.supp:print_suppressions=0" \
                "$dir/anekit_ane_native_test" "$dir/libFakeAppleNeuralEngine.so" "$cycles"; then
                log "AddressSanitizer run FAILED"
                status=1
            fi
            ;;
        tsan)
            # Plain C++ with no framework: compiled directly, the pool's source and its test only.
            mkdir -p "$dir"
            clang++ -std=c++17 -O1 -g -fsanitize=thread -I"$repo/csrc" "$repo/tests/native/core/parallel_test.cpp" \
                "$repo/csrc/core/parallel.cpp" -o "$dir/parallel_test" -lpthread
            log "ThreadSanitizer build ready in $(( $(date +%s) - start )) s"
            if ! TSAN_OPTIONS=halt_on_error=1 "$dir/parallel_test" 100; then
                log "ThreadSanitizer run FAILED"
                status=1
            fi
            ;;
        valgrind)
            # valgrind 3.19 cannot read clang 14's default DWARF 5 (§11 pitfall 14).
            build "$dir" "-gdwarf-4"
            log "valgrind build ready in $(( $(date +%s) - start )) s; running $(( cycles / 10 )) cycles"
            if ! valgrind --quiet --error-exitcode=99 --leak-check=no --track-origins=no \
                --suppressions="$repo/tests/objc/native/valgrind.supp" \
                "$dir/anekit_ane_native_test" "$dir/libFakeAppleNeuralEngine.so" "$(( cycles / 10 ))"; then
                log "valgrind run FAILED"
                status=1
            fi
            ;;
    esac
    log "$mode done in $(( $(date +%s) - start )) s"
done
exit $status
