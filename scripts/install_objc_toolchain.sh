#!/usr/bin/env bash
# Install (when missing) and check the Objective-C++ toolchain that builds anekit's ANE backend on Linux
# against the fake AppleNeuralEngine framework: clang + Debian's GNUstep Base.
#
# Facts used here come from docs/internals/linux-objc-toolchain.md:
#   §2  the package set (clang, libgnustep-base-dev, libblocksruntime-dev; libclang-rt-14-dev for ASan);
#   §1  Debian 12's GNUstep is built on GCC's Objective-C runtime (libobjc.so.4 from libobjc4): no
#       objc_msgSend (the backend build adds an x86_64 trampoline, §5.2) and no ARC (MRC build + ARC
#       syntax check, §8.5);
#   §11 pitfall 15: a libobjc2 runtime also installs a libobjc.so.4; anekit's compat layer targets GCC's
#       runtime only, so a libobjc2-based GNUstep is reported with what to install instead.
#
# Usage: scripts/install_objc_toolchain.sh [--asan] [--check-only]
#   --asan        also install the clang runtime libraries needed for -fsanitize=address (§14)
#   --check-only  never call apt-get; only report what is present (exit 1 if something is missing)
#
# On success the last line printed is `ANEKIT_OBJC_RUNTIME=gcc` (the only runtime the compat layer
# supports); exit status 0. On any problem it prints what to install and exits non-zero.
set -euo pipefail

want_asan=0
check_only=0
for arg in "$@"; do
    case "$arg" in
        --asan) want_asan=1 ;;
        --check-only) check_only=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "install_objc_toolchain.sh: unknown argument '$arg' (expected --asan or --check-only)" >&2; exit 2 ;;
    esac
done

log() { echo "[install_objc_toolchain] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "$(uname -s)" in
    Darwin)
        # macOS builds use Apple's clang with ARC and the real frameworks; nothing to install.
        log "macOS: the Xcode command-line tools provide the toolchain; nothing to do."
        echo "ANEKIT_OBJC_RUNTIME=apple"
        exit 0 ;;
    Linux) ;;
    *) die "unsupported system $(uname -s); the fake-framework build needs Debian/Ubuntu Linux" ;;
esac

if [ "$(uname -m)" != "x86_64" ]; then
    # The objc_msgSend trampoline (csrc/compat/src/objc_msgsend_gnu.c) is x86_64 System V only (§5.2, §11.11).
    die "architecture $(uname -m) is not supported: the objc_msgSend trampoline exists only for x86_64"
fi

# ---------------------------------------------------------------------------------------------------
# What is missing?
# ---------------------------------------------------------------------------------------------------
missing_pkgs=()
command -v clang++ >/dev/null 2>&1 || missing_pkgs+=(clang)
if ! command -v gnustep-config >/dev/null 2>&1 || [ ! -f /usr/include/GNUstep/Foundation/Foundation.h ]; then
    missing_pkgs+=(libgnustep-base-dev)
fi
[ -f /usr/include/Block.h ] || missing_pkgs+=(libblocksruntime-dev)

asan_rt_present() {
    # clang's ASan runtime lives in its resource directory; it is absent until libclang-rt-<N>-dev exists.
    command -v clang++ >/dev/null 2>&1 || return 1
    local rd
    rd="$(clang++ -print-resource-dir 2>/dev/null)" || return 1
    ls "$rd"/lib/linux/libclang_rt.asan-x86_64.a >/dev/null 2>&1
}

