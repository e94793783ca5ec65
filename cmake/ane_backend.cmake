# The Objective-C++ ANE backend (csrc/ane), and on Linux its compatibility layer (csrc/compat), the fake
# AppleNeuralEngine framework (csrc/fake_ane) and the ARC syntax check.
#
# Included by the top-level CMakeLists.txt when ANEKIT_BUILD_ANE is ON, after the `_core` pybind11 target
# exists. Sets ANEKIT_HAS_ANE on `_core`. Recipe: docs/internals/linux-objc-toolchain.md §3 (flags) and §8 (CMake).
#
# Options:
#   ANEKIT_ARC_CHECK          Linux: compile the backend .mm files with -fobjc-arc -fsyntax-only (default ON)
#   ANEKIT_BUILD_NATIVE_TESTS build tests/objc/native/ane_native_test (used by scripts/check_native.sh)

option(ANEKIT_ARC_CHECK "Linux: check that the backend .mm sources compile under ARC (syntax only)" ON)
option(ANEKIT_BUILD_NATIVE_TESTS "Build the native (C++) test of the ANE backend against the fake framework" OFF)

set(_ane_dir ${CMAKE_CURRENT_LIST_DIR}/../csrc/ane)
get_filename_component(_ane_dir "${_ane_dir}" ABSOLUTE)
get_filename_component(_csrc_dir "${_ane_dir}/.." ABSOLUTE)
set(_compat_dir ${_csrc_dir}/compat)
set(_fake_dir ${_csrc_dir}/fake_ane)

set(ANEKIT_ANE_MM_SOURCES
  ${_ane_dir}/ane_runtime.mm
  ${_ane_dir}/ane_model.mm
  ${_ane_dir}/ane_iosurface.mm)
# Plain C++ parts of the backend (built like every other .cpp of _core).
set(ANEKIT_ANE_CXX_SOURCES
  ${_ane_dir}/ane_init.cpp
  ${_ane_dir}/ane_failure.cpp)

# -----------------------------------------------------------------------------------------------------------
# Objective-C++ compiler
# -----------------------------------------------------------------------------------------------------------
if(NOT APPLE AND NOT CMAKE_OBJCXX_COMPILER)
  # CMake would pick /usr/bin/c++ (GNU), whose Objective-C++ front end lacks literals and @autoreleasepool
  # (docs/internals/linux-objc-toolchain.md §8.1, §11 pitfall 5).
  find_program(_anekit_clangxx NAMES clang++ clang++-14 clang++-15 clang++-16)
  if(NOT _anekit_clangxx)
    message(FATAL_ERROR
      "ANEKIT_BUILD_ANE=ON on Linux needs clang++ and GNUstep to build the backend against the fake framework.\n"
      "Run: bash scripts/install_objc_toolchain.sh   (or: apt-get install -y --no-install-recommends clang "
      "libgnustep-base-dev libblocksruntime-dev)")
  endif()
  set(CMAKE_OBJCXX_COMPILER ${_anekit_clangxx})
endif()
enable_language(OBJCXX)
if(NOT CMAKE_OBJCXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "The Objective-C++ backend needs clang (got ${CMAKE_OBJCXX_COMPILER_ID} at "
                      "${CMAKE_OBJCXX_COMPILER}); set CMAKE_OBJCXX_COMPILER=clang++")
endif()

target_sources(_core PRIVATE ${ANEKIT_ANE_MM_SOURCES} ${ANEKIT_ANE_CXX_SOURCES})
target_compile_definitions(_core PRIVATE ANEKIT_HAS_ANE)
set_target_properties(_core PROPERTIES OBJCXX_VISIBILITY_PRESET hidden)

# ===========================================================================================================
# macOS: ARC, the real frameworks, no compat layer (docs/internals/linux-objc-toolchain.md §3.3, §8.2)
# ===========================================================================================================
if(APPLE)
  set_source_files_properties(${ANEKIT_ANE_MM_SOURCES} PROPERTIES COMPILE_OPTIONS "-fobjc-arc")
  # objc (objc_msgSend, the runtime) and CoreFoundation (CFRetain/CFRelease/CFBridgingRetain) are used
  # directly, so they are linked explicitly rather than relied on through Foundation's re-exports.
  target_link_libraries(_core PRIVATE objc "-framework CoreFoundation" "-framework Foundation"
                                      "-framework IOSurface" ${CMAKE_DL_LIBS})
  return()
endif()

# ===========================================================================================================
# Linux: clang + GNUstep Base on GCC's Objective-C runtime, compat layer, fake framework
# ===========================================================================================================
enable_language(C)  # the objc_msgSend trampoline

