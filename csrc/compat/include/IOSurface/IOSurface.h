/* Linux shim: Apple's IOSurface.h umbrella; see IOSurfaceRef.h and docs/internals/linux-objc-toolchain.md §5.5. */
#ifndef ANEKIT_COMPAT_IOSURFACE_H
#define ANEKIT_COMPAT_IOSURFACE_H
#include <IOSurface/IOSurfaceRef.h>
#endif
