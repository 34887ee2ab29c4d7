#include <cmath>
#include <vector>

#include "kernels/kernels.h"

namespace trm::kernels::inline TRM_KERNEL_ISA {

void adam_atan2_update(float* theta, const float* g, float* m, float* v, std::int64_t n, float lr,
                       float weight_decay, float beta1, float beta2, float step) {
  // Bias corrections as the reference kernel computes them (in the optimizer's float math).
  const float bc1 = 1.0f - std::pow(beta1, step);
  const float bc2_sqrt = std::sqrt(1.0f - std::pow(beta2, step));
  const float step_size = lr / bc1;
  const float decay = 1.0f - lr * weight_decay;
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    float p = theta[i] * decay;  // decoupled decay first, scaled by lr
    const float mi = m[i] + (1.0f - beta1) * (g[i] - m[i]);
    const float vi = v[i] + (1.0f - beta2) * (g[i] * g[i] - v[i]);
    m[i] = mi;
    v[i] = vi;
    // No epsilon: atan2 is bounded and atan2(0, 0) = 0. The first moment enters uncorrected.
    p -= step_size * std::atan2(mi, std::sqrt(vi) / bc2_sqrt);
    theta[i] = p;
  }
}

void ema_update(float* ema, const float* theta, std::int64_t n, float rate) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) ema[i] = rate * ema[i] + (1.0f - rate) * theta[i];
}

void sparse_signsgd(float* table, const std::int32_t* ids, const float* grad_rows, int n, int width, float lr,
                    float weight_decay) {
  // Visit each distinct id once, in first-seen order, summing the gradient rows that carry it.
  // n is a batch size (hundreds), so the quadratic scan for duplicates costs nothing.
  for (int i = 0; i < n; ++i) {
    bool seen = false;
    for (int j = 0; j < i && !seen; ++j) seen = ids[j] == ids[i];
    if (seen) continue;
    static thread_local std::vector<float> sum;  // grown once, reused across steps
    sum.assign(static_cast<std::size_t>(width), 0.0f);
    for (int j = i; j < n; ++j) {
      if (ids[j] != ids[i]) continue;
      const float* g = grad_rows + static_cast<std::int64_t>(j) * width;
      for (int c = 0; c < width; ++c) sum[c] += g[c];
    }
    float* row = table + static_cast<std::int64_t>(ids[i]) * width;
    const float decay = 1.0f - lr * weight_decay;
    for (int c = 0; c < width; ++c) {
      const float sgn = static_cast<float>((sum[c] > 0) - (sum[c] < 0));
      row[c] = row[c] * decay - lr * sgn;
    }
  }
}

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
