/*
 * objc_msgSend for GCC's Objective-C runtime (libobjc.so.4), which exports only objc_msg_lookup.
 * Specification: docs/internals/linux-objc-toolchain.md §5.2. Linux x86_64 System V (ELF) only.
 *
 * The trampoline saves every register that can carry arguments (rdi, rsi, rdx, rcx, r8, r9; rax, whose
 * low byte holds the vector-register count of a variadic call; xmm0-xmm7), asks objc_msg_lookup for the
 * implementation of (receiver, selector), restores the registers and tail-jumps to the implementation.
 * Stack-passed arguments and the caller's return address are then exactly where the implementation
 * expects them, so any signature without a hidden struct-return pointer works (no _stret/_fpret variants:
 * the ANE selectors return id, BOOL or NSUInteger). For a nil receiver GCC's runtime returns an
 * implementation that returns 0.
 *
 * Stack: on entry rsp = 8 (mod 16); reserving 0xd8 bytes makes it 16-byte aligned for the call and for the
 * aligned xmm stores at 0x40..0xbf. The symbol is hidden so that it never interposes another module's
 * objc_msgSend in the same process.
 */
#if !defined(__x86_64__) || !defined(__ELF__)
#error "objc_msgsend_gnu.c: the objc_msgSend trampoline exists only for x86_64 ELF (docs/internals/linux-objc-toolchain.md §5.2)"
#endif

__asm__(
    "    .text\n"
    "    .globl objc_msgSend\n"
    "    .hidden objc_msgSend\n"
    "    .type objc_msgSend,@function\n"
    "    .p2align 4\n"
    "objc_msgSend:\n"
    "    .cfi_startproc\n"
    "    subq $0xd8, %rsp\n"
    "    .cfi_adjust_cfa_offset 0xd8\n"
    "    movq %rdi, 0x00(%rsp)\n"
    "    movq %rsi, 0x08(%rsp)\n"
    "    movq %rdx, 0x10(%rsp)\n"
    "    movq %rcx, 0x18(%rsp)\n"
    "    movq %r8,  0x20(%rsp)\n"
    "    movq %r9,  0x28(%rsp)\n"
    "    movq %rax, 0x30(%rsp)\n"
    "    movaps %xmm0, 0x40(%rsp)\n"
    "    movaps %xmm1, 0x50(%rsp)\n"
    "    movaps %xmm2, 0x60(%rsp)\n"
    "    movaps %xmm3, 0x70(%rsp)\n"
    "    movaps %xmm4, 0x80(%rsp)\n"
    "    movaps %xmm5, 0x90(%rsp)\n"
    "    movaps %xmm6, 0xa0(%rsp)\n"
    "    movaps %xmm7, 0xb0(%rsp)\n"
    "    call objc_msg_lookup@PLT\n"
    "    movq %rax, %r11\n"
    "    movaps 0x40(%rsp), %xmm0\n"
    "    movaps 0x50(%rsp), %xmm1\n"
    "    movaps 0x60(%rsp), %xmm2\n"
    "    movaps 0x70(%rsp), %xmm3\n"
    "    movaps 0x80(%rsp), %xmm4\n"
    "    movaps 0x90(%rsp), %xmm5\n"
    "    movaps 0xa0(%rsp), %xmm6\n"
    "    movaps 0xb0(%rsp), %xmm7\n"
    "    movq 0x00(%rsp), %rdi\n"
    "    movq 0x08(%rsp), %rsi\n"
    "    movq 0x10(%rsp), %rdx\n"
    "    movq 0x18(%rsp), %rcx\n"
    "    movq 0x20(%rsp), %r8\n"
    "    movq 0x28(%rsp), %r9\n"
    "    movq 0x30(%rsp), %rax\n"
    "    addq $0xd8, %rsp\n"
    "    .cfi_adjust_cfa_offset -0xd8\n"
    "    jmp *%r11\n"
    "    .cfi_endproc\n"
    "    .size objc_msgSend, .-objc_msgSend\n"
    "    .section .note.GNU-stack,\"\",@progbits\n"
    "    .text\n");
