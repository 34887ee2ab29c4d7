#include <cmath>

#include "kernels/kernels.h"

namespace trm::kernels::inline TRM_KERNEL_ISA {

template <class T>
void rope_apply(T* qkv, int batch, int L, int heads, int head_dim, int row_stride, const T* cos_t,
                const T* sin_t, bool inverse) {
  const int half = head_dim / 2;
  const T sign = inverse ? T(-1) : T(1);
  const std::int64_t rows = static_cast<std::int64_t>(batch) * L;
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    const int t = static_cast<int>(r % L);
    const T* c = cos_t + static_cast<std::int64_t>(t) * head_dim;
    const T* s = sin_t + static_cast<std::int64_t>(t) * head_dim;
    T* row = qkv + r * row_stride;
    for (int h = 0; h < 2 * heads; ++h) {  // Q heads then K heads
      T* v = row + h * head_dim;
      for (int i = 0; i < half; ++i) {
        const T a = v[i], b = v[i + half];
        const T si = sign * s[i];
        v[i] = a * c[i] - b * si;
        v[i + half] = b * c[i] + a * si;
      }
    }
  }
}

template void rope_apply<float>(float*, int, int, int, int, int, const float*, const float*, bool);
template void rope_apply<double>(double*, int, int, int, int, int, const double*, const double*, bool);

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
