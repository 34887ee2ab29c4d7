// Row copies: fill, gather by id, and the masked broadcast the ACT carry uses to restart slots.
#include <cstring>

#include "kernels/kernels.h"

namespace trm::kernels::inline TRM_KERNEL_ISA {

namespace {
// Below this many elements a parallel region costs more than the copy.
constexpr std::int64_t kParallelCopyMin = 1 << 15;
}  // namespace

template <class T>
void fill(T* p, T value, std::int64_t n) {
#pragma omp parallel for schedule(static) if (n >= kParallelCopyMin)
  for (std::int64_t i = 0; i < n; ++i) p[i] = value;
}

template <class T>
void gather_rows(const T* table, const std::int32_t* ids, T* out, int n, int width) {
  for (int i = 0; i < n; ++i)
    std::memcpy(out + static_cast<std::int64_t>(i) * width, table + static_cast<std::int64_t>(ids[i]) * width,
                sizeof(T) * static_cast<std::size_t>(width));
}

template <class T>
void broadcast_rows(const T* row, T* dst, const std::uint8_t* mask, int groups, std::int64_t rows_per_group,
                    int width) {
  const std::int64_t total = static_cast<std::int64_t>(groups) * rows_per_group;
#pragma omp parallel for schedule(static) if (total * width >= kParallelCopyMin)
  for (std::int64_t r = 0; r < total; ++r) {
    if (mask && !mask[r / rows_per_group]) continue;
    std::memcpy(dst + r * width, row, sizeof(T) * static_cast<std::size_t>(width));
  }
}

#define TRM_INSTANTIATE(T)                                                                 \
  template void fill<T>(T*, T, std::int64_t);                                              \
  template void gather_rows<T>(const T*, const std::int32_t*, T*, int, int);              \
  template void broadcast_rows<T>(const T*, T*, const std::uint8_t*, int, std::int64_t, int);
TRM_INSTANTIATE(float)
TRM_INSTANTIATE(double)
#undef TRM_INSTANTIATE

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
