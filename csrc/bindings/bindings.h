// One init function per binding area, called from module.cpp (MLX's python/src layout).
#pragma once

#include <pybind11/pybind11.h>

namespace anekit::bindings {

namespace py = pybind11;

void init_fp16(pybind11::module_& m);
void init_surface(pybind11::module_& m);
void init_compile_counter(pybind11::module_& m);
void init_milspec(pybind11::module_& m);

}  // namespace anekit::bindings
