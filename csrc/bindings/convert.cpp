#include "convert.h"

#include <algorithm>
#include <cstring>

#include "../core/copy.h"
#include "../core/fp16.h"
#include "../core/parallel.h"

namespace anekit::bindings {

namespace {

constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;


template <typename U>
U load(const char* p, bool swap) {
  U v;
  std::memcpy(&v, p, sizeof(U));  // any alignment (arrays made from buffers at odd offsets)
  if (swap) {
    if constexpr (sizeof(U) == 2) v = __builtin_bswap16(v);
    if constexpr (sizeof(U) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(U) == 8) v = __builtin_bswap64(v);
  }
  return v;
}

// Reads `count` elements of integer/bit type U at stride `stride` and stores cvt(bits) as T into out.
template <typename U, typename T, typename Cvt>
void gather_as(const char* p, ptrdiff_t stride, size_t count, bool swap, T* out, Cvt cvt) {
  if (stride == 0) {  // a broadcast row: one load, then a fill
    std::fill(out, out + count, cvt(load<U>(p, swap)));
    return;
  }
  for (size_t i = 0; i < count; ++i, p += stride) out[i] = cvt(load<U>(p, swap));
}

template <typename T, typename B>
T bits_as(B bits) {
  T v;
  static_assert(sizeof(v) == sizeof(bits));
  std::memcpy(&v, &bits, sizeof(v));
  return v;
}

// One staged run into the destination. Integer sources arrive as float32: |int| >= 65520 is +-Inf in fp16 and
// int -> fp32 rounding (RNE) is monotonic, so going through fp32 gives the correctly rounded fp16, and the fp32
// value itself is what numpy's astype(float32) gives.
void convert_run(const void* src, SrcKind kind, Dest dest, void* dst_base, size_t first, size_t n) {
  switch (dest) {
    case Dest::F16: {
      uint16_t* dst = static_cast<uint16_t*>(dst_base) + first;
      if (kind == SrcKind::F16) {
        if (dst != src) core::copy_bytes(dst, src, n * sizeof(uint16_t));
      } else if (kind == SrcKind::F32) {
        core::f32_to_f16(static_cast<const float*>(src), dst, n);
      } else {
        core::f64_to_f16(static_cast<const double*>(src), dst, n);
      }
      return;
    }
    case Dest::F32: {
      float* dst = static_cast<float*>(dst_base) + first;
      if (kind == SrcKind::F16) {
        core::f16_to_f32(static_cast<const uint16_t*>(src), dst, n);
      } else if (kind == SrcKind::F32) {
        if (dst != src) core::copy_bytes(dst, src, n * sizeof(float));
      } else {
        const double* s = static_cast<const double*>(src);
        for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]);  // RNE, as numpy's astype
      }
      return;
    }
    case Dest::RoundedF32: {
      float* dst = static_cast<float*>(dst_base) + first;
      if (kind == SrcKind::F16) {
        core::f16_to_f32(static_cast<const uint16_t*>(src), dst, n);
      } else if (kind == SrcKind::F32) {
        core::round_f32_via_f16(static_cast<const float*>(src), dst, n);  // in place allowed: reads first
      } else {
        core::round_f64_via_f16(static_cast<const double*>(src), dst, n);
      }
      return;
    }
  }
}

size_t kind_size(SrcKind k) { return k == SrcKind::F16 ? 2 : k == SrcKind::F32 ? 4 : 8; }

// tile[r * tile_side + j] = column[r] for r < rows, for staged items of T.
template <typename T>
void scatter_column(const void* column, void* tile, size_t rows, size_t j, size_t tile_side) {
  const T* c = static_cast<const T*>(column);
  T* t = static_cast<T*>(tile);
  for (size_t r = 0; r < rows; ++r) t[r * tile_side + j] = c[r];
}

}  // namespace

