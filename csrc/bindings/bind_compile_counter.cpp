#include <pybind11/pybind11.h>

#include "../core/compile_counter.h"
#include "bindings.h"

namespace anekit::bindings {

namespace py = pybind11;

void init_compile_counter(py::module_& m) {
  m.def("compile_count", &core::compile_count,
        R"pbdoc(Compiles attempted in this process: the single source of truth for the compile budget.)pbdoc");
  m.def("_note_compile", &core::note_compile,
        R"pbdoc(Record one compile attempt (used by backends whose compile happens outside C++, e.g. the
reference backend's simulated compiles). Returns the new count.)pbdoc");
}

}  // namespace anekit::bindings
