#include "copy.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#endif

namespace anekit::core {

#if defined(__x86_64__) || defined(_M_X64)

namespace {

bool near_4k_alias(const void* dst, const void* src) {
  const uintptr_t distance = (reinterpret_cast<uintptr_t>(dst) - reinterpret_cast<uintptr_t>(src)) & 4095;
  return distance != 0 && distance < 64;
}

// SSE2 (part of x86-64) is enough: the copy is memory-bound, not instruction-bound.
void vector_copy(char* dst, const char* src, size_t n) {
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 48));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), a);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 16), b);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 32), c);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 48), d);
  }
  std::memcpy(dst + i, src + i, n - i);  // under 64 bytes: too short for the slow case
}

}  // namespace

void copy_bytes(void* dst, const void* src, size_t nbytes) {
  if (nbytes >= 1024 && near_4k_alias(dst, src)) {
    vector_copy(static_cast<char*>(dst), static_cast<const char*>(src), nbytes);
  } else {
    std::memcpy(dst, src, nbytes);
  }
}

#else

void copy_bytes(void* dst, const void* src, size_t nbytes) { std::memcpy(dst, src, nbytes); }

#endif

}  // namespace anekit::core
