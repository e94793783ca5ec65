// NEON conversion loops (arm64 only: Apple silicon). Advanced SIMD and the fp16<->fp32 conversions
// (FCVTN/FCVTL) are architectural on AArch64, so no run-time check is needed. Same NaN rule as the x86 path:
// blocks containing a NaN are redone by the scalar routine to keep numpy's payload bits.
#include "fp16.h"
#include "fp16_simd.h"

#if defined(__aarch64__) || defined(_M_ARM64)
#include <arm_neon.h>

namespace anekit::core::simd {

bool neon_available() { return true; }

static inline bool any_nan_f32(float32x4_t a) {
  const uint32x4_t ordered = vceqq_f32(a, a);  // all-ones where not NaN
  return vminvq_u32(ordered) == 0;
}

size_t f32_to_f16_neon(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t a = vld1q_f32(src + i);
    const float32x4_t b = vld1q_f32(src + i + 4);
    const float16x8_t h = vcombine_f16(vcvt_f16_f32(a), vcvt_f16_f32(b));  // FPCR rounding: RNE by default
    vst1q_u16(dst + i, vreinterpretq_u16_f16(h));
    if (any_nan_f32(a) || any_nan_f32(b)) {
      for (size_t k = i; k < i + 8; ++k) dst[k] = f32_to_f16_scalar(src[k]);
    }
  }
  return i;
}

size_t f16_to_f32_neon(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint16x8_t u = vld1q_u16(src + i);
    const float16x8_t h = vreinterpretq_f16_u16(u);
    vst1q_f32(dst + i, vcvt_f32_f16(vget_low_f16(h)));
    vst1q_f32(dst + i + 4, vcvt_high_f32_f16(h));
    const uint16x8_t mag = vandq_u16(u, vdupq_n_u16(0x7fff));
    if (vmaxvq_u16(mag) > 0x7c00) {
      for (size_t k = i; k < i + 8; ++k) dst[k] = f16_to_f32_scalar(src[k]);
    }
  }
  return i;
}

size_t round_f32_neon(const float* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t a = vld1q_f32(src + i);
    if (any_nan_f32(a)) {
      for (size_t k = i; k < i + 4; ++k) dst[k] = f16_to_f32_scalar(f32_to_f16_scalar(src[k]));
      continue;
    }
    vst1q_f32(dst + i, vcvt_f32_f16(vcvt_f16_f32(a)));
  }
  return i;
}

}  // namespace anekit::core::simd

#else  // not arm64

namespace anekit::core::simd {
bool neon_available() { return false; }
size_t f32_to_f16_neon(const float*, uint16_t*, size_t) { return 0; }
size_t f16_to_f32_neon(const uint16_t*, float*, size_t) { return 0; }
size_t round_f32_neon(const float*, float*, size_t) { return 0; }
}  // namespace anekit::core::simd

#endif
