// Internal helpers shared by the fp16 and Surface bindings: describe any array-like as a conversion source
// (any strides, broadcast included, either byte order, any real numeric element type) and convert it into a
// dense destination in bounded chunks, with the GIL released for large blocks.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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

/** Element kinds the conversion kernels take directly (native byte order, dense). */
enum class SrcKind { F16, F32, F64 };

/** What a conversion writes: fp16 bits, fp32 values, or fp32 values rounded to fp16 precision. */
enum class Dest { F16, F32, RoundedF32 };

/**
 * A numpy array to convert, read in place: the conversion never makes a full-size intermediate copy, whatever
 * the layout. Dense runs of a kernel type in native byte order are converted straight from the array; anything
 * else (strided or zero-stride rows, the other byte order, integers, bool) is gathered into a bounded
 * per-thread staging block first (a transposed 2-D source in kTile x kTile tiles), so the extra memory is one
 * block of kStageElems elements per conversion thread, on its stack.
 */
class ConvertSource {
 public:
  /** Elements gathered per staging block (32 KiB of doubles: fits L1/L2, bounded per thread). */
  static constexpr size_t kStageElems = 4096;
  /** Side of the square tiles a transposed 2-D source is read in (kTile * kTile == kStageElems). */
  static constexpr size_t kTile = 64;

  /**
   * np.asarray(obj), checked to be real numeric (float16/32/64, int, uint or bool in either byte order); raises
   * TypeError naming `what()` and the dtype otherwise (`what` is only called then, so the per-call path builds
   * no message).
   */
  ConvertSource(const py::handle& obj, const std::function<std::string()>& what);

  /** Replace the array (e.g. a broadcast view of it); must hold the GIL. */
  void reset(py::array a);

  const py::array& array() const { return array_; }
  size_t size() const { return size_; }

  /**
   * Make the source safe to convert into [dst, dst + nbytes) whose element i is written from source element i:
   * when the source's memory overlaps that range other than element-for-element in place (same address, same
   * dense `kind` layout), the source is replaced by a copy of itself. Must hold the GIL.
   */
  void detach_from(const void* dst, size_t nbytes, SrcKind same_kind);

  /** Convert every element, in C order, into dst (of `dest` type); does not touch Python objects. */
  void convert_into(Dest dest, void* dst) const;

 private:
  enum class Elem { F16, F32, F64, I8, I16, I32, I64, U8, U16, U32, U64, Bool };

  // Calls emit(ptr, kind, first, count) for elements [b, e) in C order: ptr holds `count` dense native
  // elements of `kind`, destined for positions first..first+count-1.
  void for_each_run(size_t b, size_t e, const std::function<void(const void*, SrcKind, size_t, size_t)>& emit) const;
  void gather(const char* p, ptrdiff_t stride, size_t count, void* out) const;
  void convert_transposed(Dest dest, void* dst) const;
  void describe();

  py::array array_;
  const char* data_ = nullptr;
  size_t size_ = 0;
  size_t item_ = 0;
  Elem elem_ = Elem::F32;
  bool swap_ = false;     // stored in the other byte order than this machine's
  bool aligned_ = true;   // base and strides are multiples of the item size
  SrcKind staged_ = SrcKind::F32;
  // Shape and byte strides with size-1 dims dropped and mergeable dims merged (at least one dim). Fixed
  // arrays, not vectors: this is built on every Surface.write, where heap allocations are a measurable share.
  static constexpr size_t kMaxDims = 64;  // numpy 2's NPY_MAXDIMS (numpy 1: 32)
  std::array<size_t, kMaxDims> shape_{};
  std::array<ptrdiff_t, kMaxDims> strides_{};
  size_t ndim_ = 0;
  bool dense_ = false;  // one dense run of a kernel type in native order: converted without staging
};

/** Whether elements of `dt` are stored in this machine's byte order (or the question does not apply). */
bool is_native_order(const py::dtype& dt);

/** "(1, 64, 1, 32)"-style rendering of a numpy shape. */
std::string shape_str(const py::array& a);

/** The integer value of `obj` (operator.index: ints and numpy integers, not bool or float), or None. */
py::object index_or_none(const py::handle& obj);

}  // namespace anekit::bindings
