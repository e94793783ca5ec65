// IOSurface shim for the Linux build (docs/internals/linux-objc-toolchain.md §5.5).
//
// An Objective-C class named `IOSurface` (the name of macOS's toll-free-bridged class) backs the Apple C
// API, so that CFRelease(surface) is -release exactly as on macOS, and so that the dlopen'ed fake framework
// reaches a surface's memory through messages (-baseAddress, -allocationSize, -lockWithOptions:seed:)
// instead of link-time symbols: Python loads the extension RTLD_LOCAL, so its symbols are invisible to
// libraries it dlopens later. Linux-only Objective-C: ivars are declared in @interface and accessors are
// written by hand (GCC runtime, fragile ABI: no ivars in @implementation, no property synthesis).
// Compiled without ARC.
#import <Foundation/Foundation.h>

#include <IOSurface/IOSurfaceRef.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {
// kIOReturnNotLocked from IOKit's IOReturn.h (iokit_common_err(0x2cd)); returned by unlock without lock.
constexpr kern_return_t kReturnNotLocked = static_cast<kern_return_t>(0xE00002CD);
// Alignment of the backing memory. Apple documents none for IOSurface base addresses; 64 bytes keeps
// vector loads aligned and is what the toolchain doc's reference implementation uses (§5.5). Requests
// that matter for the ANE (128 bytes on M5, docs/internals/ane-private-api.md §15) concern the real framework only.
constexpr size_t kAlignment = 64;

uint32_t g_next_id = 1;      // Surface IDs start at 1 (0 means "no surface" on macOS).
long g_live_surfaces = 0;    // Live IOSurface objects, for leak tests (+anekitLiveCount).

size_t number_for(NSDictionary *props, CFStringRef key, size_t fallback) {
    id value = [props objectForKey:(NSString *)key];
    if (value == nil || ![value respondsToSelector:@selector(unsignedLongLongValue)]) {
        return fallback;
    }
    return static_cast<size_t>([value unsignedLongLongValue]);
}
}  // namespace

extern "C" {
const CFStringRef kIOSurfaceAllocSize = (CFStringRef) @"IOSurfaceAllocSize";
const CFStringRef kIOSurfaceWidth = (CFStringRef) @"IOSurfaceWidth";
const CFStringRef kIOSurfaceHeight = (CFStringRef) @"IOSurfaceHeight";
const CFStringRef kIOSurfaceBytesPerRow = (CFStringRef) @"IOSurfaceBytesPerRow";
const CFStringRef kIOSurfaceBytesPerElement = (CFStringRef) @"IOSurfaceBytesPerElement";
const CFStringRef kIOSurfaceElementWidth = (CFStringRef) @"IOSurfaceElementWidth";
const CFStringRef kIOSurfaceElementHeight = (CFStringRef) @"IOSurfaceElementHeight";
const CFStringRef kIOSurfacePixelFormat = (CFStringRef) @"IOSurfacePixelFormat";
}

@interface IOSurface : NSObject {
    void *_base;
    size_t _allocSize;
    size_t _width;
    size_t _height;
    size_t _bytesPerRow;
    size_t _bytesPerElement;
    uint32_t _surfaceID;
    uint32_t _lockCount;
    uint32_t _seed;
}
+ (long)anekitLiveCount;
- (id)initWithProperties:(NSDictionary *)properties;
- (void *)baseAddress;
- (size_t)allocationSize;
- (size_t)width;
- (size_t)height;
- (size_t)bytesPerRow;
- (size_t)bytesPerElement;
- (uint32_t)surfaceID;
- (kern_return_t)lockWithOptions:(uint32_t)options seed:(uint32_t *)seed;
- (kern_return_t)unlockWithOptions:(uint32_t)options seed:(uint32_t *)seed;
@end

@implementation IOSurface

+ (long)anekitLiveCount {
    return __atomic_load_n(&g_live_surfaces, __ATOMIC_SEQ_CST);
}

