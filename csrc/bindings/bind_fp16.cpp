// anekit._core fp16 functions: the native conversion kernels over numpy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "../core/fp16.h"
#include "bindings.h"
#include "convert.h"

namespace anekit::bindings {

namespace {

py::array_t<uint16_t> to_fp16_bits(const py::handle& obj) {
  SrcKind kind;
  py::array a = c_contiguous(as_numeric_array(obj, "to_fp16", &kind));
  const size_t n = static_cast<size_t>(a.size());
  std::vector<py::ssize_t> shape(a.shape(), a.shape() + a.ndim());
  py::array_t<uint16_t> out(shape);
  const void* src = a.data();
  uint16_t* dst = out.mutable_data();
  without_gil_if_large(n, [&] { convert_to_f16(src, kind, dst, n); });
  return out;
}

py::array to_fp16(const py::handle& obj) {
  return to_fp16_bits(obj).attr("view")(py::module_::import("numpy").attr("float16"));
}

py::array_t<float> to_fp32(const py::handle& obj) {
  SrcKind kind;
  py::array a = c_contiguous(as_numeric_array(obj, "to_fp32", &kind));
  const size_t n = static_cast<size_t>(a.size());
  std::vector<py::ssize_t> shape(a.shape(), a.shape() + a.ndim());
  py::array_t<float> out(shape);
  const void* src = a.data();
  float* dst = out.mutable_data();
  without_gil_if_large(n, [&] { convert_to_f32(src, kind, dst, n); });
  return out;
}

void round_kernel(const void* src, SrcKind kind, float* dst, size_t n) {
  switch (kind) {
    case SrcKind::F16:
      core::f16_to_f32(static_cast<const uint16_t*>(src), dst, n);
      break;
    case SrcKind::F32:
      core::round_f32_via_f16(static_cast<const float*>(src), dst, n);
      break;
    case SrcKind::F64:
      core::round_f64_via_f16(static_cast<const double*>(src), dst, n);
      break;
  }
}

py::array round_fp16(const py::handle& obj, const py::object& out_obj) {
  SrcKind kind;
  py::array a = c_contiguous(as_numeric_array(obj, "round_fp16", &kind));
  const size_t n = static_cast<size_t>(a.size());
  py::array_t<float> out;
  if (out_obj.is_none()) {
    std::vector<py::ssize_t> shape(a.shape(), a.shape() + a.ndim());
    out = py::array_t<float>(shape);
  } else {
    if (!py::isinstance<py::array>(out_obj))
      throw py::type_error("round_fp16: out must be a numpy float32 array, got " +
                           std::string(py::str(py::type::of(out_obj))));
    py::array o = py::reinterpret_borrow<py::array>(out_obj);
    if (!o.dtype().is(py::dtype::of<float>()))
      throw py::type_error("round_fp16: out must have dtype float32, got " + std::string(py::str(o.dtype())));
    if (static_cast<size_t>(o.size()) != n || shape_str(o) != shape_str(a))
      throw py::value_error("round_fp16: out has shape " + shape_str(o) + " but the input has shape " + shape_str(a));
    if (!(o.flags() & py::array::c_style) || !o.writeable())
      throw py::value_error("round_fp16: out must be C-contiguous and writeable");
    out = py::reinterpret_borrow<py::array_t<float>>(o);
  }
  const void* src = a.data();
  float* dst = out.mutable_data();  // may alias src (in-place rounding): the kernels read before they write
  without_gil_if_large(n, [&] { round_kernel(src, kind, dst, n); });
  return out;
}

}  // namespace

void init_fp16(py::module_& m) {
  m.def("to_fp16", &to_fp16, py::arg("array"),
        R"pbdoc(Convert any real numeric array to float16 (round-to-nearest-even, IEEE overflow to +-inf).)pbdoc");
  m.def("to_fp16_bits", &to_fp16_bits, py::arg("array"), R"pbdoc(Like to_fp16 but returns the uint16 bit patterns.)pbdoc");
  m.def("to_fp32", &to_fp32, py::arg("array"), R"pbdoc(Convert an array (typically float16) to float32.)pbdoc");
  m.def("round_fp16", &round_fp16, py::arg("array"), py::arg("out") = py::none(),
        R"pbdoc(Round values to fp16 precision and return them as float32 (``out`` may be the input: in place).)pbdoc");
  m.def("fp16_path", &core::fp16_path_name, R"pbdoc(The SIMD path in use: 'f16c+avx2', 'neon' or 'scalar'.)pbdoc");
  m.def(
      "_fp16_force_path",
      [](const std::string& name) { core::fp16_force_path(core::fp16_path_from_name(name)); },
      py::arg("name"), R"pbdoc(Testing hook: force 'scalar', 'f16c+avx2', 'neon' or 'best'.)pbdoc");
}

}  // namespace anekit::bindings
