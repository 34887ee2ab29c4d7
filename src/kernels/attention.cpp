// Non-causal multi-head attention that never stores the L x L probabilities between forward
// and backward: the forward keeps one log-sum-exp per query row, the backward rebuilds P from
// Q, K and that lse (the flash-attention recipe), one (batch, head) pair per thread.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "kernels/kernels.h"

namespace trm::kernels {

std::int64_t attention_scratch_size(int L) { return 2LL * L * L; }

namespace {
template <class T>
struct HeadView {
  const T* q;
  const T* k;
  const T* v;
  int ld;  // row stride of qkv
};

template <class T>
HeadView<T> head_view(const T* qkv, int b, int h, int L, int heads, int head_dim) {
  const int D = heads * head_dim;
  const T* base = qkv + static_cast<std::int64_t>(b) * L * 3 * D + h * head_dim;
  return {base, base + D, base + 2 * D, 3 * D};
}
}  // namespace

template <class T>
void attention_fwd(const T* qkv, T* out, T* lse, int batch, int L, int heads, int head_dim,
                   T* scratch) {
  const int D = heads * head_dim;
  const T scale = T(1) / std::sqrt(static_cast<T>(head_dim));
#pragma omp parallel for schedule(dynamic, 1)
  for (int bh = 0; bh < batch * heads; ++bh) {
    const int b = bh / heads, h = bh % heads;
    T* S = scratch + omp_get_thread_num() * attention_scratch_size(L);
    const auto hv = head_view(qkv, b, h, L, heads, head_dim);
    gemm<T>(false, true, L, L, head_dim, scale, hv.q, hv.ld, hv.k, hv.ld, T(0), S, L);
    T* lse_row = lse + static_cast<std::int64_t>(bh) * L;
    for (int i = 0; i < L; ++i) {
      T* s = S + static_cast<std::int64_t>(i) * L;
      const T m = *std::max_element(s, s + L);
      T sum = 0;
      for (int j = 0; j < L; ++j) {
        s[j] = std::exp(s[j] - m);
        sum += s[j];
      }
      const T inv = T(1) / sum;
      for (int j = 0; j < L; ++j) s[j] *= inv;
      lse_row[i] = m + std::log(sum);
    }
    T* o = out + static_cast<std::int64_t>(b) * L * D + h * head_dim;
    gemm<T>(false, false, L, head_dim, L, T(1), S, L, hv.v, hv.ld, T(0), o, D);
  }
}

template <class T>
void attention_bwd(const T* qkv, const T* out, const T* lse, const T* dout, T* dqkv, int batch,
                   int L, int heads, int head_dim, T* scratch) {
  const int D = heads * head_dim;
  const T scale = T(1) / std::sqrt(static_cast<T>(head_dim));
#pragma omp parallel for schedule(dynamic, 1)
  for (int bh = 0; bh < batch * heads; ++bh) {
    const int b = bh / heads, h = bh % heads;
    T* P = scratch + omp_get_thread_num() * attention_scratch_size(L);
    T* dP = P + static_cast<std::int64_t>(L) * L;
    const auto hv = head_view(qkv, b, h, L, heads, head_dim);
    const std::int64_t orow = static_cast<std::int64_t>(b) * L * D + h * head_dim;
    const T* o = out + orow;
    const T* dO = dout + orow;
    T* dq = dqkv + static_cast<std::int64_t>(b) * L * 3 * D + h * head_dim;
    T* dk = dq + D;
    T* dv = dq + 2 * D;
    // Rebuild P = exp(S - lse).
    gemm<T>(false, true, L, L, head_dim, scale, hv.q, hv.ld, hv.k, hv.ld, T(0), P, L);
    const T* lse_row = lse + static_cast<std::int64_t>(bh) * L;
    for (int i = 0; i < L; ++i) {
      T* p = P + static_cast<std::int64_t>(i) * L;
      for (int j = 0; j < L; ++j) p[j] = std::exp(p[j] - lse_row[i]);
    }
    gemm<T>(true, false, L, head_dim, L, T(1), P, L, dO, D, T(0), dv, 3 * D);       // dV = P^T dO
    gemm<T>(false, true, L, L, head_dim, T(1), dO, D, hv.v, hv.ld, T(0), dP, L);    // dP = dO V^T
    for (int i = 0; i < L; ++i) {
      // softmax backward: dS = P * (dP - rowsum(dO * O))
      T di = 0;
      for (int c = 0; c < head_dim; ++c) di += dO[static_cast<std::int64_t>(i) * D + c] * o[static_cast<std::int64_t>(i) * D + c];
      T* p = P + static_cast<std::int64_t>(i) * L;
      T* dp = dP + static_cast<std::int64_t>(i) * L;
      for (int j = 0; j < L; ++j) dp[j] = p[j] * (dp[j] - di);
    }
    gemm<T>(false, false, L, head_dim, L, scale, dP, L, hv.k, hv.ld, T(0), dq, 3 * D);  // dQ = dS K
    gemm<T>(true, false, L, head_dim, L, scale, dP, L, hv.q, hv.ld, T(0), dk, 3 * D);   // dK = dS^T Q
  }
}

template void attention_fwd<float>(const float*, float*, float*, int, int, int, int, float*);
template void attention_fwd<double>(const double*, double*, double*, int, int, int, int, double*);
template void attention_bwd<float>(const float*, const float*, const float*, const float*, float*,
                                   int, int, int, int, float*);
template void attention_bwd<double>(const double*, const double*, const double*, const double*,
                                    double*, int, int, int, int, double*);

}  // namespace trm::kernels
