/*
 * GNUstep (built for GCC's runtime) includes <objc/blocks_runtime.h>, which only libobjc2 ships, whenever
 * blocks are enabled. Redirect to libblocksruntime-dev's <Block.h> (docs/internals/linux-objc-toolchain.md §5.3).
 */
#ifndef ANEKIT_COMPAT_OBJC_BLOCKS_RUNTIME_H
#define ANEKIT_COMPAT_OBJC_BLOCKS_RUNTIME_H
#include <Block.h>
#endif