# The toolchain script detects which Objective-C runtime GNUstep uses and explains what to install; the
# compat layer supports GCC's runtime only (docs/internals/linux-objc-toolchain.md §1, §11 pitfall 15).
execute_process(
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../scripts/install_objc_toolchain.sh --check-only
  OUTPUT_VARIABLE _anekit_runtime_out
  ERROR_VARIABLE _anekit_runtime_err
  RESULT_VARIABLE _anekit_runtime_rc)
if(NOT _anekit_runtime_rc EQUAL 0 OR NOT _anekit_runtime_out MATCHES "ANEKIT_OBJC_RUNTIME=gcc")
  message(FATAL_ERROR "Objective-C toolchain check failed:\n${_anekit_runtime_err}")
endif()

find_program(ANEKIT_GNUSTEP_CONFIG gnustep-config REQUIRED)
# Runs a command at configure time and stores its trimmed output; stops with the command on failure.
function(anekit_query out_var)
  execute_process(COMMAND ${ARGN} OUTPUT_VARIABLE _out OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "'${ARGN}' failed (${_rc}); see scripts/install_objc_toolchain.sh")
  endif()
  set(${out_var} "${_out}" PARENT_SCOPE)
endfunction()

anekit_query(_gs_objc_flags ${ANEKIT_GNUSTEP_CONFIG} --objc-flags)
anekit_query(_gs_base_libs ${ANEKIT_GNUSTEP_CONFIG} --base-libs)
separate_arguments(_gs_objc_flags UNIX_COMMAND "${_gs_objc_flags}")
separate_arguments(ANEKIT_OBJC_LINK_LIBS UNIX_COMMAND "${_gs_base_libs}")
# CMake owns dependencies, optimisation and warnings; -I. and -I$HOME/GNUstep/... are not wanted (§11.6).
set(_gs_flags "")
foreach(_flag IN LISTS _gs_objc_flags)
  if(_flag MATCHES "^-(MMD|MP|g|O[0-9s]?|Wall)$" OR _flag STREQUAL "-I." OR _flag MATCHES "^-I.*/GNUstep/Library/Headers$")
    continue()
  endif()
  list(APPEND _gs_flags ${_flag})
endforeach()

# GCC keeps <objc/objc.h> in its private include directory; -idirafter keeps clang's own headers first (§3.1).
anekit_query(ANEKIT_GCC_INCLUDE gcc -print-file-name=include)
find_library(ANEKIT_BLOCKS_RUNTIME BlocksRuntime REQUIRED)

set(ANEKIT_OBJCXX_OPTIONS
  ${_gs_flags}
  -fobjc-runtime=gcc
  -idirafter ${ANEKIT_GCC_INCLUDE}
  -fblocks
  -Werror=arc-bridge-casts-disallowed-in-nonarc
  -include ${_compat_dir}/include/ane_linux_prefix.h)
list(APPEND ANEKIT_OBJC_LINK_LIBS ${ANEKIT_BLOCKS_RUNTIME} ${CMAKE_DL_LIBS})

# --- compat layer: an OBJECT library, because a static library would drop objects that only define
# Objective-C classes (§8.3 step 4, §11 pitfall 12) ---------------------------------------------------------
add_library(anekit_objc_compat OBJECT
  ${_compat_dir}/src/objc_msgsend_gnu.c
  ${_compat_dir}/src/cf_shim.mm
  ${_compat_dir}/src/iosurface_shim.mm)
set_target_properties(anekit_objc_compat PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_include_directories(anekit_objc_compat PUBLIC ${_compat_dir}/include)
target_compile_options(anekit_objc_compat PRIVATE $<$<COMPILE_LANGUAGE:OBJCXX>:${ANEKIT_OBJCXX_OPTIONS}>)

# --- the backend inside _core ------------------------------------------------------------------------------
set_source_files_properties(${ANEKIT_ANE_MM_SOURCES} PROPERTIES COMPILE_OPTIONS "${ANEKIT_OBJCXX_OPTIONS}")
target_include_directories(_core PRIVATE ${_compat_dir}/include)
target_link_libraries(_core PRIVATE anekit_objc_compat ${ANEKIT_OBJC_LINK_LIBS})

# --- the fake framework: its own MODULE, never linked into the extension, shipped in anekit/_fake ----------
function(anekit_add_fake_framework target output_name)
  add_library(${target} MODULE ${_fake_dir}/FakeAppleNeuralEngine.mm ${_fake_dir}/mil_signature.cpp)
  set_target_properties(${target} PROPERTIES OUTPUT_NAME ${output_name} PREFIX "lib")
  target_include_directories(${target} PRIVATE ${_compat_dir}/include)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:OBJCXX>:${ANEKIT_OBJCXX_OPTIONS}>)
  target_link_libraries(${target} PRIVATE ${ANEKIT_OBJC_LINK_LIBS})
  install(TARGETS ${target} LIBRARY DESTINATION anekit/_fake)
