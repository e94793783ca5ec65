// anekit.Surface: bindings of core::Surface with numpy conversion on write/read and locked zero-copy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>

#include "../core/copy.h"
#include "../core/fp16.h"
#include "../core/parallel.h"
#include "../core/surface.h"
#include "bindings.h"
#include "convert.h"

namespace anekit::bindings {

namespace {

// Converts surface elements [b, e) into `dst` (float16, float32 or float64 items of `item` bytes).
void read_range(const void* src, bool f16, void* dst, size_t item, size_t b, size_t e) {
  const size_t m = e - b;
  if (item == 2) {
    if (f16) {
      core::copy_bytes(static_cast<uint16_t*>(dst) + b, static_cast<const uint16_t*>(src) + b, m * 2);
    } else {
      core::f32_to_f16(static_cast<const float*>(src) + b, static_cast<uint16_t*>(dst) + b, m);
    }
  } else if (item == 4) {
    if (f16) {
      core::f16_to_f32(static_cast<const uint16_t*>(src) + b, static_cast<float*>(dst) + b, m);
    } else {
      core::copy_bytes(static_cast<float*>(dst) + b, static_cast<const float*>(src) + b, m * 4);
    }
  } else {  // float64: widen through float32 in blocks (both steps exact)
    double* d = static_cast<double*>(dst);
    float tmp[1024];
    for (size_t i = b; i < e; i += 1024) {
      const size_t k = e - i < 1024 ? e - i : 1024;
      if (f16) {
        core::f16_to_f32(static_cast<const uint16_t*>(src) + i, tmp, k);
      } else {
        std::memcpy(tmp, static_cast<const float*>(src) + i, k * 4);
      }
      for (size_t j = 0; j < k; ++j) d[i + j] = tmp[j];
    }
  }
}

using core::Surface;
using core::SurfaceDType;

py::tuple shape_tuple(const Surface& s) {
  py::tuple t(s.shape().size());
  for (size_t i = 0; i < s.shape().size(); ++i) t[i] = py::int_(s.shape()[i]);
  return t;
}

// The (C, S) shape that also addresses a [1, C, 1, S] surface, or an empty vector when the surface is not
// laid out that way.
std::vector<int64_t> channel_spatial_shape(const Surface& s) {
  const auto& sh = s.shape();
  if (sh.size() == 4 && sh[0] == 1 && sh[2] == 1) return {sh[1], sh[3]};
  return {};
}

bool shape_equals(const py::array& a, const std::vector<int64_t>& shape) {
  if (static_cast<size_t>(a.ndim()) != shape.size()) return false;
  for (size_t i = 0; i < shape.size(); ++i)
    if (a.shape(static_cast<py::ssize_t>(i)) != shape[i]) return false;
  return true;
}

std::string accepted_shapes(const Surface& s) {
  std::string msg = s.shape_str();
  auto cs = channel_spatial_shape(s);
  if (!cs.empty()) msg += ", (" + std::to_string(cs[0]) + ", " + std::to_string(cs[1]) + ")";
  return msg + " or a shape that broadcasts to " + (cs.empty() ? s.shape_str() : "either");
}

// A dtype argument that numpy does not read itself: MIL's names ("fp16") and PyTorch dtypes (torch.float16,
// recognised by their module without importing torch) become numpy's names; anything else is returned as is.
py::object numpy_dtype_spelling(const py::object& dtype_obj) {
  std::string name;
  if (py::isinstance<py::str>(dtype_obj)) {
    name = dtype_obj.cast<std::string>();
  } else if (py::str(py::type::of(dtype_obj).attr("__module__")).cast<std::string>() == "torch") {
    name = py::str(dtype_obj).cast<std::string>();
    if (name.rfind("torch.", 0) == 0) name = name.substr(6);
  } else {
    return dtype_obj;
  }
  if (name == "fp16") return py::str("float16");
  if (name == "fp32") return py::str("float32");
  if (name == "fp64") return py::str("float64");
  return py::str(name);
}

// Surface(shape, dtype): "fp16"/"fp32", or any spelling of those numpy or PyTorch accepts ("float16", "half",
// np.float16, torch.float16, ...).
core::SurfaceDType surface_dtype(const py::object& dtype_obj) {
  if (py::isinstance<py::str>(dtype_obj)) {
    const auto name = dtype_obj.cast<std::string>();
    if (name == "fp16" || name == "fp32") return core::dtype_from_name(name);
  }
  py::dtype dt;
  try {
    dt = py::dtype::from_args(numpy_dtype_spelling(dtype_obj));
  } catch (py::error_already_set&) {
    throw py::value_error("[Surface] dtype must be 'fp16' or 'fp32' (the ANE's I/O types), got " +
                          std::string(py::repr(dtype_obj)));
  }
  if (dt.kind() == 'f' && dt.itemsize() == 2) return core::SurfaceDType::FP16;
  if (dt.kind() == 'f' && dt.itemsize() == 4) return core::SurfaceDType::FP32;
  throw py::value_error("[Surface] dtype must be 'fp16' or 'fp32' (the ANE's I/O types), got " +
                        std::string(py::repr(dtype_obj)));
}

Surface* make_surface(const py::object& shape_obj, const py::object& dtype_obj, const py::object& allocation_obj) {
  size_t allocation = 0;
  if (!allocation_obj.is_none()) {
    if (py::isinstance<py::bool_>(allocation_obj) || !py::isinstance<py::int_>(allocation_obj))
      throw py::type_error("Surface: allocation must be an int (bytes) or None, got " +
                           std::string(py::repr(allocation_obj)));
    const py::int_ value = py::reinterpret_borrow<py::int_>(allocation_obj);
    if (value < py::int_(0) || value > py::int_(core::kMaxSurfaceAllocation))
      throw py::value_error("Surface: allocation must be between 0 and 2**30 bytes, got " +
                            std::string(py::repr(allocation_obj)));
    allocation = value.cast<size_t>();
  }
  if (py::isinstance<py::str>(shape_obj) || !py::isinstance<py::sequence>(shape_obj))
    throw py::type_error("Surface: shape must be a sequence of ints such as (1, 768, 1, 256), got " +
                         std::string(py::repr(shape_obj)));
  std::vector<int64_t> shape;
  for (py::handle d : shape_obj) {
    const py::object v = index_or_none(d);
    if (v.is_none())
      throw py::type_error("Surface: shape entries must be ints, got " + std::string(py::repr(d)) + " in " +
                           std::string(py::repr(shape_obj)));
    int overflow = 0;
    const long long dim = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
    if (overflow != 0)  // beyond int64: no surface can be that large (or a negative dim that large)
      throw py::value_error("Surface: shape " + std::string(py::repr(shape_obj)) + " has a dim of " +
                            std::string(py::str(v)) + ", outside the int64 range (dims must be positive and the "
                            "surface must fit in memory)");
    shape.push_back(static_cast<int64_t>(dim));
  }
  return new Surface(std::move(shape), surface_dtype(dtype_obj), allocation);
}

size_t element_bytes(const Surface& s) { return s.dtype() == SurfaceDType::FP16 ? 2 : 4; }

void surface_write(Surface& s, const py::handle& obj) {
  // The name for error messages, built only when one is raised (Surface.write is a per-call path).
  const auto who = [&s] { return "Surface" + s.shape_str() + ".write"; };
  ConvertSource src(obj, who);
  if (!shape_equals(src.array(), s.shape())) {
    const auto cs = channel_spatial_shape(s);
    if (!cs.empty() && shape_equals(src.array(), cs)) {
      // (C, S) is the same memory order as [1, C, 1, S]: elements are read in C order either way.
    } else {
      // A view with zero strides: the conversion reads it in place, never materialising the broadcast. Shapes
      // of rank <= 2 that do not broadcast to the surface shape may still broadcast to (C, S), e.g. (C, 1).
      py::object broadcast_to = py::module_::import("numpy").attr("broadcast_to");
      py::object view;
      try {
        view = broadcast_to(src.array(), shape_tuple(s));
      } catch (py::error_already_set&) {
        if (!cs.empty() && src.array().ndim() <= 2) {
          try {
            view = broadcast_to(src.array(), py::make_tuple(cs[0], cs[1]));
          } catch (py::error_already_set&) {
          }
        }
      }
      if (!view)
        throw py::value_error(who() + ": cannot write an array of shape " + shape_str(src.array()) + "; expected " +
                              accepted_shapes(s));
      src.reset(py::array(view));
    }
  }
  const size_t n = s.numel();  // == src.size(): the shape is the surface's, (C, S) or broadcast to either
  const bool f16 = s.dtype() == SurfaceDType::FP16;
  // The source may be a view of this very surface (Surface.view()): only element-for-element in place is safe.
  src.detach_from(reinterpret_cast<const void*>(s.data_ptr()), n * element_bytes(s), f16 ? SrcKind::F16 : SrcKind::F32);
  auto run = [&] {
    Surface::Lock lock(s, /*read_only=*/false);
    src.convert_into(f16 ? Dest::F16 : Dest::F32, lock.data());
  };
  without_gil_if_large(n, run);
}

py::dtype read_dtype(const py::object& dtype_obj, const std::function<std::string()>& who) {
  py::dtype dt;
  try {
    dt = py::dtype::from_args(dtype_obj);  // numpy's own dtype conversion, without a Python call
  } catch (py::error_already_set&) {       // "fp16" or torch.float16: respelled only on this rare path
    try {
      dt = py::dtype::from_args(numpy_dtype_spelling(dtype_obj));
    } catch (py::error_already_set&) {
      throw py::type_error(who() + ": dtype must be float16, float32 or float64, got " +
                           std::string(py::repr(dtype_obj)));
    }
  }
  if (dt.kind() != 'f' || dt.itemsize() == 16)
    throw py::type_error(who() + ": dtype must be float16, float32 or float64, got " + std::string(py::str(py::object(dt))));
  return dt;
}

py::array surface_read(Surface& s, const py::object& out_obj, const py::object& dtype_obj) {
  // The name for error messages, built only when one is raised (Surface.read is a per-call path).
  const auto who = [&s] { return "Surface" + s.shape_str() + ".read"; };
  py::array out;
  if (out_obj.is_none()) {
    const py::dtype dt = dtype_obj.is_none() ? py::dtype::of<float>() : read_dtype(dtype_obj, who);
    out = py::array(dt, std::vector<py::ssize_t>(s.shape().begin(), s.shape().end()));
  } else {
    if (!py::isinstance<py::array>(out_obj))
      throw py::type_error(who() + ": out must be a numpy array, got " + std::string(py::str(py::type::of(out_obj))));
    out = py::reinterpret_borrow<py::array>(out_obj);
    const auto cs = channel_spatial_shape(s);
    if (!shape_equals(out, s.shape()) && (cs.empty() || !shape_equals(out, cs)))
      throw py::value_error(who() + ": out has shape " + shape_str(out) + "; expected " + s.shape_str() +
                            (cs.empty() ? "" : " or (" + std::to_string(cs[0]) + ", " + std::to_string(cs[1]) + ")"));
    const py::dtype odt = out.dtype();
    if (odt.kind() != 'f' || odt.itemsize() == 16)
      throw py::type_error(who() + ": out must be float16, float32 or float64, got " +
                           std::string(py::str(py::object(odt))));
    if (!(out.flags() & py::array::c_style) || !out.writeable())
      throw py::value_error(who() + ": out must be C-contiguous and writeable");
    // A dtype that disagrees with out's would be silently ignored: refuse it instead.
    if (!dtype_obj.is_none() && !read_dtype(dtype_obj, who).equal(odt))
      throw py::value_error(who() + ": dtype " + std::string(py::repr(dtype_obj)) + " differs from out's dtype " +
                            std::string(py::str(py::object(odt))) + "; pass out or dtype, or matching ones");
  }
  const size_t n = s.numel();
  const size_t item = static_cast<size_t>(out.dtype().itemsize());
  void* dst = out.mutable_data();
  // out may be a view of this surface (Surface.view()) of its own dtype: then every element is already in
  // place. Any other overlap would read elements already overwritten.
  const char* mem = reinterpret_cast<const char*>(s.data_ptr());
  const char* d = static_cast<const char*>(dst);
  const bool overlaps = d < mem + n * element_bytes(s) && mem < d + n * item;
  if (overlaps && !(d == mem && item == element_bytes(s)))
    throw py::value_error(who() + ": out overlaps this surface's own memory; read into a separate array");
  auto run = [&] {
    Surface::Lock lock(s, /*read_only=*/true);
    const void* src = lock.data();
    const bool f16 = s.dtype() == SurfaceDType::FP16;
    if (src == dst) return;
    core::parallel_chunks(n, [&](size_t b, size_t e) { read_range(src, f16, dst, item, b, e); });
  };
  without_gil_if_large(n, run);
  // The values were written in this machine's byte order; an array of the other order gets its bytes swapped
  // in place (values, never a reinterpretation).
  if (!is_native_order(out.dtype())) out.attr("byteswap")(py::arg("inplace") = true);
  return out;
}

// Lock and return an array aliasing the surface memory; its base keeps the Surface (and its memory) alive.
// The lock mode of _lock_array/_unlock: a real bool (1 or "yes" would silently pick a mode).
bool lock_mode(const py::handle& write, const char* who) {
  if (!py::isinstance<py::bool_>(write))
    throw py::type_error(std::string(who) + ": write must be a bool, got " + std::string(py::repr(write)));
  return write.cast<bool>();
}

py::array surface_lock_array(py::object self, const py::object& write_obj) {
  const bool write = lock_mode(write_obj, "Surface._lock_array");
  Surface& s = self.cast<Surface&>();
  void* p = s.storage().lock(!write);
  py::dtype dt = s.dtype() == SurfaceDType::FP16 ? py::dtype("float16") : py::dtype("float32");
  std::vector<py::ssize_t> shape(s.shape().begin(), s.shape().end());
  py::array arr(dt, shape, p, self);
  if (!write) arr.attr("flags").attr("writeable") = false;
  return arr;
}

}  // namespace

void init_surface(py::module_& m) {
  py::class_<Surface>(m, "Surface", R"pbdoc(
An ANE I/O tensor buffer in the ANE's layout: channel-major ``[1, C, 1, S]`` (element ``(c, s)`` at
``c*S + s``), fp16 by default, no padding. Backed by an IOSurface when the ANE backend is built (macOS, or the
fake framework on Linux), otherwise by 64-byte-aligned host memory with the same lock/unlock discipline.
)pbdoc")
      .def(py::init(&make_surface), py::arg("shape"), py::arg("dtype") = py::str("fp16"), py::kw_only(),
           py::arg("allocation") = py::none())
      .def_property_readonly("shape", &shape_tuple)
      .def_property_readonly("dtype", [](const Surface& s) { return core::dtype_name(s.dtype()); })
      .def_property_readonly("nbytes", &Surface::nbytes, "The tensor's bytes (numel * element size).")
      .def_property_readonly("allocation_bytes", &Surface::allocation_bytes,
                             "Bytes of the storage block: at least nbytes, the tensor packed at offset 0.")
      .def_property_readonly("numel", &Surface::numel)
      .def_property_readonly("data_ptr", &Surface::data_ptr, "Address of the surface memory (for interop).")
      .def_property_readonly("storage", [](Surface& s) { return std::string(s.storage().kind()); },
                             "'iosurface' or 'aligned-host'.")
      .def("write", &surface_write, py::arg("array"), R"pbdoc(
Convert ``array`` into the surface (fp16: round-to-nearest-even, IEEE overflow to +-inf, subnormals kept).
Accepts any real numeric dtype and memory layout whose shape equals the surface shape, is ``(C, S)`` for a
``[1, C, 1, S]`` surface, or broadcasts to the surface shape (or to ``(C, S)``, e.g. ``(C, 1)``). Never
reinterprets: other byte orders are swapped, strided and broadcast inputs are read in place (no full copy).
)pbdoc")
      .def("read", &surface_read, py::arg("out") = py::none(), py::arg("dtype") = py::none(),
           R"pbdoc(
Return the surface contents as a new array of ``dtype`` (float16, float32 or float64 in either byte order;
float32 by default), or fill ``out`` (C-contiguous and writeable, of the surface shape or ``(C, S)``). ``out``
may be a view of this surface of its own dtype (then nothing moves); any other overlap with the surface's
memory is refused.
)pbdoc")
      .def("_lock_array", &surface_lock_array, py::arg("write"))
      .def("_unlock", [](Surface& s, const py::object& write) { s.storage().unlock(!lock_mode(write, "Surface._unlock")); },
           py::arg("write"))
      .def("view", [](py::object self, py::object write) {  // SurfaceView checks write is a bool
             return py::module_::import("anekit._surface_view").attr("SurfaceView")(self, write);
           }, py::arg("write") = true, R"pbdoc(
Zero-copy access: ``with surface.view(write=True) as a:`` yields a float16 (or float32) array of the surface
shape aliasing the surface memory while the surface is locked. See ``anekit._surface_view`` for what happens to
the array after the block.
)pbdoc")
      .def("__repr__", [](const Surface& s) {
        return "Surface(shape=" + s.shape_str() + ", dtype='" + core::dtype_name(s.dtype()) + "', storage='" +
               std::string(const_cast<Surface&>(s).storage().kind()) + "')";
      });
  m.def("live_surface_count", &core::live_surface_count, "Number of live Surface objects (leak checks).");
}

}  // namespace anekit::bindings
