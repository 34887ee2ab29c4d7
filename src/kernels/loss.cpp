// Losses. Stablemax cross-entropy runs in double as the reference does (float64), which also
// sidesteps the precision trap of s(x) = 1/(1-x) for very negative logits.
#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"

namespace trm::kernels::inline TRM_KERNEL_ISA {

namespace {
inline double stablemax_s(double x) { return x >= 0 ? x + 1.0 : 1.0 / (1.0 - x + 1e-30); }
// ds/dx: 1 on the linear branch, 1/(1-x)^2 on the reciprocal branch (x = 0 takes the linear one,
// like torch.where(x < 0, ...) does).
inline double stablemax_ds(double x) {
  if (x >= 0) return 1.0;
  const double d = 1.0 - x + 1e-30;
  return 1.0 / (d * d);
}
}  // namespace

template <class T>
void stablemax_ce(const T* logits, const std::int32_t* labels, int batch, int S, int V, double* ce,
                  const double* w, T* dlogits, std::int32_t* correct, std::int32_t* valid) {
#pragma omp parallel for schedule(static)
  for (int b = 0; b < batch; ++b) {
    double loss = 0;
    std::int32_t n_ok = 0, n_valid = 0;
    for (int t = 0; t < S; ++t) {
      const std::int64_t row = static_cast<std::int64_t>(b) * S + t;
      const T* x = logits + row * V;
      const std::int32_t y = labels[row];
      T* dx = dlogits ? dlogits + row * V : nullptr;
      if (y < 0) {
        if (dx) std::fill(dx, dx + V, T(0));
        continue;
      }
      ++n_valid;
      const int argmax = static_cast<int>(std::max_element(x, x + V) - x);
      if (argmax == y) ++n_ok;
      double sum = 0;
      for (int v = 0; v < V; ++v) sum += stablemax_s(static_cast<double>(x[v]));
      const double sy = stablemax_s(static_cast<double>(x[y]));
      loss += -(std::log(sy) - std::log(sum));
      if (dx) {
        // d/dx_v [log sum - log s(x_y)] = s'(x_v)/sum - [v == y] s'(x_y)/s(x_y)
        const double wb = w[b];
        for (int v = 0; v < V; ++v) {
          double g = stablemax_ds(static_cast<double>(x[v])) / sum;
          if (v == y) g -= stablemax_ds(static_cast<double>(x[y])) / sy;
          dx[v] = static_cast<T>(wb * g);
        }
      }
    }
    ce[b] = loss;
    if (correct) correct[b] = n_ok;
    if (valid) valid[b] = n_valid;
  }
}

template void stablemax_ce<float>(const float*, const std::int32_t*, int, int, int, double*,
                                  const double*, float*, std::int32_t*, std::int32_t*);
template void stablemax_ce<double>(const double*, const std::int32_t*, int, int, int, double*,
                                   const double*, double*, std::int32_t*, std::int32_t*);

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