if [ ${#missing_pkgs[@]} -gt 0 ] || { [ "$want_asan" = 1 ] && ! asan_rt_present; }; then
    if [ "$check_only" = 1 ]; then
        die "missing packages: ${missing_pkgs[*]:-} $([ "$want_asan" = 1 ] && ! asan_rt_present && echo 'libclang-rt-<clang major>-dev') (run without --check-only, or: apt-get install -y --no-install-recommends clang libgnustep-base-dev libblocksruntime-dev)"
    fi
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install clang, GNUstep Base (development files) and BlocksRuntime with your package manager"
    if [ "$(id -u)" != 0 ]; then
        die "need root to run apt-get; run: sudo apt-get install -y --no-install-recommends clang libgnustep-base-dev libblocksruntime-dev"
    fi
    start=$(date +%s)
    export DEBIAN_FRONTEND=noninteractive
    log "apt-get update"
    apt-get update -qq >&2
    if [ ${#missing_pkgs[@]} -gt 0 ]; then
        log "apt-get install ${missing_pkgs[*]}"
        apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >&2
    fi
    if [ "$want_asan" = 1 ] && ! asan_rt_present; then
        major="$(clang++ -dumpversion | cut -d. -f1)"
        log "apt-get install libclang-rt-${major}-dev (AddressSanitizer and ThreadSanitizer runtimes)"
        apt-get install -y -qq --no-install-recommends "libclang-rt-${major}-dev" >&2 \
            || die "could not install libclang-rt-${major}-dev (needed for --asan)"
    fi
    log "installed in $(( $(date +%s) - start )) s"
fi

command -v clang++ >/dev/null 2>&1 || die "clang++ still missing after install"
command -v gnustep-config >/dev/null 2>&1 || die "gnustep-config still missing (install libgnustep-base-dev; note: not 'gnustep-base-dev')"
if [ "$want_asan" = 1 ] && ! asan_rt_present; then
    die "clang's AddressSanitizer runtime is missing (install libclang-rt-\$(clang++ -dumpversion | cut -d. -f1)-dev)"
fi

# ---------------------------------------------------------------------------------------------------
# Which Objective-C runtime does GNUstep Base use?
# ---------------------------------------------------------------------------------------------------
base_lib="$( (ldconfig -p 2>/dev/null || true) | awk '/libgnustep-base\.so[^ ]* .*x86-64/ {print $NF}' | head -1 || true)"
[ -n "$base_lib" ] || base_lib="$(ls /usr/lib/x86_64-linux-gnu/libgnustep-base.so* 2>/dev/null | head -1 || true)"
[ -n "$base_lib" ] || die "libgnustep-base shared library not found (install libgnustep-base-dev)"
objc_lib="$( (ldd "$base_lib" || true) | awk '/libobjc\.so/ {print $3}' | head -1 || true)"
[ -n "$objc_lib" ] || die "$base_lib does not link an Objective-C runtime (libobjc); broken GNUstep install"

# Read the symbol table once (grep -q on a pipe would SIGPIPE nm and trip pipefail).
objc_symbols="$(nm -D --defined-only "$objc_lib" 2>/dev/null || true)"
if grep -qw objc_msgSend <<<"$objc_symbols"; then
    # libobjc2 (the GNUstep 2.x runtime) exports objc_msgSend and the ARC entry points. anekit's Linux
    # build is written for GCC's runtime (MRC + trampoline, -fobjc-runtime=gcc); mixing the two runtimes
    # breaks GNUstep (§11 pitfall 15).
    die "GNUstep here uses the libobjc2 runtime ($objc_lib exports objc_msgSend). anekit's Linux build supports only GCC's runtime: use Debian's packages (apt-get install clang libgnustep-base-dev libblocksruntime-dev, which pull libobjc4) and remove the source-built libobjc2 (usually /usr/local/lib/libobjc.so.4)"
fi
grep -qw objc_msg_lookup <<<"$objc_symbols" \
    || die "$objc_lib exports neither objc_msgSend nor objc_msg_lookup: unknown Objective-C runtime"
gcc_include="$(gcc -print-file-name=include 2>/dev/null || true)"
[ -n "$gcc_include" ] && [ -f "$gcc_include/objc/objc.h" ] \
    || die "GCC's <objc/objc.h> not found under '$gcc_include' (install libobjc-$(gcc -dumpversion | cut -d. -f1)-dev)"

log "clang++: $(clang++ --version | head -1)"
log "GNUstep Base: $base_lib on GCC runtime $objc_lib (objc_msgSend via anekit's trampoline, MRC build)"
echo "ANEKIT_OBJC_RUNTIME=gcc"
