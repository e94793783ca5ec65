// fp32 / fp64 <-> IEEE binary16 conversion kernels with runtime SIMD dispatch.
//
// The ANE's I/O tensors are IEEE binary16 (docs/internals/ane-private-api.md §12.2), so every host<->device copy goes through
// these kernels. All paths (F16C/AVX2 on x86-64, NEON on arm64, portable scalar) are bit-exact with each other
// and with numpy's astype: round-to-nearest-even, subnormals kept, overflow to +-Inf, NaN stays NaN with its
// sign (payload bits follow the hardware's quieting rule, see fp16.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace anekit::core {

/** The conversion implementation in use. */
enum class Fp16Path { Scalar, F16C, Neon };

/** Name of the path in use: "f16c+avx2", "neon" or "scalar". */
std::string fp16_path_name();

/** The path selected at start-up from CPU features (or the last forced one). */
Fp16Path fp16_path();

/** Best path this CPU supports. */
Fp16Path fp16_best_path();

/**
 * Force a path (for tests and benchmarks). Throws std::invalid_argument when the CPU cannot run it.
 * Not thread-safe with concurrent conversions; meant for test set-up only.
 */
void fp16_force_path(Fp16Path path);

/** Parse "scalar" / "f16c" / "f16c+avx2" / "neon" / "best". Throws std::invalid_argument otherwise. */
Fp16Path fp16_path_from_name(const std::string& name);

/** dst[i] = fp16(src[i]) for n elements, round-to-nearest-even. */
void f32_to_f16(const float* src, uint16_t* dst, size_t n);

/** dst[i] = fp16(src[i]) for n doubles, correctly rounded (no double rounding through fp32). */
void f64_to_f16(const double* src, uint16_t* dst, size_t n);

/** dst[i] = float(src[i]); exact. */
void f16_to_f32(const uint16_t* src, float* dst, size_t n);

/** dst[i] = float(fp16(src[i])): fp32 values rounded to fp16 precision (src may equal dst). */
void round_f32_via_f16(const float* src, float* dst, size_t n);

/** dst[i] = float(fp16(src[i])) for doubles, correctly rounded to fp16 then widened. */
void round_f64_via_f16(const double* src, float* dst, size_t n);

// Scalar reference conversions (also used for tails and by tests).
uint16_t f32_to_f16_scalar(float f);
uint16_t f64_to_f16_scalar(double d);
float f16_to_f32_scalar(uint16_t h);

}  // namespace anekit::core
