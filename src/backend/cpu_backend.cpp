// CPU backend: thin forwarding to the templated kernels in src/kernels (float instantiation).
#include <omp.h>
#include <xmmintrin.h>

#include <cstring>

#include "kernels/kernels.h"
#include "tensor/aligned.h"
#include "trm/backend.h"

namespace trm {
namespace {

namespace k = kernels;

class CpuBackend final : public Backend {
 public:
  CpuBackend() {
    // Flush denormals to zero (FTZ) and read them as zero (DAZ) on every OpenMP thread. Trained
    // models push softmax tails and SiLU gates of large negative inputs into the denormal range,
    // where x86 arithmetic is many times slower; their contribution is below float resolution.
#pragma omp parallel
    _mm_setcsr(_mm_getcsr() | 0x8040);
    _mm_setcsr(_mm_getcsr() | 0x8040);
  }
  std::string name() const override { return "cpu"; }
  bool host_accessible() const override { return true; }

  float* alloc(std::int64_t n) override {
    auto* p = static_cast<float*>(aligned_alloc_bytes(static_cast<std::size_t>(n) * sizeof(float)));
    std::memset(p, 0, static_cast<std::size_t>(n) * sizeof(float));
    return p;
  }
  void release(float* p) override { aligned_free_bytes(p); }
  void to_host(const float* s, float* d, std::int64_t n) override { copy(s, d, n); }
  void from_host(const float* s, float* d, std::int64_t n) override { copy(s, d, n); }
  void copy(const float* s, float* d, std::int64_t n) override {
    if (n) std::memmove(d, s, static_cast<std::size_t>(n) * sizeof(float));
  }
  void fill(float* p, float value, std::int64_t n) override {
    for (std::int64_t i = 0; i < n; ++i) p[i] = value;
  }

  void linear_fwd(const float* x, int ldx, const float* W, float* y, int ldy, int rows, int in,
                  int out) override {
    k::gemm<float>(false, true, rows, out, in, 1.0f, x, ldx, W, in, 0.0f, y, ldy);
  }
  void linear_bwd(const float* x, int ldx, const float* W, const float* dy, int lddy, float* dx, int lddx,
                  float* dW, int rows, int in, int out, bool accumulate_dx) override {
    if (dx) k::gemm<float>(false, false, rows, in, out, 1.0f, dy, lddy, W, in, accumulate_dx ? 1.0f : 0.0f, dx, lddx);
    if (dW) k::gemm<float>(true, false, out, in, rows, 1.0f, dy, lddy, x, ldx, 1.0f, dW, in);
  }
  void left_linear_fwd(const float* W, const float* x, float* y, int batch, int M, int K, int N) override {
    for (int b = 0; b < batch; ++b)
      k::gemm<float>(false, false, M, N, K, 1.0f, W, K, x + static_cast<std::int64_t>(b) * K * N, N, 0.0f,
                     y + static_cast<std::int64_t>(b) * M * N, N);
  }
  void left_linear_bwd(const float* W, const float* x, const float* dy, float* dx, float* dW, int batch,
                       int M, int K, int N) override {
    for (int b = 0; b < batch; ++b) {
      const float* dyb = dy + static_cast<std::int64_t>(b) * M * N;
      const float* xb = x + static_cast<std::int64_t>(b) * K * N;
      if (dx) k::gemm<float>(true, false, K, N, M, 1.0f, W, K, dyb, N, 0.0f, dx + static_cast<std::int64_t>(b) * K * N, N);
      if (dW) k::gemm<float>(false, true, M, K, N, 1.0f, dyb, N, xb, N, 1.0f, dW, K);
    }
  }

  void bias_add(float* y, const float* bias, int rows, int cols) override {
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) y[static_cast<std::int64_t>(r) * cols + c] += bias[c];
  }
  void bias_grad(const float* dy, float* dbias, int rows, int cols) override {
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) dbias[c] += dy[static_cast<std::int64_t>(r) * cols + c];
  }