- (id)initWithProperties:(NSDictionary *)properties {
    self = [super init];
    if (self == nil) {
        return nil;
    }
    _width = number_for(properties, kIOSurfaceWidth, 0);
    _height = number_for(properties, kIOSurfaceHeight, 1);
    _bytesPerElement = number_for(properties, kIOSurfaceBytesPerElement, 1);
    _bytesPerRow = number_for(properties, kIOSurfaceBytesPerRow, _width * _bytesPerElement);
    const size_t minimum = _bytesPerRow * _height;
    _allocSize = number_for(properties, kIOSurfaceAllocSize, minimum);
    if (_allocSize == 0 || _allocSize < minimum) {
        // Apple's IOSurfaceCreate returns NULL for an empty or inconsistent description.
        [self release];
        return nil;
    }
    const size_t rounded = (_allocSize + kAlignment - 1) / kAlignment * kAlignment;
    _base = std::aligned_alloc(kAlignment, rounded);
    if (_base == nullptr) {
        [self release];
        return nil;
    }
    std::memset(_base, 0, rounded);
    _surfaceID = __atomic_fetch_add(&g_next_id, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&g_live_surfaces, 1, __ATOMIC_SEQ_CST);
    return self;
}

- (void)dealloc {
    if (_base != nullptr) {
        std::free(_base);
        __atomic_fetch_sub(&g_live_surfaces, 1, __ATOMIC_SEQ_CST);
    }
    [super dealloc];
}

- (void *)baseAddress { return _base; }
- (size_t)allocationSize { return _allocSize; }
- (size_t)width { return _width; }
- (size_t)height { return _height; }
- (size_t)bytesPerRow { return _bytesPerRow; }
- (size_t)bytesPerElement { return _bytesPerElement; }
- (uint32_t)surfaceID { return _surfaceID; }

- (kern_return_t)lockWithOptions:(uint32_t)options seed:(uint32_t *)seed {
    (void)options;
    __atomic_fetch_add(&_lockCount, 1, __ATOMIC_SEQ_CST);
    if (seed != nullptr) {
        *seed = __atomic_load_n(&_seed, __ATOMIC_SEQ_CST);
    }
    return KERN_SUCCESS;
}

- (kern_return_t)unlockWithOptions:(uint32_t)options seed:(uint32_t *)seed {
    uint32_t count = __atomic_load_n(&_lockCount, __ATOMIC_SEQ_CST);
    do {
        if (count == 0) {
            return kReturnNotLocked;
        }
    } while (!__atomic_compare_exchange_n(&_lockCount, &count, count - 1, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_SEQ_CST));
    // A read-write lock/unlock cycle may have modified the contents: bump the seed (Apple semantics).
    if ((options & kIOSurfaceLockReadOnly) == 0) {
        __atomic_fetch_add(&_seed, 1, __ATOMIC_SEQ_CST);
    }
    if (seed != nullptr) {
        *seed = __atomic_load_n(&_seed, __ATOMIC_SEQ_CST);
    }
    return KERN_SUCCESS;
}

@end

extern "C" {

IOSurfaceRef IOSurfaceCreate(CFDictionaryRef properties) {
    if (properties == nullptr) {
        return nullptr;
    }
    // Create rule: +1, released by the caller with CFRelease.
    return (IOSurfaceRef)[[IOSurface alloc] initWithProperties:(NSDictionary *)properties];
}

kern_return_t IOSurfaceLock(IOSurfaceRef buffer, IOSurfaceLockOptions options, uint32_t *seed) {
    return [(IOSurface *)buffer lockWithOptions:options seed:seed];
}

kern_return_t IOSurfaceUnlock(IOSurfaceRef buffer, IOSurfaceLockOptions options, uint32_t *seed) {
    return [(IOSurface *)buffer unlockWithOptions:options seed:seed];
}

void *IOSurfaceGetBaseAddress(IOSurfaceRef buffer) { return [(IOSurface *)buffer baseAddress]; }
size_t IOSurfaceGetAllocSize(IOSurfaceRef buffer) { return [(IOSurface *)buffer allocationSize]; }
size_t IOSurfaceGetWidth(IOSurfaceRef buffer) { return [(IOSurface *)buffer width]; }
size_t IOSurfaceGetHeight(IOSurfaceRef buffer) { return [(IOSurface *)buffer height]; }
size_t IOSurfaceGetBytesPerRow(IOSurfaceRef buffer) { return [(IOSurface *)buffer bytesPerRow]; }
size_t IOSurfaceGetBytesPerElement(IOSurfaceRef buffer) { return [(IOSurface *)buffer bytesPerElement]; }
IOSurfaceID IOSurfaceGetID(IOSurfaceRef buffer) { return [(IOSurface *)buffer surfaceID]; }

}  // extern "C"