endfunction()
anekit_add_fake_framework(anekit_fake_ane FakeAppleNeuralEngine)
# A variant without _ANERequest, so tests can check how a missing private class is reported.
anekit_add_fake_framework(anekit_fake_ane_no_request FakeAppleNeuralEngineNoRequest)
target_compile_definitions(anekit_fake_ane_no_request PRIVATE FAKE_ANE_OMIT_REQUEST_CLASS)

# --- ARC syntax check (§8.5): the Linux build is MRC, so prove that the backend compiles under ARC ---------
if(ANEKIT_ARC_CHECK)
  # GCC's objc/runtime.h defines object_getClass inline through the GCC ABI, which clang rejects under a
  # gnustep runtime flag: write a copy with a plain declaration and <objc/...> includes, first on the path.
  set(_arc_dir ${CMAKE_CURRENT_BINARY_DIR}/arccheck)
  file(READ ${ANEKIT_GCC_INCLUDE}/objc/runtime.h _rt)
  string(REGEX REPLACE "static inline Class[ \t\r\n]*object_getClass \\(id object\\)[ \t\r\n]*{[^}]*}"
                       "Class object_getClass (id object);" _rt "${_rt}")
  string(REGEX REPLACE "#include \"([a-z_-]+\\.h)\"" "#include <objc/\\1>" _rt "${_rt}")
  if(NOT _rt MATCHES "Class object_getClass \\(id object\\);")
    message(FATAL_ERROR "ARC check: could not patch object_getClass in ${ANEKIT_GCC_INCLUDE}/objc/runtime.h")
  endif()
  file(WRITE ${_arc_dir}/objc/runtime.h "${_rt}")
  get_target_property(_core_includes anekit_core INCLUDE_DIRECTORIES)
  set(_arc_stamps "")
  foreach(_mm IN LISTS ANEKIT_ANE_MM_SOURCES)
    get_filename_component(_name ${_mm} NAME_WE)
    set(_stamp ${_arc_dir}/${_name}.arc-ok)
    add_custom_command(
      OUTPUT ${_stamp}
      # The last -fobjc-runtime wins: the ARC front end needs a runtime that supports ARC (§8.5).
      COMMAND ${CMAKE_OBJCXX_COMPILER} -x objective-c++ -std=gnu++17 -fsyntax-only -isystem ${_arc_dir}
              ${ANEKIT_OBJCXX_OPTIONS} -I${_compat_dir}/include -I${_csrc_dir} -fobjc-arc
              -fobjc-runtime=gnustep-1.9 ${_mm}
      COMMAND ${CMAKE_COMMAND} -E touch ${_stamp}
      DEPENDS ${_mm} ${_ane_dir}/ane.h ${_ane_dir}/ane_objc.h ${_ane_dir}/ane_failure.h
      COMMENT "ARC syntax check of ${_name}.mm"
      VERBATIM)
    list(APPEND _arc_stamps ${_stamp})
  endforeach()
  add_custom_target(anekit_arc_check ALL DEPENDS ${_arc_stamps})
endif()

# --- native test (scripts/check_native.sh) -----------------------------------------------------------------
if(ANEKIT_BUILD_NATIVE_TESTS)
  # Only the two core sources the backend uses, not anekit_core: the sanitizer build compiles everything
  # with clang (one sanitizer runtime), and the core's fp16 kernels need not build with every clang.
  add_executable(anekit_ane_native_test
    ${CMAKE_CURRENT_LIST_DIR}/../tests/objc/native/ane_native_test.cpp
    ${_csrc_dir}/core/surface.cpp ${_csrc_dir}/core/compile_counter.cpp
    ${ANEKIT_ANE_MM_SOURCES} ${ANEKIT_ANE_CXX_SOURCES})
  target_include_directories(anekit_ane_native_test PRIVATE ${_csrc_dir} ${_compat_dir}/include)
  target_link_libraries(anekit_ane_native_test PRIVATE anekit_objc_compat ${ANEKIT_OBJC_LINK_LIBS})
  add_dependencies(anekit_ane_native_test anekit_fake_ane)
endif()
