#include "surface.h"

#include <algorithm>

#include <cstdlib>
#include <new>
#include <sstream>
#include <stdexcept>

namespace anekit::core {

namespace {

std::mutex& allocator_mutex() {
  static std::mutex m;
  return m;
}

SurfaceAllocator& allocator() {
  static SurfaceAllocator a;
  return a;
}

std::atomic<int64_t>& live_count() {
  static std::atomic<int64_t> n{0};
  return n;
}

// 64 bytes: a cache line, and enough for any SIMD load/store we issue.
constexpr size_t kAlignment = 64;

}  // namespace

size_t element_size(SurfaceDType dt) { return dt == SurfaceDType::FP16 ? 2 : 4; }

std::string dtype_name(SurfaceDType dt) { return dt == SurfaceDType::FP16 ? "fp16" : "fp32"; }

SurfaceDType dtype_from_name(const std::string& name) {
  if (name == "fp16" || name == "float16") return SurfaceDType::FP16;
  if (name == "fp32" || name == "float32") return SurfaceDType::FP32;
  throw std::invalid_argument("[Surface] dtype must be 'fp16' or 'fp32' (the ANE's I/O types), got '" + name + "'");
}

void AlignedStorage::Free::operator()(void* p) const noexcept { std::free(p); }

AlignedStorage::AlignedStorage(size_t nbytes) : nbytes_(nbytes) {
  // aligned_alloc needs a size that is a multiple of the alignment.
  const size_t rounded = ((nbytes + kAlignment - 1) / kAlignment) * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  if (p == nullptr) throw std::bad_alloc();
  data_.reset(p);
}

void* AlignedStorage::lock(bool /*read_only*/) {
  locks_.fetch_add(1, std::memory_order_acq_rel);
  return data_.get();
}

void AlignedStorage::unlock(bool /*read_only*/) {
  if (locks_.fetch_sub(1, std::memory_order_acq_rel) <= 0) {
    locks_.fetch_add(1, std::memory_order_acq_rel);
    throw std::logic_error("[Surface] unlock without a matching lock");
  }
}

void set_surface_allocator(SurfaceAllocator a) {
  std::lock_guard<std::mutex> g(allocator_mutex());
  allocator() = std::move(a);
}

int64_t live_surface_count() { return live_count().load(); }

namespace {
std::atomic<int64_t>& unlock_failure_count() {
  static std::atomic<int64_t> count{0};
  return count;
}
}  // namespace

int64_t unlock_failures() { return unlock_failure_count().load(); }
void note_unlock_failure() noexcept { unlock_failure_count().fetch_add(1); }

Surface::Surface(std::vector<int64_t> shape, SurfaceDType dtype, size_t allocation)
    : shape_(std::move(shape)), dtype_(dtype), numel_(1) {
  if (shape_.empty() || shape_.size() > 5) {
    throw std::invalid_argument("[Surface] shape must have 1 to 5 dims (the ANE I/O layout is [1, C, 1, S]), got " +
                                shape_str());
  }
  for (int64_t d : shape_) {
    if (d <= 0) throw std::invalid_argument("[Surface] every dim must be positive, got shape " + shape_str());
    if (numel_ > (size_t{1} << 40) / static_cast<size_t>(d))
      throw std::invalid_argument("[Surface] shape " + shape_str() + " is too large");
    numel_ *= static_cast<size_t>(d);
  }
  if (allocation > kMaxSurfaceAllocation)
    throw std::invalid_argument("[Surface] allocation of " + std::to_string(allocation) +
                                " bytes is above the 1 GiB limit");
  const size_t bytes = std::max(numel_ * element_size(dtype_), allocation);
  SurfaceAllocator a;
  {
    std::lock_guard<std::mutex> g(allocator_mutex());
    a = allocator();
  }
  storage_ = a ? a(bytes) : std::make_unique<AlignedStorage>(bytes);
  if (!storage_ || storage_->nbytes() < bytes)
    throw std::runtime_error("[Surface] allocator returned no storage for " + std::to_string(bytes) + " bytes");
  live_count().fetch_add(1);
}

Surface::~Surface() { live_count().fetch_sub(1); }

std::string Surface::shape_str() const {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < shape_.size(); ++i) os << (i ? ", " : "") << shape_[i];
  if (shape_.size() == 1) os << ",";
  os << ")";
  return os.str();
}

}  // namespace anekit::core
