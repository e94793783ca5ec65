// Byte copies between host arrays and surfaces.
#pragma once

#include <cstddef>

namespace anekit::core {

/**
 * memcpy(dst, src, nbytes) for non-overlapping buffers, without the x86 slow case where the destination lies
 * just past a 4 KiB multiple of the source: ((dst - src) mod 4096) in [1, 63]. There glibc's `rep movsb` copy
 * (glibc 2.36, AMD EPYC) runs 10-15x slower than normal (measured: 393 KB in 142 us instead of 13 us), and
 * numpy arrays, whose data sits 16 bytes into a heap block, land in that window against 64-byte-aligned
 * surfaces often. Such copies use a plain vector loop, which is as fast as memcpy at every distance.
 */
void copy_bytes(void* dst, const void* src, size_t nbytes);

}  // namespace anekit::core
