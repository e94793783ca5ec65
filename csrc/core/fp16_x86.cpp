// F16C + AVX2 conversion loops (x86-64 only). Compiled with per-function target attributes so the rest of
// the library keeps the baseline ISA; callers must check f16c_available() first (fp16.cpp does).
#include "fp16.h"
#include "fp16_simd.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#include <immintrin.h>

#define ANEKIT_F16C __attribute__((target("avx2,f16c")))

namespace anekit::core::simd {

// CPU feature check with cpuid (portable across GCC and clang versions; clang 14 lacks
// __builtin_cpu_supports("f16c")): F16C and AVX in CPUID.1:ECX, AVX2 in CPUID.(7,0):EBX, and the OS must
// save the YMM state (OSXSAVE + XCR0 bits 1-2), per the Intel SDM vol. 1 §14.3.
static bool cpu_has_f16c_avx2() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool f16c = (c >> 29) & 1u, avx = (c >> 28) & 1u, osxsave = (c >> 27) & 1u;
  if (!(f16c && avx && osxsave)) return false;
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0x6u) != 0x6u) return false;  // XMM and YMM state enabled by the OS
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (b >> 5) & 1u;  // AVX2
}

bool f16c_available() {
  static const bool ok = cpu_has_f16c_avx2();
  return ok;
}

// Rounding immediate for vcvtps2ph: round-to-nearest-even, exceptions suppressed.
constexpr int kRne = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

ANEKIT_F16C static inline bool any_nan_ps(__m256 v) {
  return _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0;
}

ANEKIT_F16C static inline bool any_nan_ph(__m128i h) {
  // NaN <=> (h & 0x7fff) > 0x7c00; compare as signed 16-bit, valid since masked values are < 0x8000.
  const __m128i mag = _mm_and_si128(h, _mm_set1_epi16(0x7fff));
  return _mm_movemask_epi8(_mm_cmpgt_epi16(mag, _mm_set1_epi16(0x7c00))) != 0;
}

// Outputs at least this large (8 MiB of fp16, plus 16 MiB of fp32 input: more than a typical L3 share) bypass the cache with non-temporal stores: they would not stay cached anyway, and
// streaming avoids reading every destination line before overwriting it (a third less memory traffic).
constexpr size_t kStreamElems = size_t{1} << 22;

ANEKIT_F16C static size_t f32_to_f16_stream(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 a = _mm256_loadu_ps(src + i);
    const __m256 b = _mm256_loadu_ps(src + i + 8);
    const __m256 c = _mm256_loadu_ps(src + i + 16);
    const __m256 d = _mm256_loadu_ps(src + i + 24);
    if (any_nan_ps(_mm256_or_ps(_mm256_cmp_ps(a, b, _CMP_UNORD_Q), _mm256_cmp_ps(c, d, _CMP_UNORD_Q)))) {
      for (size_t k = i; k < i + 32; ++k) dst[k] = f32_to_f16_scalar(src[k]);
      continue;
    }
    const __m256i lo = _mm256_set_m128i(_mm256_cvtps_ph(b, kRne), _mm256_cvtps_ph(a, kRne));
    const __m256i hi = _mm256_set_m128i(_mm256_cvtps_ph(d, kRne), _mm256_cvtps_ph(c, kRne));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i), lo);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + i + 16), hi);
  }
  _mm_sfence();  // order the streaming stores before anyone reads the surface
  return i;
}

ANEKIT_F16C size_t f32_to_f16_f16c(const float* src, uint16_t* dst, size_t n) {
  if (n >= kStreamElems && reinterpret_cast<uintptr_t>(dst) % 32 == 0) return f32_to_f16_stream(src, dst, n);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 a = _mm256_loadu_ps(src + i);
    const __m256 b = _mm256_loadu_ps(src + i + 8);
    const __m256 c = _mm256_loadu_ps(src + i + 16);
    const __m256 d = _mm256_loadu_ps(src + i + 24);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(a, kRne));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 8), _mm256_cvtps_ph(b, kRne));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 16), _mm256_cvtps_ph(c, kRne));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 24), _mm256_cvtps_ph(d, kRne));
    if (any_nan_ps(_mm256_or_ps(_mm256_cmp_ps(a, b, _CMP_UNORD_Q), _mm256_cmp_ps(c, d, _CMP_UNORD_Q)))) {
      for (size_t k = i; k < i + 32; ++k) dst[k] = f32_to_f16_scalar(src[k]);  // numpy's NaN payload rule
    }
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 a = _mm256_loadu_ps(src + i);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(a, kRne));
    if (any_nan_ps(a)) {
      for (size_t k = i; k < i + 8; ++k) dst[k] = f32_to_f16_scalar(src[k]);
    }
  }
  return i;
}

// Narrow two 4x64-bit lane masks to one 8x32-bit mask laid out like [cvtpd_ps(lo) | cvtpd_ps(hi)].
ANEKIT_F16C static inline __m256i narrow_masks(__m256d lo, __m256d hi) {
  const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  const __m128i l = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(lo), idx));
  const __m128i h = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(hi), idx));
  return _mm256_set_m128i(h, l);
}

