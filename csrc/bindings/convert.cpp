#include "convert.h"

#include <cstring>

#include "../core/copy.h"
#include "../core/fp16.h"
#include "../core/parallel.h"

namespace anekit::bindings {

py::array as_numeric_array(const py::handle& obj, const std::function<std::string()>& what, SrcKind* kind) {
  // A plain ndarray is used as it is (what np.asarray returns for it) without a Python call; anything else,
  // subclasses included, goes through np.asarray. The type object is looked up once and kept for the process.
  static const py::handle ndarray_type = py::object(py::module_::import("numpy").attr("ndarray")).release();
  py::array a = Py_TYPE(obj.ptr()) == reinterpret_cast<PyTypeObject*>(ndarray_type.ptr())
                    ? py::reinterpret_borrow<py::array>(obj)
                    : py::array(py::module_::import("numpy").attr("asarray")(obj));
  const char k = a.dtype().kind();
  const size_t item = static_cast<size_t>(a.dtype().itemsize());
  if (k == 'f' && item == 2) {
    *kind = SrcKind::F16;
  } else if (k == 'f' && item == 4) {
    *kind = SrcKind::F32;
  } else if (k == 'f' && item == 8) {
    *kind = SrcKind::F64;
  } else if (k == 'i' || k == 'u' || k == 'b') {
    // |int| >= 65520 is +-Inf in fp16 and int->fp32 rounding is monotonic, so going through fp32 is exact.
    a = a.attr("astype")(py::dtype::of<float>());
    *kind = SrcKind::F32;
  } else {
    throw py::type_error(what() + ": expected a real numeric array (float16/32/64, int, uint or bool), got dtype " +
                         std::string(py::str(a.dtype())));
  }
  return a;
}

py::array c_contiguous(const py::array& a) {
  if (a.flags() & py::array::c_style) return a;
  return py::module_::import("numpy").attr("ascontiguousarray")(a);
}

void convert_to_f16(const void* src, SrcKind kind, uint16_t* dst, size_t n) {
  core::parallel_chunks(n, [&](size_t b, size_t e) {
    switch (kind) {
      case SrcKind::F16:
        core::copy_bytes(dst + b, static_cast<const uint16_t*>(src) + b, (e - b) * sizeof(uint16_t));
        break;
      case SrcKind::F32:
        core::f32_to_f16(static_cast<const float*>(src) + b, dst + b, e - b);
        break;
      case SrcKind::F64:
        core::f64_to_f16(static_cast<const double*>(src) + b, dst + b, e - b);
        break;
    }
  });
}

void convert_to_f32(const void* src, SrcKind kind, float* dst, size_t n) {
  core::parallel_chunks(n, [&](size_t b, size_t e) {
    switch (kind) {
      case SrcKind::F16:
        core::f16_to_f32(static_cast<const uint16_t*>(src) + b, dst + b, e - b);
        break;
      case SrcKind::F32:
        core::copy_bytes(dst + b, static_cast<const float*>(src) + b, (e - b) * sizeof(float));
        break;
      case SrcKind::F64: {
        const double* s = static_cast<const double*>(src);
        for (size_t i = b; i < e; ++i) dst[i] = static_cast<float>(s[i]);
        break;
      }
    }
  });
}

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  if (a.ndim() == 1) s += ",";
  return s + ")";
}

}  // namespace anekit::bindings
