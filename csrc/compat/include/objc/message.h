/*
 * Linux shim for <objc/message.h>: GCC's Objective-C runtime (libobjc.so.4) has only objc_msg_lookup, no
 * objc_msgSend. This header chains to GCC's own message.h and declares objc_msgSend, implemented by the
 * x86_64 trampoline in src/objc_msgsend_gnu.c (docs/internals/linux-objc-toolchain.md §5.2).
 * The old variadic prototype lets both direct calls and casts to exact function-pointer types compile,
 * exactly as with Apple's headers when OBJC_OLD_DISPATCH_PROTOTYPES is set.
 */
#ifndef ANEKIT_COMPAT_OBJC_MESSAGE_H
#define ANEKIT_COMPAT_OBJC_MESSAGE_H

#include_next <objc/message.h>

#ifdef __cplusplus
extern "C" {
#endif

id objc_msgSend(id self, SEL op, ...);

#ifdef __cplusplus
}
#endif

#endif /* ANEKIT_COMPAT_OBJC_MESSAGE_H */