ANEKIT_F16C size_t f64_to_f16_f16c(const double* src, uint16_t* dst, size_t n) {
  // Round-to-odd into fp32 (see f64_to_f16_scalar), then one RNE rounding to fp16.
  const __m256i one = _mm256_set1_epi32(1);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256d d0 = _mm256_loadu_pd(src + i);
    const __m256d d1 = _mm256_loadu_pd(src + i + 4);
    const __m256d nan = _mm256_or_pd(_mm256_cmp_pd(d0, d0, _CMP_UNORD_Q), _mm256_cmp_pd(d1, d1, _CMP_UNORD_Q));
    if (_mm256_movemask_pd(nan) != 0) {
      for (size_t k = i; k < i + 8; ++k) dst[k] = f64_to_f16_scalar(src[k]);
      continue;
    }
    const __m128 f0 = _mm256_cvtpd_ps(d0);
    const __m128 f1 = _mm256_cvtpd_ps(d1);
    const __m256d b0 = _mm256_cvtps_pd(f0);
    const __m256d b1 = _mm256_cvtps_pd(f1);
    // inexact lanes, and lanes rounded away from zero (|back| > |d|)
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    const __m256d inex0 = _mm256_cmp_pd(b0, d0, _CMP_NEQ_UQ);
    const __m256d inex1 = _mm256_cmp_pd(b1, d1, _CMP_NEQ_UQ);
    const __m256d away0 = _mm256_cmp_pd(_mm256_and_pd(b0, absmask), _mm256_and_pd(d0, absmask), _CMP_GT_OQ);
    const __m256d away1 = _mm256_cmp_pd(_mm256_and_pd(b1, absmask), _mm256_and_pd(d1, absmask), _CMP_GT_OQ);
    const __m256i inexact = narrow_masks(inex0, inex1);
    const __m256i away = narrow_masks(away0, away1);
    __m256i bits = _mm256_castps_si256(_mm256_set_m128(f1, f0));
    bits = _mm256_add_epi32(bits, away);  // away lanes are all-ones (-1): step toward zero
    bits = _mm256_or_si256(bits, _mm256_and_si256(inexact, one));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(_mm256_castsi256_ps(bits), kRne));
  }
  return i;
}

ANEKIT_F16C size_t f16_to_f32_f16c(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  const __m256i magnitude = _mm256_set1_epi16(0x7fff);
  const __m256i inf = _mm256_set1_epi16(0x7c00);
  for (; i + 32 <= n; i += 32) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 16));
    // One NaN test for 32 halves: the larger magnitude of each pair exceeds 0x7c00 iff either is a NaN.
    const __m256i mag = _mm256_max_epu16(_mm256_and_si256(lo, magnitude), _mm256_and_si256(hi, magnitude));
    if (_mm256_movemask_epi8(_mm256_cmpgt_epi16(mag, inf)) != 0) {
      for (size_t k = i; k < i + 32; ++k) dst[k] = f16_to_f32_scalar(src[k]);  // keep signalling payloads
      continue;
    }
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm256_castsi256_si128(lo)));
    _mm256_storeu_ps(dst + i + 8, _mm256_cvtph_ps(_mm256_extracti128_si256(lo, 1)));
    _mm256_storeu_ps(dst + i + 16, _mm256_cvtph_ps(_mm256_castsi256_si128(hi)));
    _mm256_storeu_ps(dst + i + 24, _mm256_cvtph_ps(_mm256_extracti128_si256(hi, 1)));
  }
  for (; i + 8 <= n; i += 8) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(a));
    if (any_nan_ph(a)) {
      for (size_t k = i; k < i + 8; ++k) dst[k] = f16_to_f32_scalar(src[k]);
    }
  }
  return i;
}

ANEKIT_F16C size_t round_f32_f16c(const float* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_loadu_ps(src + i);
    const __m256 b = _mm256_loadu_ps(src + i + 8);
    if (any_nan_ps(_mm256_cmp_ps(a, b, _CMP_UNORD_Q))) {
      for (size_t k = i; k < i + 16; ++k) dst[k] = f16_to_f32_scalar(f32_to_f16_scalar(src[k]));
      continue;
    }
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm256_cvtps_ph(a, kRne)));
    _mm256_storeu_ps(dst + i + 8, _mm256_cvtph_ps(_mm256_cvtps_ph(b, kRne)));
  }
  return i;
}

}  // namespace anekit::core::simd

#else  // not x86-64

namespace anekit::core::simd {
bool f16c_available() { return false; }
size_t f32_to_f16_f16c(const float*, uint16_t*, size_t) { return 0; }
size_t f64_to_f16_f16c(const double*, uint16_t*, size_t) { return 0; }
size_t f16_to_f32_f16c(const uint16_t*, float*, size_t) { return 0; }
size_t round_f32_f16c(const float*, float*, size_t) { return 0; }
}  // namespace anekit::core::simd

#endif
