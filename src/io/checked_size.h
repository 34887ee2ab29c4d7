// Size arithmetic on numbers read from files (internal). A shape, offset or length in a file is
// untrusted: a product such as [2^62, 4] overflows int64 (undefined behaviour; in practice it
// wraps to a small number that then passes the size checks). Every such product or sum goes
// through these, which throw trm::Error naming the file instead.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "trm/error.h"

namespace trm::io {

// a * b for non-negative a, b; throws "<context>: <what> overflows (a x b)" past int64.
inline std::int64_t checked_mul(std::int64_t a, std::int64_t b, const std::string& context, const char* what = "size") {
  std::int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r))
    throw Error(context + ": " + what + " overflows (" + std::to_string(a) + " x " + std::to_string(b) + ")");
  return r;
}

// a + b for non-negative a, b; throws past int64.
inline std::int64_t checked_add(std::int64_t a, std::int64_t b, const std::string& context, const char* what = "size") {
  std::int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r))
    throw Error(context + ": " + what + " overflows (" + std::to_string(a) + " + " + std::to_string(b) + ")");
  return r;
}

// The number of elements of `shape` (1 for a scalar). Any zero dimension makes it 0 whatever the
// others are (numpy and safetensors allow e.g. (0, 2^62)); otherwise the product must fit in
// int64. Negative dimensions are refused.
inline std::int64_t checked_numel(const std::vector<std::int64_t>& shape, const std::string& context) {
  for (auto d : shape) {
    if (d < 0) throw Error(context + ": negative dimension " + std::to_string(d) + " in the shape");
  }
  for (auto d : shape)
    if (d == 0) return 0;
  std::int64_t n = 1;
  for (auto d : shape) n = checked_mul(n, d, context, "element count of the shape");
  return n;
}

}  // namespace trm::io
