// Non-causal multi-head attention, tiled over query rows (the flash-attention idea on CPU).
//
// Nothing L x L is ever stored: a task handles kAttnQueryBlock query rows of one (batch, head)
// against all L keys, so its scores [block, L] stay in the L2 cache (64 x 916 floats = 234 KB
// for Maze). Because a block sees every key at once, its softmax is exact in one pass (no online
// rescaling). The forward keeps one log-sum-exp per query row; the backward rebuilds each
// block's probabilities from Q, K and that lse, and accumulates dK and dV over the blocks.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "kernels/fast_math.h"
#include "kernels/kernels.h"

namespace trm::kernels::inline TRM_KERNEL_ISA {

std::int64_t attention_scratch_size(int L) { return 2LL * kAttnQueryBlock * L; }

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
  const int nblk = (L + kAttnQueryBlock - 1) / kAttnQueryBlock;
  // (batch, head, query block) tasks: enough of them to keep both cores busy at batch 1.
#pragma omp parallel for schedule(dynamic, 1)
  for (int task = 0; task < batch * heads * nblk; ++task) {
    const int bh = task / nblk, blk = task % nblk;
    const int b = bh / heads, h = bh % heads;
    const int i0 = blk * kAttnQueryBlock, rows = std::min(kAttnQueryBlock, L - i0);
    T* S = scratch + omp_get_thread_num() * attention_scratch_size(L);
    const auto hv = head_view(qkv, b, h, L, heads, head_dim);
    const T* q = hv.q + static_cast<std::int64_t>(i0) * hv.ld;
    gemm<T>(false, true, rows, L, head_dim, scale, q, hv.ld, hv.k, hv.ld, T(0), S, L);
    T* lse_row = lse + static_cast<std::int64_t>(bh) * L + i0;
    for (int i = 0; i < rows; ++i) {
      T* s = S + static_cast<std::int64_t>(i) * L;
      // The simd reductions let the compiler vectorize (reassociate) these float sums.
      T m = s[0];
#pragma omp simd reduction(max : m)
      for (int j = 1; j < L; ++j) m = std::max(m, s[j]);
      T sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int j = 0; j < L; ++j) {
        s[j] = fast_exp(s[j] - m);
        sum += s[j];
      }
      const T inv = T(1) / sum;
      for (int j = 0; j < L; ++j) s[j] *= inv;
      lse_row[i] = m + std::log(sum);
    }
    T* o = out + (static_cast<std::int64_t>(b) * L + i0) * D + h * head_dim;
    gemm<T>(false, false, rows, head_dim, L, T(1), S, L, hv.v, hv.ld, T(0), o, D);
  }
}

template <class T>
void attention_bwd(const T* qkv, const T* out, const T* lse, const T* dout, T* dqkv, int batch,
                   int L, int heads, int head_dim, T* scratch) {
  const int D = heads * head_dim;
  const T scale = T(1) / std::sqrt(static_cast<T>(head_dim));
  // One (batch, head) per task: dK and dV sum over all query blocks, so the blocks of a head
  // run in order on one thread instead of racing on those sums.
#pragma omp parallel for schedule(dynamic, 1)
  for (int bh = 0; bh < batch * heads; ++bh) {
    const int b = bh / heads, h = bh % heads;
    T* P = scratch + omp_get_thread_num() * attention_scratch_size(L);
    T* dP = P + static_cast<std::int64_t>(kAttnQueryBlock) * L;
    const auto hv = head_view(qkv, b, h, L, heads, head_dim);
    const std::int64_t orow = static_cast<std::int64_t>(b) * L * D + h * head_dim;
    T* dq_all = dqkv + static_cast<std::int64_t>(b) * L * 3 * D + h * head_dim;
    T* dk = dq_all + D;
    T* dv = dq_all + 2 * D;
    const T* lse_bh = lse + static_cast<std::int64_t>(bh) * L;
    for (int i0 = 0; i0 < L; i0 += kAttnQueryBlock) {
      const int rows = std::min(kAttnQueryBlock, L - i0);
      const T beta = i0 == 0 ? T(0) : T(1);  // the first block overwrites dK, dV
      const T* q = hv.q + static_cast<std::int64_t>(i0) * hv.ld;
      const T* o = out + orow + static_cast<std::int64_t>(i0) * D;
      const T* dO = dout + orow + static_cast<std::int64_t>(i0) * D;
      T* dq = dq_all + static_cast<std::int64_t>(i0) * 3 * D;
      // P = exp(scale Q K^T - lse) for this block's rows.
      gemm<T>(false, true, rows, L, head_dim, scale, q, hv.ld, hv.k, hv.ld, T(0), P, L);
      for (int i = 0; i < rows; ++i) {
        T* p = P + static_cast<std::int64_t>(i) * L;
        const T l = lse_bh[i0 + i];
        for (int j = 0; j < L; ++j) p[j] = fast_exp(p[j] - l);
      }
      gemm<T>(true, false, L, head_dim, rows, T(1), P, L, dO, D, beta, dv, 3 * D);  // dV += P^T dO
      gemm<T>(false, true, rows, L, head_dim, T(1), dO, D, hv.v, hv.ld, T(0), dP, L);  // dP = dO V^T
      for (int i = 0; i < rows; ++i) {
        // softmax backward: dS = P * (dP - rowsum(dO * O))
        T di = 0;
#pragma omp simd reduction(+ : di)
        for (int c = 0; c < head_dim; ++c)
          di += dO[static_cast<std::int64_t>(i) * D + c] * o[static_cast<std::int64_t>(i) * D + c];
        T* p = P + static_cast<std::int64_t>(i) * L;
        T* dp = dP + static_cast<std::int64_t>(i) * L;
        for (int j = 0; j < L; ++j) dp[j] = p[j] * (dp[j] - di);
      }
      gemm<T>(false, false, rows, head_dim, L, scale, dP, L, hv.k, hv.ld, T(0), dq, 3 * D);  // dQ = dS K
      gemm<T>(true, false, L, head_dim, rows, scale, dP, L, q, hv.ld, beta, dk, 3 * D);      // dK += dS^T Q
    }
  }
}

template void attention_fwd<float>(const float*, float*, float*, int, int, int, int, float*);
template void attention_fwd<double>(const double*, double*, double*, int, int, int, int, double*);
template void attention_bwd<float>(const float*, const float*, const float*, const float*, float*,
                                   int, int, int, int, float*);
template void attention_bwd<double>(const double*, const double*, const double*, const double*,
                                    double*, int, int, int, int, double*);

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
