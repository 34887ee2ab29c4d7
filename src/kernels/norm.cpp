// RMSNorm without a learned gain, over features (standard) or over the sequence axis (MLP-t).
// Sums are accumulated in double: rows are short (D = 512, L <= 916) and this keeps the
// float path close to the reference's fp32 norm without costing measurable time.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/kernels.h"

namespace trm::kernels::inline TRM_KERNEL_ISA {

namespace {
// Per-thread column accumulators for the sequence-axis norm; grown once, then reused, so the
// training step does not allocate.
double* column_scratch(int n) {
  static thread_local std::vector<double> buf;
  if (buf.size() < static_cast<std::size_t>(n)) buf.resize(n);
  std::fill(buf.begin(), buf.begin() + n, 0.0);
  return buf.data();
}
}  // namespace

template <class T>
void add_rmsnorm_fwd(const T* a, const T* b, T* y, T* rinv, int rows, int cols, T eps) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const T* ar = a + static_cast<std::int64_t>(r) * cols;
    const T* br = b ? b + static_cast<std::int64_t>(r) * cols : nullptr;
    T* yr = y + static_cast<std::int64_t>(r) * cols;
    double ss = 0;
    for (int c = 0; c < cols; ++c) {
      const T v = br ? ar[c] + br[c] : ar[c];
      yr[c] = v;
      ss += static_cast<double>(v) * v;
    }
    const T ri = static_cast<T>(1.0 / std::sqrt(ss / cols + static_cast<double>(eps)));
    rinv[r] = ri;
    for (int c = 0; c < cols; ++c) yr[c] *= ri;
  }
}

template <class T>
void rmsnorm_bwd(const T* y, const T* rinv, const T* dy, T* dx, int rows, int cols) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const std::int64_t o = static_cast<std::int64_t>(r) * cols;
    double dot = 0;
    for (int c = 0; c < cols; ++c) dot += static_cast<double>(dy[o + c]) * y[o + c];
    const T mean = static_cast<T>(dot / cols);
    const T ri = rinv[r];
    for (int c = 0; c < cols; ++c) dx[o + c] = ri * (dy[o + c] - y[o + c] * mean);
  }
}

template <class T>
void add_rmsnorm_seq_fwd(const T* a, const T* b, T* y, T* rinv, int batch, int L, int D, T eps) {
#pragma omp parallel for schedule(static)
  for (int bi = 0; bi < batch; ++bi) {
    const std::int64_t base = static_cast<std::int64_t>(bi) * L * D;
    // Walk rows (contiguous) and keep D running sums, instead of striding down columns.
    double* ss = column_scratch(D);
    for (int l = 0; l < L; ++l) {
      const std::int64_t o = base + static_cast<std::int64_t>(l) * D;
      for (int d = 0; d < D; ++d) {
        const T v = b ? a[o + d] + b[o + d] : a[o + d];
        y[o + d] = v;
        ss[d] += static_cast<double>(v) * v;
      }
    }
    T* ri = rinv + static_cast<std::int64_t>(bi) * D;
    for (int d = 0; d < D; ++d) ri[d] = static_cast<T>(1.0 / std::sqrt(ss[d] / L + static_cast<double>(eps)));
    for (int l = 0; l < L; ++l) {
      const std::int64_t o = base + static_cast<std::int64_t>(l) * D;
      for (int d = 0; d < D; ++d) y[o + d] *= ri[d];
    }
  }
}

template <class T>
void rmsnorm_seq_bwd(const T* y, const T* rinv, const T* dy, T* dx, int batch, int L, int D) {
#pragma omp parallel for schedule(static)
  for (int bi = 0; bi < batch; ++bi) {
    const std::int64_t base = static_cast<std::int64_t>(bi) * L * D;
    double* dot = column_scratch(D);
    for (int l = 0; l < L; ++l) {
      const std::int64_t o = base + static_cast<std::int64_t>(l) * D;
      for (int d = 0; d < D; ++d) dot[d] += static_cast<double>(dy[o + d]) * y[o + d];
    }
    const T* ri = rinv + static_cast<std::int64_t>(bi) * D;
    for (int l = 0; l < L; ++l) {
      const std::int64_t o = base + static_cast<std::int64_t>(l) * D;
      for (int d = 0; d < D; ++d)
        dx[o + d] = ri[d] * (dy[o + d] - y[o + d] * static_cast<T>(dot[d] / L));
    }
  }
}

#define TRM_INSTANTIATE(T)                                                                  \
  template void add_rmsnorm_fwd<T>(const T*, const T*, T*, T*, int, int, T);                \
  template void rmsnorm_bwd<T>(const T*, const T*, const T*, T*, int, int);                 \
  template void add_rmsnorm_seq_fwd<T>(const T*, const T*, T*, T*, int, int, int, T);       \
  template void rmsnorm_seq_bwd<T>(const T*, const T*, const T*, T*, int, int, int);
TRM_INSTANTIATE(float)
TRM_INSTANTIATE(double)
#undef TRM_INSTANTIATE

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
