// Scalar reference conversions and the runtime dispatcher.
//
// NaN rule (matches numpy's npy_floatbits_to_halfbits / npy_halfbits_to_floatbits, which are software
// conversions that do NOT quiet signalling NaNs): fp32->fp16 keeps the sign and the top 10 payload bits,
// forcing the lowest bit on if the truncated payload would be zero (so it stays a NaN); fp16->fp32 widens the
// payload unchanged. Hardware converters (F16C, NEON) set the quiet bit instead, so the SIMD paths hand any
// block that contains a NaN to these scalar routines. NaNs are rare in real tensors, so this costs nothing in
// practice and keeps every path bit-identical.
#include "fp16.h"

#include <cstring>
#include <stdexcept>

#include "fp16_simd.h"

namespace anekit::core {

namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Round-to-nearest-even of an fp32 bit pattern to fp16 (IEEE 754 binary16).
uint16_t half_from_float_bits(uint32_t f) {
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t exp = (f >> 23) & 0xffu;
  const uint32_t sig = f & 0x7fffffu;
  if (exp == 0xffu) {  // Inf or NaN
    if (sig == 0) return static_cast<uint16_t>(sign | 0x7c00u);
    uint32_t h = 0x7c00u | (sig >> 13);
    if (h == 0x7c00u) h |= 1u;  // keep it a NaN when the kept payload bits are all zero
    return static_cast<uint16_t>(sign | h);
  }
  // Unbiased exponent; fp16 normal range is [-14, 15].
  const int e = static_cast<int>(exp) - 127;
  if (e > 15) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow (rounding cannot save it: >= 2^16)
  if (e >= -14) {
    // Normal fp16: keep 10 mantissa bits, round-to-nearest-even on the 13 dropped bits.
    uint32_t h = (static_cast<uint32_t>(e + 15) << 10) | (sig >> 13);
    const uint32_t rem = sig & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is correct (may hit Inf)
    return static_cast<uint16_t>(sign | h);
  }
  if (e < -25) return static_cast<uint16_t>(sign);  // below half of the smallest subnormal (2^-25): +-0
  // Subnormal fp16: value = m * 2^-24 with m = (1.sig) * 2^(e+24), round-to-nearest-even.
  const uint32_t full = sig | 0x800000u;     // 24-bit significand, value = full * 2^(e-23)
  const int shift = -e - 1;                  // = (e-23) - (-24) negated: bits to drop, 14..24
  uint32_t h = full >> shift;
  const uint32_t rem = full & ((1u << shift) - 1u);
  const uint32_t halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (h & 1u))) ++h;  // may round up into the smallest normal: correct
  return static_cast<uint16_t>(sign | h);
}

Fp16Path& current_path() {
  static Fp16Path path = fp16_best_path();
  return path;
}

}  // namespace

uint16_t f32_to_f16_scalar(float f) { return half_from_float_bits(bits_of(f)); }

uint16_t f64_to_f16_scalar(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  const uint64_t exp = (u >> 52) & 0x7ffu;
  const uint64_t sig = u & 0xfffffffffffffull;
  if (exp == 0x7ffu && sig != 0) {  // NaN: same rule as fp32 (numpy's npy_doublebits_to_halfbits)
    const uint16_t sign = static_cast<uint16_t>((u >> 48) & 0x8000u);
    uint16_t h = static_cast<uint16_t>(0x7c00u | (sig >> 42));
    if (h == 0x7c00u) h |= 1u;
    return static_cast<uint16_t>(sign | h);
  }
  // Round to fp32 with round-to-odd, then fp32 -> fp16 round-to-nearest-even. fp32 keeps 13 more
  // significand bits than fp16 (>= 2 needed), so this equals one correct rounding of the double.
  float f = static_cast<float>(d);
  const double back = static_cast<double>(f);
  if (back != d) {
    uint32_t b = bits_of(f);
    if ((back > d) == (d > 0)) --b;  // rounded away from zero: step back toward zero (also Inf -> FLT_MAX)
    b |= 1u;                         // sticky bit: the value is inexact
    f = float_of(b);
  }
  return half_from_float_bits(bits_of(f));
}

