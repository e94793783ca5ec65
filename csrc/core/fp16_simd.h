// Internal: SIMD conversion loops. Each returns how many leading elements it converted (a multiple of its
// vector width); the caller finishes the tail with the scalar routines. Functions for an architecture that is
// not being compiled return 0 and report themselves unavailable.
#pragma once

#include <cstddef>
#include <cstdint>

namespace anekit::core::simd {

bool f16c_available();  // x86-64 CPU with F16C and AVX2, checked at run time (cpuid)
bool neon_available();  // arm64 (NEON and fp16 conversion are architectural there)

size_t f32_to_f16_f16c(const float* src, uint16_t* dst, size_t n);
size_t f64_to_f16_f16c(const double* src, uint16_t* dst, size_t n);
size_t f16_to_f32_f16c(const uint16_t* src, float* dst, size_t n);
size_t round_f32_f16c(const float* src, float* dst, size_t n);

size_t f32_to_f16_neon(const float* src, uint16_t* dst, size_t n);
size_t f16_to_f32_neon(const uint16_t* src, float* dst, size_t n);
size_t round_f32_neon(const float* src, float* dst, size_t n);

}  // namespace anekit::core::simd