ConvertSource::ConvertSource(const py::handle& obj, const std::function<std::string()>& what) {
  // A plain ndarray is used as it is (what np.asarray returns for it) without a Python call; anything else,
  // subclasses included, goes through np.asarray. The type object is looked up once and kept for the process.
  static const py::handle ndarray_type = py::object(py::module_::import("numpy").attr("ndarray")).release();
  py::array a = Py_TYPE(obj.ptr()) == reinterpret_cast<PyTypeObject*>(ndarray_type.ptr())
                    ? py::reinterpret_borrow<py::array>(obj)
                    : py::array(py::module_::import("numpy").attr("asarray")(obj));
  const py::dtype dt = a.dtype();
  const char k = dt.kind();
  const size_t item = static_cast<size_t>(dt.itemsize());
  bool ok = true;
  if (k == 'f') {
    elem_ = item == 2 ? Elem::F16 : item == 4 ? Elem::F32 : Elem::F64;
    ok = item == 2 || item == 4 || item == 8;  // not long double
  } else if (k == 'i' || k == 'u') {
    static constexpr Elem kSigned[] = {Elem::I8, Elem::I16, Elem::I32, Elem::I64};
    static constexpr Elem kUnsigned[] = {Elem::U8, Elem::U16, Elem::U32, Elem::U64};
    const int slot = item == 1 ? 0 : item == 2 ? 1 : item == 4 ? 2 : item == 8 ? 3 : -1;
    ok = slot >= 0;
    if (ok) elem_ = (k == 'i' ? kSigned : kUnsigned)[slot];
  } else if (k == 'b' && item == 1) {
    elem_ = Elem::Bool;
  } else {
    ok = false;
  }
  if (!ok)
    throw py::type_error(what() + ": expected a real numeric array (float16/32/64, int, uint or bool), got dtype " +
                         std::string(py::str(py::object(dt))));
  item_ = item;
  swap_ = !is_native_order(dt);
  staged_ = elem_ == Elem::F16 ? SrcKind::F16 : elem_ == Elem::F64 ? SrcKind::F64 : SrcKind::F32;
  array_ = std::move(a);
  describe();
}

void ConvertSource::reset(py::array a) {
  array_ = std::move(a);
  describe();
}

void ConvertSource::describe() {
  data_ = static_cast<const char*>(array_.data());
  size_ = static_cast<size_t>(array_.size());
  aligned_ = reinterpret_cast<uintptr_t>(data_) % item_ == 0;
  ndim_ = 0;
  for (py::ssize_t i = 0; i < array_.ndim(); ++i) {
    const size_t n = static_cast<size_t>(array_.shape(i));
    const ptrdiff_t st = array_.strides(i);
    if (n == 1) continue;  // its stride never matters
    if (st % static_cast<ptrdiff_t>(item_) != 0) aligned_ = false;
    if (ndim_ > 0 && strides_[ndim_ - 1] == st * static_cast<ptrdiff_t>(n)) {
      shape_[ndim_ - 1] *= n;  // the outer dim steps exactly over the inner one: one dim
      strides_[ndim_ - 1] = st;
    } else {
      shape_[ndim_] = n;
      strides_[ndim_] = st;
      ++ndim_;
    }
  }
  if (ndim_ == 0) {  // a scalar, or all dims of size 1
    shape_[0] = 1;
    strides_[0] = static_cast<ptrdiff_t>(item_);
    ndim_ = 1;
  }
  dense_ = ndim_ == 1 && strides_[0] == static_cast<ptrdiff_t>(item_) && aligned_ && !swap_ &&
           (elem_ == Elem::F16 || elem_ == Elem::F32 || elem_ == Elem::F64);
}

void ConvertSource::detach_from(const void* dst, size_t nbytes, SrcKind same_kind) {
  if (size_ == 0) return;
  // The byte range the source can touch (numpy's memory bounds).
  const char* lo = data_;
  const char* hi = data_ + item_;
  for (size_t i = 0; i < ndim_; ++i) {
    const ptrdiff_t span = static_cast<ptrdiff_t>(shape_[i] - 1) * strides_[i];
    (span < 0 ? lo : hi) += span;
  }
  const char* d = static_cast<const char*>(dst);
  if (!(lo < d + nbytes && d < hi)) return;
  // Element i read from and written to the same address, in the same dense type: the kernels read each block
  // before writing it and threads work on disjoint blocks, so in-place conversion is exact.
  const bool in_place = dense_ && data_ == d && staged_ == same_kind;
  if (in_place) return;
  // Any other overlap (shifted, strided, another type over the same bytes): converting in place would read
  // elements already overwritten, so convert from a private copy of the source.
  reset(py::array(py::module_::import("numpy").attr("array")(array_, py::arg("copy") = true, py::arg("order") = "C")));
}

