// CoreFoundation shim for the Linux build (docs/internals/linux-objc-toolchain.md §5.4). Every "CF object" on
// Linux is a GNUstep Objective-C object (IOSurface is the shim class in iosurface_shim.mm), so the CF
// memory-management functions are plain retain/release messages. Compiled without ARC (Linux is MRC).
#import <Foundation/Foundation.h>

#include <CoreFoundation/CoreFoundation.h>

extern "C" {

CFTypeRef CFRetain(CFTypeRef cf) {
    if (cf == nullptr) {
        // Apple's CFRetain crashes on NULL; be louder than a segfault.
        [NSException raise:NSInvalidArgumentException format:@"CFRetain called with NULL"];
    }
    [(id)cf retain];
    return cf;
}

void CFRelease(CFTypeRef cf) {
    if (cf == nullptr) {
        [NSException raise:NSInvalidArgumentException format:@"CFRelease called with NULL"];
    }
    [(id)cf release];
}

CFIndex CFGetRetainCount(CFTypeRef cf) {
    return cf == nullptr ? 0 : static_cast<CFIndex>([(id)cf retainCount]);
}

CFTypeRef CFBridgingRetain(id X) {
    // +1 for the caller, as on macOS.
    return X == nil ? nullptr : (CFTypeRef)[X retain];
}

id CFBridgingRelease(CFTypeRef X) {
    // Apple semantics: the +1 is handed to the current autorelease pool.
    return X == nullptr ? nil : [(id)X autorelease];
}

}  // extern "C"