  void add(const float* a, const float* b, float* y, std::int64_t n) override { k::add(a, b, y, n); }
  void add3(const float* a, const float* b, const float* c, float* y, std::int64_t n) override {
    k::add3(a, b, c, y, n);
  }
  void accumulate(float* y, const float* x, std::int64_t n) override { k::accumulate(y, x, n); }
  void add_rmsnorm(const float* a, const float* b, float* y, float* rinv, int rows, int cols, float eps) override {
    k::add_rmsnorm_fwd(a, b, y, rinv, rows, cols, eps);
  }
  void rmsnorm_bwd(const float* y, const float* rinv, const float* dy, float* dx, int rows, int cols) override {
    k::rmsnorm_bwd(y, rinv, dy, dx, rows, cols);
  }
  void add_rmsnorm_seq(const float* a, const float* b, float* y, float* rinv, int batch, int L, int D,
                       float eps) override {
    k::add_rmsnorm_seq_fwd(a, b, y, rinv, batch, L, D, eps);
  }
  void rmsnorm_seq_bwd(const float* y, const float* rinv, const float* dy, float* dx, int batch, int L,
                       int D) override {
    k::rmsnorm_seq_bwd(y, rinv, dy, dx, batch, L, D);
  }
  void swiglu_fwd(const float* gu, float* act, std::int64_t rows, int inter) override {
    k::swiglu_fwd(gu, act, static_cast<int>(rows), inter);
  }
  void swiglu_bwd(const float* gu, const float* dact, float* dgu, std::int64_t rows, int inter) override {
    k::swiglu_bwd(gu, dact, dgu, static_cast<int>(rows), inter);
  }
  void rope(float* qkv, int batch, int L, int heads, int head_dim, const float* cos_t, const float* sin_t,
            bool inverse) override {
    k::rope_apply(qkv, batch, L, heads, head_dim, 3 * heads * head_dim, cos_t, sin_t, inverse);
  }

  std::int64_t attention_workspace(int L) const override {
    return k::attention_scratch_size(L) * omp_get_max_threads();
  }
  void attention_fwd(const float* qkv, float* out, float* lse, int batch, int L, int heads, int head_dim,
                     float* ws) override {
    k::attention_fwd(qkv, out, lse, batch, L, heads, head_dim, ws);
  }
  void attention_bwd(const float* qkv, const float* out, const float* lse, const float* dout, float* dqkv,
                     int batch, int L, int heads, int head_dim, float* ws) override {
    k::attention_bwd(qkv, out, lse, dout, dqkv, batch, L, heads, head_dim, ws);
  }

  void gather_rows(const float* table, const std::int32_t* ids, float* out, int n, int width) override {
    for (int i = 0; i < n; ++i)
      std::memcpy(out + static_cast<std::int64_t>(i) * width, table + static_cast<std::int64_t>(ids[i]) * width,
                  sizeof(float) * width);
  }
  void embed_fwd(const std::int32_t* tokens, const float* tok_table, const float* puz, const float* pos, float* x,
                 int batch, int S, int P, int D, int ndim, float scale, float pos_scale) override {
    k::embed_fwd(tokens, tok_table, puz, pos, x, batch, S, P, D, ndim, scale, pos_scale);
  }
  void embed_bwd(const std::int32_t* tokens, const float* dx, float* dtok_table, float* dpuz, float* dpos,
                 int batch, int S, int P, int D, int ndim, float scale, float pos_scale) override {
    k::embed_bwd(tokens, dx, dtok_table, dpuz, dpos, batch, S, P, D, ndim, scale, pos_scale);
  }
  void stablemax_ce(const float* logits, const std::int32_t* labels, int batch, int S, int V, double* ce,
                    const double* weight, float* dlogits, std::int32_t* correct, std::int32_t* valid) override {
    k::stablemax_ce(logits, labels, batch, S, V, ce, weight, dlogits, correct, valid);
  }
  void adam_atan2(float* theta, const float* g, float* m, float* v, std::int64_t n, float lr, float wd,
                  float beta1, float beta2, float step) override {
    k::adam_atan2_update(theta, g, m, v, n, lr, wd, beta1, beta2, step);
  }
  void ema(float* e, const float* theta, std::int64_t n, float rate) override { k::ema_update(e, theta, n, rate); }
  void sparse_signsgd(float* table, const std::int32_t* ids, const float* grad_rows, int n, int width, float lr,
                      float wd) override {
    k::sparse_signsgd(table, ids, grad_rows, n, width, lr, wd);
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace trm
