// CPU backend: forwards every operation to the templated kernels in src/kernels (float
// instantiation) — the same code the finite-difference tests check in double.
#include <omp.h>

#include <cstring>
#include <mutex>
#include <unordered_map>

#include "backend/host_memory.h"
#include "kernels/kernels.h"
#include "kernels/lowp_gemm.h"
#include "tensor/aligned.h"
#include "trm/backend/backend.h"
#include "trm/backend/cpu_info.h"
#include "trm/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace trm {
namespace {

namespace k = kernels;

// Flush denormals to zero (FTZ) and read them as zero (DAZ) on the calling thread. Trained models
// push softmax tails and SiLU gates of large negative inputs into the denormal range, where x86
// arithmetic is many times slower; their contribution is below float resolution.
void flush_denormals() {
#if defined(__x86_64__) || defined(__i386__)
  constexpr unsigned kMxcsrFtz = 1u << 15, kMxcsrDaz = 1u << 6;
  _mm_setcsr(_mm_getcsr() | kMxcsrFtz | kMxcsrDaz);
#elif defined(__aarch64__)
  // FPCR.FZ (bit 24) flushes denormal inputs and outputs alike.
  std::uint64_t fpcr;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
  fpcr |= std::uint64_t{1} << 24;
  __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr));
#endif
}

class CpuBackend final : public Backend {
 public:
  CpuBackend() {
    // On every OpenMP thread and on this one.
#pragma omp parallel
    flush_denormals();
    flush_denormals();
  }
  std::string name() const override { return "cpu"; }
  bool host_accessible() const override { return true; }
  std::string device_name() const override { return cpu_model_name(); }

  float* alloc(std::int64_t n) override {
    const auto bytes = static_cast<std::size_t>(n) * sizeof(float);
    auto* p = static_cast<float*>(aligned_alloc_bytes(bytes));
    std::memset(p, 0, bytes);
    const std::lock_guard<std::mutex> lock(mem_mutex_);
    sizes_[p] = bytes;
    in_use_ += static_cast<std::int64_t>(bytes);
    return p;
  }
  void release(float* p) override {
    if (!p) return;
    {
      const std::lock_guard<std::mutex> lock(mem_mutex_);
      const auto it = sizes_.find(p);
      if (it != sizes_.end()) {
        in_use_ -= static_cast<std::int64_t>(it->second);
        sizes_.erase(it);
      }
    }
    aligned_free_bytes(p);
  }
  std::int64_t memory_in_use() const override {
    const std::lock_guard<std::mutex> lock(mem_mutex_);
    return in_use_;
  }
  std::int64_t memory_available() const override { return host_memory_available(); }
  void to_host(const float* s, float* d, std::int64_t n) override { copy(s, d, n); }
  void from_host(const float* s, float* d, std::int64_t n) override { copy(s, d, n); }
  void copy(const float* s, float* d, std::int64_t n) override {
    if (n) std::memmove(d, s, static_cast<std::size_t>(n) * sizeof(float));
  }
  void fill(float* p, float value, std::int64_t n) override { k::fill(p, value, n); }
  std::int64_t count_nonfinite(const float* x, std::int64_t n) override { return k::count_nonfinite(x, n); }
  void broadcast_rows(const float* row, float* dst, const std::uint8_t* mask, int groups,
                      std::int64_t rows_per_group, int width) override {
    k::broadcast_rows(row, dst, mask, groups, rows_per_group, width);
  }

