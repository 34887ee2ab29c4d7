#include "tensor/aligned.h"

#include <cstdlib>
#include <new>

namespace trm {

void* aligned_alloc_bytes(std::size_t bytes) {
  constexpr std::size_t kAlign = 64;
  const std::size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, rounded);
  if (!p) throw std::bad_alloc();
  return p;
}

void aligned_free_bytes(void* p) noexcept { std::free(p); }

}  // namespace trm
