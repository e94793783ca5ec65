// anekit._core fp16 functions: the native conversion kernels over numpy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "../core/fp16.h"
#include "bindings.h"
#include "convert.h"

namespace anekit::bindings {

namespace {

std::vector<py::ssize_t> shape_of(const py::array& a) { return {a.shape(), a.shape() + a.ndim()}; }

py::array_t<uint16_t> to_fp16_bits(const py::handle& obj) {
  ConvertSource src(obj, [] { return std::string("to_fp16"); });
  py::array_t<uint16_t> out(shape_of(src.array()));
  uint16_t* dst = out.mutable_data();
  without_gil_if_large(src.size(), [&] { src.convert_into(Dest::F16, dst); });
  return out;
}

py::array to_fp16(const py::handle& obj) {
  return to_fp16_bits(obj).attr("view")(py::module_::import("numpy").attr("float16"));
}

py::array_t<float> to_fp32(const py::handle& obj) {
  ConvertSource src(obj, [] { return std::string("to_fp32"); });
  py::array_t<float> out(shape_of(src.array()));
  float* dst = out.mutable_data();
  without_gil_if_large(src.size(), [&] { src.convert_into(Dest::F32, dst); });
  return out;
}

py::array round_fp16(const py::handle& obj, const py::object& out_obj) {
  ConvertSource src(obj, [] { return std::string("round_fp16"); });
  const py::array& a = src.array();
  py::array_t<float> out;
  if (out_obj.is_none()) {
    out = py::array_t<float>(shape_of(a));
  } else {
    if (!py::isinstance<py::array>(out_obj))
      throw py::type_error("round_fp16: out must be a numpy float32 array, got " +
                           std::string(py::str(py::type::of(out_obj))));
    py::array o = py::reinterpret_borrow<py::array>(out_obj);
    if (!o.dtype().is(py::dtype::of<float>()) && !o.dtype().equal(py::dtype::of<float>()))
      throw py::type_error("round_fp16: out must have dtype float32 in native byte order, got " +
                           std::string(py::str(py::object(o.dtype()))));
    if (shape_str(o) != shape_str(a))
      throw py::value_error("round_fp16: out has shape " + shape_str(o) + " but the input has shape " + shape_str(a));
    if (!(o.flags() & py::array::c_style) || !o.writeable())
      throw py::value_error("round_fp16: out must be C-contiguous and writeable");
    out = py::reinterpret_borrow<py::array_t<float>>(o);
    // out may be the input itself (in-place rounding); any other overlap converts from a copy of the input.
    src.detach_from(out.data(), static_cast<size_t>(out.size()) * sizeof(float), SrcKind::F32);
  }
  float* dst = out.mutable_data();
  without_gil_if_large(src.size(), [&] { src.convert_into(Dest::RoundedF32, dst); });
  return out;
}

void force_path(const py::handle& name) {
  if (!py::isinstance<py::str>(name))
    throw py::type_error("_fp16_force_path: name must be a str ('scalar', 'f16c+avx2', 'neon' or 'best'), got " +
                         std::string(py::repr(name)));
  core::fp16_force_path(core::fp16_path_from_name(name.cast<std::string>()));
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
  m.def("_fp16_force_path", &force_path, py::arg("name"), R"pbdoc(Testing hook: force 'scalar', 'f16c+avx2', 'neon' or 'best'.)pbdoc");
}

}  // namespace anekit::bindings
