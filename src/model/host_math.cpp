// Host-side arithmetic of the model: the RoPE tables (built once per model) and the halting
// head's BCE (a handful of logits per batch, computed where the loss sums them).
#include "model/host_math.h"

#include <algorithm>
#include <cmath>

namespace trm::host {

template <class T>
void rope_tables(T* cos_t, T* sin_t, int L, int head_dim, double theta) {
  const int half = head_dim / 2;
  for (int t = 0; t < L; ++t) {
    for (int i = 0; i < half; ++i) {
      // Computed in double and rounded once: exact tables for the double (test) path, and
      // within one float rounding of the reference's fp32 tables for the float path.
      const double inv_freq = 1.0 / std::pow(theta, static_cast<double>(2 * i) / head_dim);
      const double ang = static_cast<double>(t) * inv_freq;
      const T c = static_cast<T>(std::cos(ang)), s = static_cast<T>(std::sin(ang));
      cos_t[t * head_dim + i] = cos_t[t * head_dim + i + half] = c;
      sin_t[t * head_dim + i] = sin_t[t * head_dim + i + half] = s;
    }
  }
}

// Forward: v' = v * cos + rotate_half(v) * sin, rotate_half(v) = cat(-v[half:], v[:half]).
// For a pair (a = v[i], b = v[i+half]) with c = cos, s = sin (equal in both halves):
//   a' = a c - b s,  b' = b c + a s          (a rotation by +angle)
// The transpose (the backward) is the rotation by -angle.
template <class T>
double bce_with_logits(const T* q, int q_stride, const double* target, int n, T* dq, double coeff) {
  double total = 0;
  for (int i = 0; i < n; ++i) {
    const double x = static_cast<double>(q[static_cast<std::int64_t>(i) * q_stride]);
    const double y = target[i];
    total += std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::abs(x)));
    if (dq) dq[static_cast<std::int64_t>(i) * q_stride] = static_cast<T>(coeff * (1.0 / (1.0 + std::exp(-x)) - y));
  }
  return total;
}

template void rope_tables<float>(float*, float*, int, int, double);
template void rope_tables<double>(double*, double*, int, int, double);
template double bce_with_logits<float>(const float*, int, const double*, int, float*, double);
template double bce_with_logits<double>(const double*, int, const double*, int, double*, double);

}  // namespace trm::host
