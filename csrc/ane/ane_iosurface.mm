// IOSurface-backed storage for anekit Surfaces (docs/internals/ane-private-api.md §12). One IOSurface per MIL input and
// output: 1-byte elements, height 1, width = bytes per row = allocation size = the byte count, pixel format 0,
// exactly as every upstream caller creates them (§12.1). Lock and unlock results are checked (§12.3; upstream
// ignores them, audit finding MED-01). The IOSurfaceRef is a CF object, not an Objective-C pointer, so the
// same code is correct under ARC (macOS) and MRC (Linux shim).
#import <Foundation/Foundation.h>

#include <CoreFoundation/CoreFoundation.h>
#include <IOSurface/IOSurfaceRef.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "ane.h"
#include "ane_objc.h"

namespace anekit::ane {

namespace {

using detail::Failure;

class IOSurfaceStorage final : public core::SurfaceStorage {
 public:
  IOSurfaceStorage(IOSurfaceRef surface, std::size_t nbytes) : surface_(surface), nbytes_(nbytes) {}
  ~IOSurfaceStorage() override { CFRelease(surface_); }
  IOSurfaceStorage(const IOSurfaceStorage&) = delete;
  IOSurfaceStorage& operator=(const IOSurfaceStorage&) = delete;

  void* lock(bool read_only) override {
    const kern_return_t rc = IOSurfaceLock(surface_, lock_options(read_only), nullptr);
    if (rc != KERN_SUCCESS) {
      throw std::runtime_error("[ane::IOSurfaceStorage::lock] IOSurfaceLock failed with kern_return_t " +
                               std::to_string(rc) + " (surface of " + std::to_string(nbytes_) + " bytes)");
    }
    return IOSurfaceGetBaseAddress(surface_);
  }

  void unlock(bool read_only) override {
    const kern_return_t rc = IOSurfaceUnlock(surface_, lock_options(read_only), nullptr);
    if (rc != KERN_SUCCESS) {
      throw std::runtime_error("[ane::IOSurfaceStorage::unlock] IOSurfaceUnlock failed with kern_return_t " +
                               std::to_string(rc) + " (unlock without a matching lock?)");
    }
  }

  void* address() const override { return IOSurfaceGetBaseAddress(surface_); }
  std::size_t nbytes() const override { return nbytes_; }
  const char* kind() const override { return "iosurface"; }
  void* native_handle() const override { return surface_; }

 private:
  static IOSurfaceLockOptions lock_options(bool read_only) {
    return static_cast<IOSurfaceLockOptions>(read_only ? kIOSurfaceLockReadOnly : 0);
  }

  IOSurfaceRef surface_;  // +1 from IOSurfaceCreate (Create rule), released in the destructor
  std::size_t nbytes_;
};

}  // namespace

std::unique_ptr<core::SurfaceStorage> make_iosurface_storage(std::size_t nbytes) {
  if (nbytes == 0) {
    throw std::invalid_argument("[ane::make_iosurface_storage] nbytes must be positive, got 0");
  }
  Failure failure;
  IOSurfaceRef surface = nullptr;
  @autoreleasepool {
    @try {
      NSDictionary* properties = @{
        (__bridge NSString*)kIOSurfaceWidth : @(nbytes),
        (__bridge NSString*)kIOSurfaceHeight : @1,
        (__bridge NSString*)kIOSurfaceBytesPerElement : @1,
        (__bridge NSString*)kIOSurfaceBytesPerRow : @(nbytes),
        (__bridge NSString*)kIOSurfaceAllocSize : @(nbytes),
        (__bridge NSString*)kIOSurfacePixelFormat : @0,
      };
      surface = IOSurfaceCreate((__bridge CFDictionaryRef)properties);
      if (surface == nullptr) {
        failure = detail::make_failure(Failure::Kind::Runtime, "ane::make_iosurface_storage",
                                       "IOSurfaceCreate returned NULL for " + std::to_string(nbytes) + " bytes");
      } else if (IOSurfaceGetAllocSize(surface) < nbytes) {
        failure = detail::make_failure(Failure::Kind::Runtime, "ane::make_iosurface_storage",
                                       "IOSurfaceCreate allocated " + std::to_string(IOSurfaceGetAllocSize(surface)) +
                                           " bytes, fewer than the " + std::to_string(nbytes) + " requested");
      }
    } @catch (NSException* e) {
      failure = detail::failure_from_exception("ane::make_iosurface_storage", e);
    }
  }
  if (failure) {
    if (surface != nullptr) CFRelease(surface);
    detail::raise_failure(failure);
  }
  return std::make_unique<IOSurfaceStorage>(surface, nbytes);
}

void install_surface_allocator() {
  core::set_surface_allocator([](std::size_t nbytes) { return make_iosurface_storage(nbytes); });
}

}  // namespace anekit::ane