  // fp32 runs the OpenBLAS kernels; bf16/int8 the oneDNN ones (src/kernels/lowp_gemm.h).
  void linear_fwd(const float* x, int ldx, const float* W, float* y, int ldy, int rows, int in,
                  int out) override {
    if (lowp_.precision() == Precision::fp32)
      k::linear_fwd(x, ldx, W, y, ldy, rows, in, out);
    else
      lowp_.linear_fwd(x, ldx, W, y, ldy, rows, in, out);
  }
  void linear_bwd(const float* x, int ldx, const float* W, const float* dy, int lddy, float* dx, int lddx,
                  float* dW, int rows, int in, int out, bool accumulate_dx) override {
    switch (lowp_.precision()) {
      case Precision::fp32: k::linear_bwd(x, ldx, W, dy, lddy, dx, lddx, dW, rows, in, out, accumulate_dx); return;
      case Precision::bf16: lowp_.linear_bwd(x, ldx, W, dy, lddy, dx, lddx, dW, rows, in, out, accumulate_dx); return;
      case Precision::int8: throw Error("int8 is an inference precision: gradients need fp32 or bf16");
    }
  }
  void linear_fwd_fp32(const float* x, int ldx, const float* W, float* y, int ldy, int rows, int in,
                       int out) override {
    k::linear_fwd(x, ldx, W, y, ldy, rows, in, out);
  }
  void linear_bwd_fp32(const float* x, int ldx, const float* W, const float* dy, int lddy, float* dx, int lddx,
                       float* dW, int rows, int in, int out, bool accumulate_dx) override {
    k::linear_bwd(x, ldx, W, dy, lddy, dx, lddx, dW, rows, in, out, accumulate_dx);
  }
  void linear_fwd_batched(const float* x, int ldx, std::int64_t x_stride, const float* W, float* y, int ldy,
                          std::int64_t y_stride, int batch, int rows, int in, int out) override {
    if (lowp_.precision() == Precision::fp32) {
      k::linear_fwd_batched(x, ldx, x_stride, W, y, ldy, y_stride, batch, rows, in, out);
      return;
    }
    for (int b = 0; b < batch; ++b) linear_fwd(x + b * x_stride, ldx, W, y + b * y_stride, ldy, rows, in, out);
  }
  void linear_bwd_batched(const float* x, int ldx, std::int64_t x_stride, const float* W, const float* dy,
                          int lddy, std::int64_t dy_stride, float* dx, int lddx, std::int64_t dx_stride,
                          float* dW, int batch, int rows, int in, int out, bool accumulate_dx) override {
    if (lowp_.precision() == Precision::fp32) {
      k::linear_bwd_batched(x, ldx, x_stride, W, dy, lddy, dy_stride, dx, lddx, dx_stride, dW, batch, rows, in,
                            out, accumulate_dx);
      return;
    }
    for (int b = 0; b < batch; ++b)
      linear_bwd(x + b * x_stride, ldx, W, dy + b * dy_stride, lddy, dx ? dx + b * dx_stride : nullptr, lddx, dW,
                 rows, in, out, accumulate_dx);
  }
  void set_precision(Precision p) override { lowp_.set_precision(p); }
  Precision precision() const override { return lowp_.precision(); }
  void weights_changed() override { lowp_.weights_changed(); }
  std::string precision_path() const override { return lowp_.path(); }
  std::string precision_warning() const override { return lowp_.warning(); }
  void left_linear_fwd(const float* W, const float* x, float* y, int batch, int M, int K, int N) override {
    k::left_linear_fwd(W, x, y, batch, M, K, N);
  }
  void left_linear_bwd(const float* W, const float* x, const float* dy, float* dx, float* dW, int batch,
                       int M, int K, int N) override {
    k::left_linear_bwd(W, x, dy, dx, dW, batch, M, K, N);
  }
  void bias_add(float* y, const float* bias, int rows, int cols) override { k::bias_add(y, bias, rows, cols); }
  void bias_grad(const float* dy, float* dbias, int rows, int cols) override {
    k::bias_grad(dy, dbias, rows, cols);
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
    k::gather_rows(table, ids, out, n, width);
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

 private:
  // What alloc() handed out, for memory_in_use(). Allocation happens at construction and
  // reserve() only (never inside a step), so a locked map costs nothing that matters.
  mutable std::mutex mem_mutex_;
  std::unordered_map<void*, std::size_t> sizes_;
  std::int64_t in_use_ = 0;
  kernels::LowpGemm lowp_;
};

}  // namespace

// One per compiled kernel level (src/backend/cpu_variants.cpp chooses among them).
namespace kernels::inline TRM_KERNEL_ISA {
std::unique_ptr<Backend> make_cpu_backend_variant() { return std::make_unique<CpuBackend>(); }
}  // namespace kernels::inline TRM_KERNEL_ISA

}  // namespace trm
