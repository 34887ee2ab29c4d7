// The finiteness count the trainer runs over gradients and weights (one pass, no allocation).
#include <bit>
#include <cstdint>

#include "kernels/kernels.h"

namespace trm::kernels::inline TRM_KERNEL_ISA {

std::int64_t count_nonfinite(const float* x, std::int64_t n) {
  // An IEEE float is NaN or +-Inf exactly when all its exponent bits are set. Testing the bits
  // (rather than calling std::isfinite) lets GCC vectorize the loop, so the guard costs about one
  // memory pass over the buffer.
  constexpr std::uint32_t kExponent = 0x7f800000u;
  std::int64_t bad = 0;
#pragma omp parallel for reduction(+ : bad) schedule(static) if (n >= (1 << 16))
  for (std::int64_t i = 0; i < n; ++i) bad += (std::bit_cast<std::uint32_t>(x[i]) & kExponent) == kExponent;
  return bad;
}

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