void ConvertSource::gather(const char* p, ptrdiff_t st, size_t count, void* out) const {
  const bool s = swap_;
  const auto same = [](auto v) { return v; };
  float* f = static_cast<float*>(out);
  switch (elem_) {
    case Elem::F16: gather_as<uint16_t>(p, st, count, s, static_cast<uint16_t*>(out), same); return;
    case Elem::F32: gather_as<uint32_t>(p, st, count, s, f, [](uint32_t b) { return bits_as<float>(b); }); return;
    case Elem::F64:
      gather_as<uint64_t>(p, st, count, s, static_cast<double*>(out), [](uint64_t b) { return bits_as<double>(b); });
      return;
    case Elem::I8: gather_as<uint8_t>(p, st, count, s, f, [](uint8_t b) { return float(int8_t(b)); }); return;
    case Elem::I16: gather_as<uint16_t>(p, st, count, s, f, [](uint16_t b) { return float(int16_t(b)); }); return;
    case Elem::I32: gather_as<uint32_t>(p, st, count, s, f, [](uint32_t b) { return float(int32_t(b)); }); return;
    case Elem::I64: gather_as<uint64_t>(p, st, count, s, f, [](uint64_t b) { return float(int64_t(b)); }); return;
    case Elem::U8: gather_as<uint8_t>(p, st, count, s, f, [](uint8_t b) { return float(b); }); return;
    case Elem::U16: gather_as<uint16_t>(p, st, count, s, f, [](uint16_t b) { return float(b); }); return;
    case Elem::U32: gather_as<uint32_t>(p, st, count, s, f, [](uint32_t b) { return float(b); }); return;
    case Elem::U64: gather_as<uint64_t>(p, st, count, s, f, [](uint64_t b) { return float(b); }); return;
    case Elem::Bool: gather_as<uint8_t>(p, st, count, s, f, [](uint8_t b) { return b ? 1.0f : 0.0f; }); return;
  }
}

void ConvertSource::for_each_run(size_t b, size_t e,
                                 const std::function<void(const void*, SrcKind, size_t, size_t)>& emit) const {
  const size_t nd = ndim_;
  std::array<size_t, kMaxDims> idx{};
  for (size_t i = nd, rem = b; i-- > 0;) {
    idx[i] = rem % shape_[i];
    rem /= shape_[i];
  }
  const ptrdiff_t inner_stride = strides_[nd - 1];
  // Dense rows of a kernel type in this machine's byte order need no staging.
  const bool direct = aligned_ && !swap_ && (elem_ == Elem::F16 || elem_ == Elem::F32 || elem_ == Elem::F64) &&
                      inner_stride == static_cast<ptrdiff_t>(item_);
  alignas(64) double stage[kStageElems];  // staged elements, each at most 8 bytes
  const size_t stage_item = kind_size(staged_);
  size_t staged = 0, stage_first = b;
  const auto flush = [&] {
    if (staged) emit(stage, staged_, stage_first, staged);
    staged = 0;
  };
  for (size_t pos = b; pos < e;) {
    const char* p = data_;
    for (size_t i = 0; i < nd; ++i) p += static_cast<ptrdiff_t>(idx[i]) * strides_[i];
    const size_t m = std::min(shape_[nd - 1] - idx[nd - 1], e - pos);
    if (direct && m >= 64) {  // dense native row: convert straight from the array
      flush();
      emit(p, staged_, pos, m);
    } else {
      for (size_t done = 0; done < m;) {
        if (staged == 0) stage_first = pos + done;
        const size_t k = std::min(m - done, kStageElems - staged);
        gather(p + static_cast<ptrdiff_t>(done) * inner_stride, inner_stride, k,
               reinterpret_cast<char*>(stage) + staged * stage_item);
        staged += k;
        done += k;
        if (staged == kStageElems) flush();
      }
    }
    pos += m;
    idx[nd - 1] += m;
    for (size_t i = nd - 1; i > 0 && idx[i] == shape_[i]; --i) {
      idx[i] = 0;
      ++idx[i - 1];
    }
  }
  flush();
}

