// anekit::core::Surface: an ANE I/O tensor buffer.
//
// The ANE exchanges tensors through IOSurfaces laid out [1, C, 1, S], channel-major (element (c, s) at
// c*S + s), no padding (docs/internals/ane-private-api.md §12.2). A Surface owns one storage block of at least
// prod(shape) * element_size bytes (more when a minimum allocation is asked for: the ANE backend gives every
// surface of a side one allocation size, docs/internals/ane-private-api.md §25.3), the tensor packed at offset 0, and enforces the IOSurface lock discipline on every access: lock (read-only
// or read-write), touch the bytes, unlock (§12.3). Where the budget of the block comes from is pluggable:
// 64-byte-aligned host memory by default, an IOSurface when the ANE backend is built (it registers its
// allocator at start-up), so the same class serves macOS, the Linux fake framework and plain Linux.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace anekit::core {

/** Element type of a surface. */
enum class SurfaceDType { FP16, FP32 };

size_t element_size(SurfaceDType dt);
std::string dtype_name(SurfaceDType dt);
/** Parses "fp16"/"float16" and "fp32"/"float32"; throws std::invalid_argument otherwise. */
SurfaceDType dtype_from_name(const std::string& name);

/**
 * The memory behind a Surface. Implementations: AlignedStorage (below) and the ANE backend's IOSurface
 * storage. lock() returns the base address valid until the matching unlock(); it throws std::runtime_error
 * when the platform refuses the lock (IOSurfaceLock's kern_return_t is checked, unlike upstream code).
 */
class SurfaceStorage {
 public:
  virtual ~SurfaceStorage() = default;
  virtual void* lock(bool read_only) = 0;
  virtual void unlock(bool read_only) = 0;
  /** Base address without locking (for identity and diagnostics only; never dereference it unlocked). */
  virtual void* address() const = 0;
  virtual size_t nbytes() const = 0;
  /** "aligned-host" or "iosurface"; shown in repr and anekit.info(). */
  virtual const char* kind() const = 0;
  /** The platform handle (IOSurfaceRef) for the backend's request wiring, or nullptr for host memory. */
  virtual void* native_handle() const { return nullptr; }
};

/** 64-byte-aligned host memory with the same lock bookkeeping as an IOSurface. */
class AlignedStorage final : public SurfaceStorage {
 public:
  explicit AlignedStorage(size_t nbytes);
  void* lock(bool read_only) override;
  void unlock(bool read_only) override;
  void* address() const override { return data_.get(); }
  size_t nbytes() const override { return nbytes_; }
  const char* kind() const override { return "aligned-host"; }

 private:
  struct Free {
    void operator()(void* p) const noexcept;
  };
  std::unique_ptr<void, Free> data_;
  size_t nbytes_;
  std::atomic<int> locks_{0};
};

using SurfaceAllocator = std::function<std::unique_ptr<SurfaceStorage>(size_t nbytes)>;

/**
 * Replace the process-wide storage allocator (the ANE backend installs its IOSurface allocator when it is
 * initialised). Passing an empty function restores AlignedStorage. Surfaces already created keep their storage.
 */
void set_surface_allocator(SurfaceAllocator allocator);

/** Number of live Surface objects in the process (leak checks). */
int64_t live_surface_count();

/** Unlocks that failed inside Surface::Lock's destructor, where they cannot be thrown (diagnostics). */
int64_t unlock_failures();
void note_unlock_failure() noexcept;

/** Largest allocation a Surface may ask for beyond its tensor (1 GiB): a guard against absurd requests. */
inline constexpr size_t kMaxSurfaceAllocation = size_t{1} << 30;

class Surface {
 public:
  /**
   * shape: 1 to 5 positive dims; allocation: the storage is max(allocation, tensor bytes) bytes, the tensor
   * packed at offset 0. Throws std::invalid_argument naming the bad shape or allocation.
   */
  Surface(std::vector<int64_t> shape, SurfaceDType dtype, size_t allocation = 0);
  ~Surface();
  Surface(const Surface&) = delete;
  Surface& operator=(const Surface&) = delete;

  const std::vector<int64_t>& shape() const { return shape_; }
  SurfaceDType dtype() const { return dtype_; }
  size_t numel() const { return numel_; }
  /** The tensor's bytes (numel * element size). */
  size_t nbytes() const { return numel_ * element_size(dtype_); }
  /** The storage block's size (>= nbytes()). */
  size_t allocation_bytes() const { return storage_->nbytes(); }
  uintptr_t data_ptr() const { return reinterpret_cast<uintptr_t>(storage_->address()); }
  SurfaceStorage& storage() { return *storage_; }
  std::string shape_str() const;

  /** Lock for the duration of a scope. */
  class Lock {
   public:
    Lock(Surface& s, bool read_only) : s_(s), read_only_(read_only), ptr_(s.storage_->lock(read_only)) {}
    // Destructors must not throw: an unlock the platform refuses here (possibly during unwinding) would
    // terminate the process. The failure is counted instead (unlock_failures()).
    ~Lock() noexcept {
      try {
        s_.storage_->unlock(read_only_);
      } catch (...) {
        note_unlock_failure();
      }
    }
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    void* data() const { return ptr_; }

   private:
    Surface& s_;
    bool read_only_;
    void* ptr_;
  };

 private:
  std::vector<int64_t> shape_;
  SurfaceDType dtype_;
  size_t numel_;
  std::unique_ptr<SurfaceStorage> storage_;
};

}  // namespace anekit::core
