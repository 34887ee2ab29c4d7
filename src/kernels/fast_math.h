// exp for the element-wise kernels, written so that GCC vectorizes the loops that call it
// (libm's expf is a scalar call per element, which made SwiGLU and the softmax the largest
// non-GEMM cost of a step). Float: Cody-Waite range reduction and the Cephes degree-6
// polynomial, relative error < 2e-7 over the clamped range; inputs below -87.3 give the smallest
// normal (~1e-38) instead of a denormal or 0, which the model cannot tell apart. Double (used by
// the finite-difference tests) stays exact: std::exp.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#ifndef TRM_KERNEL_ISA
#define TRM_KERNEL_ISA base  // as kernels.h
#endif

namespace trm::kernels::inline TRM_KERNEL_ISA {

inline float fast_exp(float x) {
  x = std::min(std::max(x, -87.3f), 88.3f);  // 2^n stays a finite normal
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (vectorizes, unlike nearbyint without -ffast-math).
  const float shifter = 12582912.0f;
  const float n = (x * 1.44269504088896341f + shifter) - shifter;
  const float f = x - n * 0.693359375f + n * 2.12194440e-4f;  // x - n ln2, in two parts
  float p = 1.9875691500e-4f;
  p = p * f + 1.3981999507e-3f;
  p = p * f + 8.3334519073e-3f;
  p = p * f + 4.1665795894e-2f;
  p = p * f + 1.6666665459e-1f;
  p = p * f + 5.0000001201e-1f;
  p = p * f * f + f + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;  // 2^n
  return p * std::bit_cast<float>(bits);
}

inline double fast_exp(double x) { return std::exp(x); }

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