float f16_to_f32_scalar(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t sig = h & 0x3ffu;
  if (exp == 0x1fu) return float_of(sign | 0x7f800000u | (sig << 13));  // Inf / NaN, payload kept
  if (exp != 0) return float_of(sign | ((exp + 112u) << 23) | (sig << 13));
  if (sig == 0) return float_of(sign);
  // Subnormal: normalise.
  int e = -1;
  do {
    ++e;
    sig <<= 1;
  } while ((sig & 0x400u) == 0);
  return float_of(sign | (static_cast<uint32_t>(112 - e) << 23) | ((sig & 0x3ffu) << 13));
}

Fp16Path fp16_best_path() {
  if (simd::neon_available()) return Fp16Path::Neon;
  if (simd::f16c_available()) return Fp16Path::F16C;
  return Fp16Path::Scalar;
}

Fp16Path fp16_path() { return current_path(); }

std::string fp16_path_name() {
  switch (current_path()) {
    case Fp16Path::F16C:
      return "f16c+avx2";
    case Fp16Path::Neon:
      return "neon";
    default:
      return "scalar";
  }
}

Fp16Path fp16_path_from_name(const std::string& name) {
  if (name == "scalar") return Fp16Path::Scalar;
  if (name == "f16c" || name == "f16c+avx2") return Fp16Path::F16C;
  if (name == "neon") return Fp16Path::Neon;
  if (name == "best") return fp16_best_path();
  throw std::invalid_argument("[fp16] unknown conversion path '" + name +
                              "'; expected 'scalar', 'f16c+avx2', 'neon' or 'best'");
}

void fp16_force_path(Fp16Path path) {
  if (path == Fp16Path::F16C && !simd::f16c_available())
    throw std::invalid_argument("[fp16] this CPU or build has no F16C+AVX2 path");
  if (path == Fp16Path::Neon && !simd::neon_available())
    throw std::invalid_argument("[fp16] this CPU or build has no NEON path");
  current_path() = path;
}

void f32_to_f16(const float* src, uint16_t* dst, size_t n) {
  size_t done = 0;
  switch (current_path()) {
    case Fp16Path::F16C:
      done = simd::f32_to_f16_f16c(src, dst, n);
      break;
    case Fp16Path::Neon:
      done = simd::f32_to_f16_neon(src, dst, n);
      break;
    default:
      break;
  }
  for (size_t i = done; i < n; ++i) dst[i] = f32_to_f16_scalar(src[i]);
}

void f64_to_f16(const double* src, uint16_t* dst, size_t n) {
  size_t done = 0;
  if (current_path() == Fp16Path::F16C) done = simd::f64_to_f16_f16c(src, dst, n);
  for (size_t i = done; i < n; ++i) dst[i] = f64_to_f16_scalar(src[i]);
}

void f16_to_f32(const uint16_t* src, float* dst, size_t n) {
  size_t done = 0;
  switch (current_path()) {
    case Fp16Path::F16C:
      done = simd::f16_to_f32_f16c(src, dst, n);
      break;
    case Fp16Path::Neon:
      done = simd::f16_to_f32_neon(src, dst, n);
      break;
    default:
      break;
  }
  for (size_t i = done; i < n; ++i) dst[i] = f16_to_f32_scalar(src[i]);
}

void round_f32_via_f16(const float* src, float* dst, size_t n) {
  size_t done = 0;
  switch (current_path()) {
    case Fp16Path::F16C:
      done = simd::round_f32_f16c(src, dst, n);
      break;
    case Fp16Path::Neon:
      done = simd::round_f32_neon(src, dst, n);
      break;
    default:
      break;
  }
  for (size_t i = done; i < n; ++i) dst[i] = f16_to_f32_scalar(f32_to_f16_scalar(src[i]));
}

void round_f64_via_f16(const double* src, float* dst, size_t n) {
  // Blockwise through a small stack buffer so the fp16 step runs on the SIMD path.
  constexpr size_t kBlock = 1024;
  uint16_t tmp[kBlock];
  for (size_t i = 0; i < n; i += kBlock) {
    const size_t m = (n - i < kBlock) ? n - i : kBlock;
    f64_to_f16(src + i, tmp, m);
    f16_to_f32(tmp, dst + i, m);
  }
}

}  // namespace anekit::core
