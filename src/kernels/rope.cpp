#include <cmath>

#include "kernels/kernels.h"

namespace trm::kernels {

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

template void rope_tables<float>(float*, float*, int, int, double);
template void rope_tables<double>(double*, double*, int, int, double);
template void rope_apply<float>(float*, int, int, int, int, int, const float*, const float*, bool);
template void rope_apply<double>(double*, int, int, int, int, int, const double*, const double*, bool);

}  // namespace trm::kernels
