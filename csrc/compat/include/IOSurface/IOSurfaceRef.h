/*
 * Apple-shaped IOSurface C API for the Linux build (docs/internals/linux-objc-toolchain.md §5.5). The surface is
 * an Objective-C object of class `IOSurface` (src/iosurface_shim.mm), so CFRelease(surface) is -release as
 * with macOS's toll-free bridging, and the dlopen'ed fake framework can reach its memory through messages
 * (-baseAddress, -allocationSize) without link-time symbols.
 */
#ifndef ANEKIT_COMPAT_IOSURFACEREF_H
#define ANEKIT_COMPAT_IOSURFACEREF_H

#include <stddef.h>
#include <stdint.h>

#include <CoreFoundation/CoreFoundation.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct __IOSurface *IOSurfaceRef;
typedef uint32_t IOSurfaceID;
typedef uint32_t IOSurfaceLockOptions;
typedef int kern_return_t;

#ifndef KERN_SUCCESS
#define KERN_SUCCESS 0
#endif

enum {
    kIOSurfaceLockReadOnly = 0x00000001,
    kIOSurfaceLockAvoidSync = 0x00000002,
};

extern const CFStringRef kIOSurfaceAllocSize;
extern const CFStringRef kIOSurfaceWidth;
extern const CFStringRef kIOSurfaceHeight;
extern const CFStringRef kIOSurfaceBytesPerRow;
extern const CFStringRef kIOSurfaceBytesPerElement;
extern const CFStringRef kIOSurfaceElementWidth;
extern const CFStringRef kIOSurfaceElementHeight;
extern const CFStringRef kIOSurfacePixelFormat;

/* Create rule: the result is +1 (release with CFRelease); NULL for an invalid or zero-sized request. */
IOSurfaceRef IOSurfaceCreate(CFDictionaryRef properties);
kern_return_t IOSurfaceLock(IOSurfaceRef buffer, IOSurfaceLockOptions options, uint32_t *seed);
kern_return_t IOSurfaceUnlock(IOSurfaceRef buffer, IOSurfaceLockOptions options, uint32_t *seed);
void *IOSurfaceGetBaseAddress(IOSurfaceRef buffer);
size_t IOSurfaceGetAllocSize(IOSurfaceRef buffer);
size_t IOSurfaceGetWidth(IOSurfaceRef buffer);
size_t IOSurfaceGetHeight(IOSurfaceRef buffer);
size_t IOSurfaceGetBytesPerRow(IOSurfaceRef buffer);
size_t IOSurfaceGetBytesPerElement(IOSurfaceRef buffer);
IOSurfaceID IOSurfaceGetID(IOSurfaceRef buffer);

#ifdef __cplusplus
}
#endif

#endif /* ANEKIT_COMPAT_IOSURFACEREF_H */
