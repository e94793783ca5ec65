/*
 * Force-included (clang -include) into every Objective-C(++) translation unit of the Linux build only.
 * Makes Debian's GNUstep headers (GCC runtime) behave like Apple's for code written for macOS
 * (docs/internals/linux-objc-toolchain.md §5.1):
 *   - GCC's objc.h defines YES as (BOOL)1, which turns @YES into @(BOOL)1 and breaks boxed literals;
 *   - GCC's nil is (id)0, which Objective-C++ cannot pass to an NSError ** parameter (`error:nil`);
 *     Apple's objc.h uses nullptr in C++11, so we do the same.
 * Never included on macOS; the backend sources contain no #ifdef for it.
 */
#ifndef ANEKIT_COMPAT_ANE_LINUX_PREFIX_H
#define ANEKIT_COMPAT_ANE_LINUX_PREFIX_H

#ifdef __OBJC__
#import <Foundation/Foundation.h>

#undef YES
#undef NO
#define YES __objc_yes
#define NO __objc_no

#if defined(__cplusplus) && __has_feature(cxx_nullptr)
#undef nil
#undef Nil
#define nil nullptr
#define Nil nullptr
#endif
#endif /* __OBJC__ */

#endif /* ANEKIT_COMPAT_ANE_LINUX_PREFIX_H */
