// anekit._core: the native extension. One init function per area (bindings.h); the ANE backend adds its
// `ane` submodule through init_ane (bind_ane.h), implemented by the Objective-C++ backend or the stub.
#include <pybind11/pybind11.h>

#include "bind_ane.h"
#include "bindings.h"

#ifndef ANEKIT_VERSION
#define ANEKIT_VERSION "0.0.0"
#endif

PYBIND11_MODULE(_core, m) {
  m.doc() = "anekit native core: fp16 conversion, ANE I/O surfaces, compile counter, MILSpec decoder, ANE backend";
  m.attr("__version__") = ANEKIT_VERSION;
#ifdef ANEKIT_HAS_ANE
  m.attr("HAS_ANE") = true;
#else
  m.attr("HAS_ANE") = false;
#endif
  anekit::bindings::init_fp16(m);
  anekit::bindings::init_surface(m);
  anekit::bindings::init_compile_counter(m);
  anekit::bindings::init_milspec(m);
  init_ane(m);
}
