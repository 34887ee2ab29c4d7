#include <cmath>

#include "kernels/fast_math.h"
#include "kernels/kernels.h"

namespace trm::kernels::inline TRM_KERNEL_ISA {

template <class T>
void swiglu_fwd(const T* gu, T* act, int rows, int inter) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const T* g = gu + static_cast<std::int64_t>(r) * 2 * inter;
    const T* u = g + inter;
    T* a = act + static_cast<std::int64_t>(r) * inter;
    for (int i = 0; i < inter; ++i) {
      const T s = T(1) / (T(1) + fast_exp(-g[i]));
      a[i] = g[i] * s * u[i];
    }
  }
}

template <class T>
void swiglu_bwd(const T* gu, const T* dact, T* dgu, int rows, int inter) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const T* g = gu + static_cast<std::int64_t>(r) * 2 * inter;
    const T* u = g + inter;
    const T* da = dact + static_cast<std::int64_t>(r) * inter;
    T* dg = dgu + static_cast<std::int64_t>(r) * 2 * inter;
    T* du = dg + inter;
    for (int i = 0; i < inter; ++i) {
      const T s = T(1) / (T(1) + fast_exp(-g[i]));
      const T silu = g[i] * s;
      // d silu / dg = s + g s (1 - s)
      dg[i] = da[i] * u[i] * (s + g[i] * s * (T(1) - s));
      du[i] = da[i] * silu;
    }
  }
}

template void swiglu_fwd<float>(const float*, float*, int, int);
template void swiglu_fwd<double>(const double*, double*, int, int);
template void swiglu_bwd<float>(const float*, const float*, float*, int, int);
template void swiglu_bwd<double>(const double*, const double*, double*, int, int);

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