void ConvertSource::convert_transposed(Dest dest, void* dst) const {
  // A 2-D source whose rows step by less than its columns (a transpose, a Fortran-order matrix): reading it in
  // output order touches a new cache line per element. Tiles of kTile x kTile are read column by column (along
  // the source's dense direction) and written row by row instead. Each thread takes the whole rows whose first
  // element falls in its range of output positions.
  const size_t rows_total = shape_[0], cols_total = shape_[1];
  const size_t stage_item = kind_size(staged_);
  core::parallel_chunks(size_, [&](size_t b, size_t e) {
    const size_t r_begin = (b + cols_total - 1) / cols_total;
    const size_t r_end = std::min(rows_total, (e + cols_total - 1) / cols_total);
    alignas(64) double tile[kTile * kTile];
    alignas(64) double column[kTile];
    for (size_t r0 = r_begin; r0 < r_end; r0 += kTile) {
      const size_t rows = std::min(kTile, r_end - r0);
      for (size_t c0 = 0; c0 < cols_total; c0 += kTile) {
        const size_t cols = std::min(kTile, cols_total - c0);
        for (size_t j = 0; j < cols; ++j) {
          gather(data_ + static_cast<ptrdiff_t>(r0) * strides_[0] + static_cast<ptrdiff_t>(c0 + j) * strides_[1],
                 strides_[0], rows, column);
          if (stage_item == 2) scatter_column<uint16_t>(column, tile, rows, j, kTile);
          else if (stage_item == 4) scatter_column<uint32_t>(column, tile, rows, j, kTile);
          else scatter_column<uint64_t>(column, tile, rows, j, kTile);
        }
        for (size_t r = 0; r < rows; ++r)
          convert_run(reinterpret_cast<const char*>(tile) + r * kTile * stage_item, staged_, dest, dst,
                      (r0 + r) * cols_total + c0, cols);
      }
    }
  });
}

void ConvertSource::convert_into(Dest dest, void* dst) const {
  if (size_ == 0) return;  // a zero-size dim: nothing to read (and no shape to walk)
  const auto magnitude = [](ptrdiff_t st) { return st < 0 ? -st : st; };
  if (dense_) {  // the common case: straight from the array, no staging
    core::parallel_chunks(size_, [&](size_t b, size_t e) { convert_run(data_ + b * item_, staged_, dest, dst, b, e - b); });
    return;
  }
  if (ndim_ == 2 && shape_[0] >= kTile / 4 && shape_[1] >= kTile / 4 &&
      magnitude(strides_[0]) < magnitude(strides_[1])) {
    convert_transposed(dest, dst);
    return;
  }
  core::parallel_chunks(size_, [&](size_t b, size_t e) {
    for_each_run(b, e, [&](const void* p, SrcKind kind, size_t first, size_t n) {
      convert_run(p, kind, dest, dst, first, n);
    });
  });
}

bool is_native_order(const py::dtype& dt) {
  // numpy's byteorder character: '=' native, '|' not applicable, '<' little, '>' big.
  return dt.byteorder() != (kLittleEndian ? '>' : '<');
}

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  if (a.ndim() == 1) s += ",";
  return s + ")";
}

py::object index_or_none(const py::handle& obj) {
  if (!py::isinstance<py::bool_>(obj)) {
    PyObject* v = PyNumber_Index(obj.ptr());
    if (v != nullptr) return py::reinterpret_steal<py::object>(v);
    PyErr_Clear();
  }
  return py::none();
}

}  // namespace anekit::bindings
