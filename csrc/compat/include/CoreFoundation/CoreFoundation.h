/*
 * Minimal Apple-shaped CoreFoundation for the Linux build (Debian 12 has no libgnustep-corebase), see
 * docs/internals/linux-objc-toolchain.md §5.4. Only the names the ANE backend uses. On Linux every "CF object"
 * is a GNUstep Objective-C object, so the functions map to -retain/-release (src/cf_shim.mm).
 */
#ifndef ANEKIT_COMPAT_COREFOUNDATION_H
#define ANEKIT_COMPAT_COREFOUNDATION_H

#ifdef __cplusplus
extern "C" {
#endif

typedef const void *CFTypeRef;
typedef const struct __CFString *CFStringRef;
typedef const struct __CFDictionary *CFDictionaryRef;
typedef struct __CFDictionary *CFMutableDictionaryRef;
typedef const struct __CFNumber *CFNumberRef;
typedef const struct __CFData *CFDataRef;
typedef const struct __CFArray *CFArrayRef;
typedef const struct __CFAllocator *CFAllocatorRef;
typedef long CFIndex;
typedef unsigned long CFTypeID;
typedef unsigned char Boolean;

#define kCFAllocatorDefault ((CFAllocatorRef)0)

CFTypeRef CFRetain(CFTypeRef cf);
void CFRelease(CFTypeRef cf);
CFIndex CFGetRetainCount(CFTypeRef cf);

#ifdef __cplusplus
}
#endif

#ifdef __OBJC__
#ifdef __cplusplus
extern "C" {
#endif
/* Returns +1 (the caller owns the reference and must CFRelease it), as on macOS. */
CFTypeRef CFBridgingRetain(id X);
/* Hands a +1 reference back to Objective-C: on Linux the object is autoreleased into the current pool. */
id CFBridgingRelease(CFTypeRef X);
#ifdef __cplusplus
}
#endif
#endif /* __OBJC__ */

#endif /* ANEKIT_COMPAT_COREFOUNDATION_H */
