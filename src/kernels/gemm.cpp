#include <cblas.h>

#include "kernels/kernels.h"

namespace trm::kernels {

template <>
void gemm<float>(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
              K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <>
void gemm<double>(bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda,
                  const double* B, int ldb, double beta, double* C, int ldc) {
  if (M == 0 || N == 0) return;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
              K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void linear_fwd(const T* x, const T* W, T* y, int rows, int in, int out) {
  gemm<T>(false, true, rows, out, in, T(1), x, in, W, in, T(0), y, out);
}

template <class T>
void linear_bwd(const T* x, const T* W, const T* dy, T* dx, T* dW, int rows, int in, int out,
                bool accumulate_dx) {
  if (dx) gemm<T>(false, false, rows, in, out, T(1), dy, out, W, in, accumulate_dx ? T(1) : T(0), dx, in);
  if (dW) gemm<T>(true, false, out, in, rows, T(1), dy, out, x, in, T(1), dW, in);
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

#define TRM_INSTANTIATE(T)                                                              \
  template void linear_fwd<T>(const T*, const T*, T*, int, int, int);                   \
  template void linear_bwd<T>(const T*, const T*, const T*, T*, T*, int, int, int, bool); \
  template void add<T>(const T*, const T*, T*, std::int64_t);                           \
  template void add3<T>(const T*, const T*, const T*, T*, std::int64_t);                \
  template void accumulate<T>(T*, const T*, std::int64_t);
TRM_INSTANTIATE(float)
TRM_INSTANTIATE(double)
#undef TRM_INSTANTIATE

}  // namespace trm::kernels
