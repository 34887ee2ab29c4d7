#include <cblas.h>

#include <type_traits>

#include "kernels/kernels.h"

namespace trm::kernels::inline TRM_KERNEL_ISA {

template <class T>
void gemm(bool ta, bool tb, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta, T* C,
          int ldc) {
  if (M == 0 || N == 0) return;
  const CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, opa, opb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    cblas_dgemm(CblasRowMajor, opa, opb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
template void gemm<float>(bool, bool, int, int, int, float, const float*, int, const float*, int, float, float*, int);
template void gemm<double>(bool, bool, int, int, int, double, const double*, int, const double*, int, double, double*,
                           int);

template <class T>
void linear_fwd(const T* x, int ldx, const T* W, T* y, int ldy, int rows, int in, int out) {
  gemm<T>(false, true, rows, out, in, T(1), x, ldx, W, in, T(0), y, ldy);
}

template <class T>
void linear_bwd(const T* x, int ldx, const T* W, const T* dy, int lddy, T* dx, int lddx, T* dW, int rows,
                int in, int out, bool accumulate_dx) {
  if (dx) gemm<T>(false, false, rows, in, out, T(1), dy, lddy, W, in, accumulate_dx ? T(1) : T(0), dx, lddx);
  if (dW) gemm<T>(true, false, out, in, rows, T(1), dy, lddy, x, ldx, T(1), dW, in);
}

template <class T>
void linear_fwd_batched(const T* x, int ldx, std::int64_t x_stride, const T* W, T* y, int ldy,
                        std::int64_t y_stride, int batch, int rows, int in, int out) {
  for (int b = 0; b < batch; ++b) linear_fwd(x + b * x_stride, ldx, W, y + b * y_stride, ldy, rows, in, out);
}

template <class T>
void linear_bwd_batched(const T* x, int ldx, std::int64_t x_stride, const T* W, const T* dy, int lddy,
                        std::int64_t dy_stride, T* dx, int lddx, std::int64_t dx_stride, T* dW, int batch,
                        int rows, int in, int out, bool accumulate_dx) {
  for (int b = 0; b < batch; ++b)
    linear_bwd(x + b * x_stride, ldx, W, dy + b * dy_stride, lddy, dx ? dx + b * dx_stride : nullptr, lddx, dW,
               rows, in, out, accumulate_dx);
}

template <class T>
void left_linear_fwd(const T* W, const T* x, T* y, int batch, int M, int K, int N) {
  const std::int64_t xs = static_cast<std::int64_t>(K) * N, ys = static_cast<std::int64_t>(M) * N;
  for (int b = 0; b < batch; ++b) gemm<T>(false, false, M, N, K, T(1), W, K, x + b * xs, N, T(0), y + b * ys, N);
}

template <class T>
void left_linear_bwd(const T* W, const T* x, const T* dy, T* dx, T* dW, int batch, int M, int K, int N) {
  const std::int64_t xs = static_cast<std::int64_t>(K) * N, ys = static_cast<std::int64_t>(M) * N;
  for (int b = 0; b < batch; ++b) {
    if (dx) gemm<T>(true, false, K, N, M, T(1), W, K, dy + b * ys, N, T(0), dx + b * xs, N);
    if (dW) gemm<T>(false, true, M, K, N, T(1), dy + b * ys, N, x + b * xs, N, T(1), dW, K);
  }
}

template <class T>
void bias_add(T* y, const T* bias, int rows, int cols) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) y[static_cast<std::int64_t>(r) * cols + c] += bias[c];
}

template <class T>
void bias_grad(const T* dy, T* dbias, int rows, int cols) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) dbias[c] += dy[static_cast<std::int64_t>(r) * cols + c];
}

template <class T>
void add(const T* a, const T* b, T* y, std::int64_t n) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

template <class T>
void add3(const T* a, const T* b, const T* c, T* y, std::int64_t n) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i] + c[i];
}

template <class T>
void accumulate(T* y, const T* x, std::int64_t n) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) y[i] += x[i];
}

#define TRM_INSTANTIATE(T)                                                                                   \
  template void linear_fwd<T>(const T*, int, const T*, T*, int, int, int, int);                              \
  template void linear_bwd<T>(const T*, int, const T*, const T*, int, T*, int, T*, int, int, int, bool);     \
  template void linear_fwd_batched<T>(const T*, int, std::int64_t, const T*, T*, int, std::int64_t, int, int, \
                                      int, int);                                                             \
  template void linear_bwd_batched<T>(const T*, int, std::int64_t, const T*, const T*, int, std::int64_t, T*, \
                                      int, std::int64_t, T*, int, int, int, int, bool);                      \
  template void left_linear_fwd<T>(const T*, const T*, T*, int, int, int, int);                              \
  template void left_linear_bwd<T>(const T*, const T*, const T*, T*, T*, int, int, int, int);                \
  template void bias_add<T>(T*, const T*, int, int);                                                         \
  template void bias_grad<T>(const T*, T*, int, int);                                                        \
  template void add<T>(const T*, const T*, T*, std::int64_t);                                                \
  template void add3<T>(const T*, const T*, const T*, T*, std::int64_t);                                     \
  template void accumulate<T>(T*, const T*, std::int64_t);
TRM_INSTANTIATE(float)
TRM_INSTANTIATE(double)
#undef TRM_INSTANTIATE

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
