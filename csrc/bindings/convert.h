// Internal helpers shared by the fp16 and Surface bindings: normalise any array-like to a C-contiguous numpy
// array of a supported element type, and run the conversion kernels on it with the GIL released for large
// blocks.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <functional>
#include <string>

namespace anekit::bindings {

namespace py = pybind11;

/** Element counts at or above this release the GIL around conversion (below it the release costs more). */
constexpr size_t kReleaseGilElems = 1 << 15;

/** Run `work` (which must not touch Python objects) with the GIL released when `n` elements make it worth it. */
template <typename Work>
void without_gil_if_large(size_t n, Work&& work) {
  if (n >= kReleaseGilElems) {
    py::gil_scoped_release nogil;
    work();
  } else {
    work();
  }
}

/** Source element kinds the kernels take directly; everything else numeric goes through float32. */
enum class SrcKind { F16, F32, F64 };

/**
 * np.asarray(obj) checked to be real numeric (float/int/uint/bool); raises TypeError naming `what()` and the
 * dtype otherwise (`what` is only called then: the per-call path builds no message). Integer and bool arrays are converted to float32 (exact for every value that does not
 * overflow fp16 anyway, so the final fp16 result is correctly rounded).
 */
py::array as_numeric_array(const py::handle& obj, const std::function<std::string()>& what, SrcKind* kind);

/** as_numeric_array with a fixed name. */
inline py::array as_numeric_array(const py::handle& obj, const char* what, SrcKind* kind) {
  return as_numeric_array(obj, [what] { return std::string(what); }, kind);
}

/** np.ascontiguousarray(a) (no copy when already C-contiguous). */
py::array c_contiguous(const py::array& a);

/** Convert n elements of `src` (of `kind`) into fp16 at dst. */
void convert_to_f16(const void* src, SrcKind kind, uint16_t* dst, size_t n);

/** Convert n elements of `src` (of `kind`) into fp32 at dst (fp64 is rounded by C++'s double->float cast: RNE). */
void convert_to_f32(const void* src, SrcKind kind, float* dst, size_t n);

/** "(1, 64, 1, 32)"-style rendering of a numpy shape. */
std::string shape_str(const py::array& a);

}  // namespace anekit::bindings
