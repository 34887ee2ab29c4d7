// The GPU backend's logic, written once over an execution policy `Exec`:
//   CudaExec (cuda_backend.cu): device memory, cudaMemcpyAsync on one stream, cuBLAS GEMMs, and
//            every item struct of items.h launched as a CUDA kernel;
//   SimExec  (sim_backend.cpp): host memory that the rest of trm must treat as device memory
//            (host_accessible() is false), CBLAS GEMMs, items run by an OpenMP loop.
// Everything between the Backend interface and the items (host-side grouping of ids, the uploads
// of host arrays, per-sequence loss sums, scratch management) is in this one file, so the
// simulated backend tests it on any machine. docs/GPU.md describes the design.
//
// An Exec provides:
//   void* malloc_bytes(size_t) (zeroed), void free_bytes(void*), std::int64_t memory_available()
//   void h2d(void* dst, const void* src, size_t), d2h(...) (complete on return), d2d(...)
//   void memset0(void*, size_t)
//   template <class F> void launch(std::int64_t n, const F& item)
//   void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
//             const float* B, int ldb, float beta, float* C, int ldc, bool lowp)      (row-major)
//   void gemm_batched(... same ..., i64 strideA, i64 strideB, i64 strideC, int batch, bool lowp)
//   bool has_lowp(), std::string lowp_path(), std::string name(), std::string description()
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/gpu/items.h"
#include "trm/backend/backend.h"
#include "trm/error.h"

namespace trm::gpu {

template <class Exec>
class ItemBackend final : public Backend {
 public:
  template <class... A>
  explicit ItemBackend(A&&... args) : x_(std::forward<A>(args)...) {}
  ~ItemBackend() override {
    for (auto& s : scratch_) x_.free_bytes(s.p);
  }
  std::string name() const override { return x_.name(); }
  bool host_accessible() const override { return false; }
  std::string device_name() const override { return x_.device_name(); }
  double peak_gflops() const override { return x_.peak_gflops(lowp()); }
  void synchronize() override { x_.synchronize(); }
  dist::Communicator* make_device_communicator(dist::Communicator& host) override {
    return x_.device_communicator(host);
  }

  // ---- memory ----
  float* alloc(std::int64_t n) override {
    const std::size_t bytes = static_cast<std::size_t>(n > 0 ? n : 1) * sizeof(float);
    auto* p = static_cast<float*>(x_.malloc_bytes(bytes));
    const std::lock_guard<std::mutex> lock(mu_);
    sizes_[p] = bytes;
    in_use_ += static_cast<std::int64_t>(bytes);
    return p;
  }
  void release(float* p) override {
    if (!p) return;
    {
      const std::lock_guard<std::mutex> lock(mu_);
      const auto it = sizes_.find(p);
      if (it != sizes_.end()) {
        in_use_ -= static_cast<std::int64_t>(it->second);
        sizes_.erase(it);
      }
    }
    x_.free_bytes(p);
  }
  std::int64_t memory_in_use() const override {
    const std::lock_guard<std::mutex> lock(mu_);
    return in_use_;
  }
  std::int64_t memory_available() const override { return x_.memory_available(); }
  void to_host(const float* s, float* d, std::int64_t n) override { if (n) x_.d2h(d, s, bytes(n)); }
  void from_host(const float* s, float* d, std::int64_t n) override { if (n) x_.h2d(d, s, bytes(n)); }
  void copy(const float* s, float* d, std::int64_t n) override { if (n && s != d) x_.d2d(d, s, bytes(n)); }
  void fill(float* p, float v, std::int64_t n) override { x_.launch(n, FillItem{p, v}); }
  std::int64_t count_nonfinite(const float* x, std::int64_t n) override {
    if (n <= 0) return 0;
    constexpr std::int64_t chunk = 1 << 14;
    const std::int64_t chunks = (n + chunk - 1) / chunk;
    float* partial = scratch<float>(kSlotA, chunks);
    x_.launch(chunks, CountNonfiniteItem{x, n, chunk, partial});
    host_f_.resize(static_cast<std::size_t>(chunks));
    x_.d2h(host_f_.data(), partial, static_cast<std::size_t>(chunks) * sizeof(float));
    std::int64_t k = 0;
    for (float c : host_f_) k += static_cast<std::int64_t>(c);
    return k;
  }
  void broadcast_rows(const float* row, float* dst, const std::uint8_t* mask, int groups,
                      std::int64_t rows_per_group, int width) override {
    const std::uint8_t* dmask = nullptr;
    if (mask) dmask = upload(kSlotA, mask, groups);
    x_.launch(static_cast<std::int64_t>(groups) * rows_per_group * width,
              BroadcastRowsItem{row, dst, dmask, rows_per_group, width});
  }

  // ---- dense algebra (row-major GEMMs; lowp = bf16 tensor-core arithmetic where the Exec has it) ----
  void linear_fwd(const float* x, int ldx, const float* W, float* y, int ldy, int rows, int in, int out) override {
    fwd(x, ldx, W, y, ldy, rows, in, out, lowp());
  }
  void linear_bwd(const float* x, int ldx, const float* W, const float* dy, int lddy, float* dx, int lddx,
                  float* dW, int rows, int in, int out, bool acc) override {
    bwd(x, ldx, W, dy, lddy, dx, lddx, dW, rows, in, out, acc, lowp());
  }
  void linear_fwd_fp32(const float* x, int ldx, const float* W, float* y, int ldy, int rows, int in,
                       int out) override {
    fwd(x, ldx, W, y, ldy, rows, in, out, false);
  }
  void linear_bwd_fp32(const float* x, int ldx, const float* W, const float* dy, int lddy, float* dx, int lddx,
                       float* dW, int rows, int in, int out, bool acc) override {
    bwd(x, ldx, W, dy, lddy, dx, lddx, dW, rows, in, out, acc, false);
  }
  void linear_fwd_batched(const float* x, int ldx, std::int64_t xs, const float* W, float* y, int ldy,
                          std::int64_t ys, int batch, int rows, int in, int out) override {
    if (rows <= 0 || batch <= 0) return;
    // y_b = x_b W^T for every block: one strided-batched GEMM with W shared (stride 0).
    x_.gemm_batched(false, true, rows, out, in, 1.0f, x, ldx, xs, W, in, 0, 0.0f, y, ldy, ys, batch, lowp());
  }
  void linear_bwd_batched(const float* x, int ldx, std::int64_t xs, const float* W, const float* dy, int lddy,
                          std::int64_t dys, float* dx, int lddx, std::int64_t dxs, float* dW, int batch, int rows,
                          int in, int out, bool acc) override {
    if (rows <= 0 || batch <= 0) return;
    if (dx)
      x_.gemm_batched(false, false, rows, in, out, 1.0f, dy, lddy, dys, W, in, 0, acc ? 1.0f : 0.0f, dx, lddx, dxs,
                      batch, lowp());
    if (dW)
      for (int b = 0; b < batch; ++b)
        x_.gemm(true, false, out, in, rows, 1.0f, dy + b * dys, lddy, x + b * xs, ldx, 1.0f, dW, in, lowp());
  }
  void left_linear_fwd(const float* W, const float* x, float* y, int batch, int M, int K, int N) override {
    if (batch <= 0) return;
    x_.gemm_batched(false, false, M, N, K, 1.0f, W, K, 0, x, N, static_cast<std::int64_t>(K) * N, 0.0f, y, N,
                    static_cast<std::int64_t>(M) * N, batch, lowp());
  }
  void left_linear_bwd(const float* W, const float* x, const float* dy, float* dx, float* dW, int batch, int M,
                       int K, int N) override {
    if (batch <= 0) return;
    if (dx)
      x_.gemm_batched(true, false, K, N, M, 1.0f, W, K, 0, dy, N, static_cast<std::int64_t>(M) * N, 0.0f, dx, N,
                      static_cast<std::int64_t>(K) * N, batch, lowp());
    if (dW)
      for (int b = 0; b < batch; ++b)
        x_.gemm(false, true, M, K, N, 1.0f, dy + static_cast<std::int64_t>(b) * M * N, N,
                x + static_cast<std::int64_t>(b) * K * N, N, 1.0f, dW, K, lowp());
  }
  void set_precision(Precision p) override {
    if (p == Precision::int8)
      throw Error("backend \"" + name() + "\" has no int8 arithmetic (use fp32 or bf16)");
    if (p == Precision::bf16 && !x_.has_lowp())
      throw Error("backend \"" + name() + "\" has no bf16 arithmetic (it runs fp32 only)");
    precision_ = p;
  }
  Precision precision() const override { return precision_; }
  std::string precision_path() const override {
    return precision_ == Precision::fp32 ? "fp32" : x_.lowp_path();
  }
  void bias_add(float* y, const float* bias, int rows, int cols) override {
    x_.launch(static_cast<std::int64_t>(rows) * cols, BiasAddItem{y, bias, cols});
  }
  void bias_grad(const float* dy, float* dbias, int rows, int cols) override {
    x_.launch(cols, BiasGradItem{dy, dbias, rows, cols});
  }

  // ---- element-wise and fused ----
  void add(const float* a, const float* b, float* y, std::int64_t n) override { x_.launch(n, AddItem{a, b, y}); }
  void add3(const float* a, const float* b, const float* c, float* y, std::int64_t n) override {
    x_.launch(n, Add3Item{a, b, c, y});
  }
  void accumulate(float* y, const float* x, std::int64_t n) override { x_.launch(n, AccumulateItem{y, x}); }
  void add_rmsnorm(const float* a, const float* b, float* y, float* rinv, int rows, int cols, float eps) override {
    x_.launch(rows, AddRmsNormItem{a, b, y, rinv, cols, eps});
  }
  void rmsnorm_bwd(const float* y, const float* rinv, const float* dy, float* dx, int rows, int cols) override {
    x_.launch(rows, RmsNormBwdItem{y, rinv, dy, dx, cols});
  }
  void add_rmsnorm_seq(const float* a, const float* b, float* y, float* rinv, int batch, int L, int D,
                       float eps) override {
    x_.launch(static_cast<std::int64_t>(batch) * D, AddRmsNormSeqItem{a, b, y, rinv, L, D, eps});
  }
  void rmsnorm_seq_bwd(const float* y, const float* rinv, const float* dy, float* dx, int batch, int L,
                       int D) override {
    x_.launch(static_cast<std::int64_t>(batch) * D, RmsNormSeqBwdItem{y, rinv, dy, dx, L, D});
  }
  void swiglu_fwd(const float* gu, float* act, std::int64_t rows, int inter) override {
    x_.launch(rows * inter, SwigluFwdItem{gu, act, inter});
  }
  void swiglu_bwd(const float* gu, const float* dact, float* dgu, std::int64_t rows, int inter) override {
    x_.launch(rows * inter, SwigluBwdItem{gu, dact, dgu, inter});
  }
  void rope(float* qkv, int batch, int L, int heads, int head_dim, const float* cos_t, const float* sin_t,
            bool inverse) override {
    x_.launch(static_cast<std::int64_t>(batch) * L * 2 * heads * (head_dim / 2),
              RopeItem{qkv, cos_t, sin_t, L, 2 * heads, head_dim, 3 * heads * head_dim, inverse ? -1.0f : 1.0f});
  }

  // ---- attention: lse keeps the backward's softmax; nothing L x L is stored ----
  std::int64_t attention_workspace(int) const override { return 0; }
  void attention_fwd(const float* qkv, float* out, float* lse, int batch, int L, int heads, int head_dim,
                     float*) override {
    const AttnShape sh = shape(L, heads, head_dim);
    x_.launch(static_cast<std::int64_t>(batch) * heads * L, AttnFwdItem{qkv, out, lse, sh});
  }
  void attention_bwd(const float* qkv, const float* out, const float* lse, const float* dout, float* dqkv, int batch,
                     int L, int heads, int head_dim, float*) override {
    const AttnShape sh = shape(L, heads, head_dim);
    const std::int64_t rows = static_cast<std::int64_t>(batch) * heads * L;
    float* delta = scratch<float>(kSlotA, rows);
    x_.launch(rows, AttnDeltaItem{out, dout, delta, sh});
    x_.launch(rows, AttnBwdQItem{qkv, dout, lse, delta, dqkv, sh});
    x_.launch(rows, AttnBwdKVItem{qkv, dout, lse, delta, dqkv, sh});
  }

  // ---- embeddings (ids are host arrays, uploaded to scratch) ----
  void gather_rows(const float* table, const std::int32_t* ids, float* out, int n, int width) override {
    if (n <= 0) return;
    const std::int32_t* d = upload(kSlotA, ids, n);
    x_.launch(static_cast<std::int64_t>(n) * width, GatherRowsItem{table, d, out, width});
  }
  void embed_fwd(const std::int32_t* tokens, const float* tok_table, const float* puz, const float* pos, float* x,
                 int batch, int S, int P, int D, int ndim, float scale, float pos_scale) override {
    const std::int32_t* d = upload(kSlotA, tokens, static_cast<std::int64_t>(batch) * S);
    x_.launch(static_cast<std::int64_t>(batch) * (S + P) * D,
              EmbedFwdItem{d, tok_table, puz, pos, x, S, P, D, ndim, scale * pos_scale});
  }
  void embed_bwd(const std::int32_t* tokens, const float* dx, float* dtok_table, float* dpuz, float* dpos,
                 int batch, int S, int P, int D, int ndim, float scale, float pos_scale) override {
    const float k = scale * pos_scale;
    const int L = S + P;
    if (dpuz && ndim > 0) x_.launch(static_cast<std::int64_t>(batch) * ndim, EmbedPuzBwdItem{dx, dpuz, L, D, ndim, k});
    if (dtok_table) {
      // Positions of each token id, in (b, s) order: a counting sort on the host.
      const std::int64_t n = static_cast<std::int64_t>(batch) * S;
      int V = 0;
      for (std::int64_t i = 0; i < n; ++i) V = std::max(V, tokens[i] + 1);
      group_.assign(static_cast<std::size_t>(V) + 1, 0);
      for (std::int64_t i = 0; i < n; ++i) ++group_[static_cast<std::size_t>(tokens[i]) + 1];
      for (int v = 0; v < V; ++v) group_[static_cast<std::size_t>(v) + 1] += group_[static_cast<std::size_t>(v)];
      members_.resize(static_cast<std::size_t>(n));
      fill_.assign(group_.begin(), group_.end() - 1);
      for (std::int64_t i = 0; i < n; ++i)
        members_[static_cast<std::size_t>(fill_[static_cast<std::size_t>(tokens[i])]++)] = static_cast<std::int32_t>(i);
      const std::int32_t* starts = upload(kSlotA, group_.data(), V + 1);
      const std::int32_t* pos_list = upload(kSlotB, members_.data(), n);
      x_.launch(static_cast<std::int64_t>(V) * D, EmbedTokBwdItem{dx, dtok_table, starts, pos_list, S, P, D, k});
    }
    if (dpos) x_.launch(static_cast<std::int64_t>(L) * D, EmbedPosBwdItem{dx, dpos, batch, static_cast<std::int64_t>(L) * D, k});
  }

  // ---- loss: per-token terms on the device, summed per sequence on the host in token order ----
  void stablemax_ce(const float* logits, const std::int32_t* labels, int batch, int S, int V, double* ce,
                    const double* weight, float* dlogits, std::int32_t* correct, std::int32_t* valid) override {
    const std::int64_t rows = static_cast<std::int64_t>(batch) * S;
    if (rows <= 0) return;
    const std::int32_t* dlabels = upload(kSlotA, labels, rows);
    const double* dweight = dlogits ? upload(kSlotB, weight, batch) : nullptr;
    double* loss = scratch<double>(kSlotC, rows);
    std::int32_t* flags = scratch<std::int32_t>(kSlotD, rows);
    x_.launch(rows, StablemaxCeItem{logits, dlabels, dweight, dlogits, loss, flags, S, V});
    host_d_.resize(static_cast<std::size_t>(rows));
    host_i_.resize(static_cast<std::size_t>(rows));
    x_.d2h(host_d_.data(), loss, static_cast<std::size_t>(rows) * sizeof(double));
    x_.d2h(host_i_.data(), flags, static_cast<std::size_t>(rows) * sizeof(std::int32_t));
    for (int b = 0; b < batch; ++b) {
      double l = 0;
      std::int32_t ok = 0, n = 0;
      for (int t = 0; t < S; ++t) {
        const std::size_t r = static_cast<std::size_t>(b) * S + t;
        l += host_d_[r];
        n += host_i_[r] & 1;
        ok += (host_i_[r] >> 1) & 1;
      }
      ce[b] = l;
      if (correct) correct[b] = ok;
      if (valid) valid[b] = n;
    }
  }

  // ---- optimizers ----
  void adam_atan2(float* theta, const float* g, float* m, float* v, std::int64_t n, float lr, float wd, float beta1,
                  float beta2, float step) override {
    // The bias corrections in float on the host, as the CPU kernel computes them.
    const float bc1 = 1.0f - std::pow(beta1, step);
    const float bc2_sqrt = std::sqrt(1.0f - std::pow(beta2, step));
    x_.launch(n, AdamAtan2Item{theta, m, v, g, beta1, beta2, lr / bc1, bc2_sqrt, 1.0f - lr * wd});
  }
  void ema(float* e, const float* theta, std::int64_t n, float rate) override { x_.launch(n, EmaItem{e, theta, rate}); }
  void sparse_signsgd(float* table, const std::int32_t* ids, const float* grad_rows, int n, int width, float lr,
                      float wd) override {
    if (n <= 0) return;
    // Distinct ids, each with the rows that carry it in row order: sort (id, row) pairs (rows are
    // distinct, so the order is total), then cut the runs. Rows of different ids are independent.
    pairs_.resize(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) pairs_[static_cast<std::size_t>(i)] = {ids[i], i};
    std::sort(pairs_.begin(), pairs_.end());
    uniq_.clear();
    group_.clear();
    members_.resize(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      const auto& [id, row] = pairs_[static_cast<std::size_t>(i)];
      if (i == 0 || id != pairs_[static_cast<std::size_t>(i) - 1].first) {
        uniq_.push_back(id);
        group_.push_back(i);
      }
      members_[static_cast<std::size_t>(i)] = row;
    }
    group_.push_back(n);
    const auto U = static_cast<std::int64_t>(uniq_.size());
    const std::int32_t* du = upload(kSlotA, uniq_.data(), U);
    const std::int32_t* ds = upload(kSlotB, group_.data(), U + 1);
    const std::int32_t* dm = upload(kSlotC, members_.data(), n);
    x_.launch(U * width, SparseSignSgdItem{table, grad_rows, du, ds, dm, width, lr, 1.0f - lr * wd});
  }

  Exec& exec() { return x_; }

 private:
  enum Slot { kSlotA, kSlotB, kSlotC, kSlotD, kSlots };
  struct Scratch {
    void* p = nullptr;
    std::size_t bytes = 0;
  };
  static std::size_t bytes(std::int64_t n) { return static_cast<std::size_t>(n) * sizeof(float); }
  bool lowp() const { return precision_ == Precision::bf16; }
  static AttnShape shape(int L, int heads, int head_dim) {
    if (head_dim > kMaxHeadDim || head_dim % 2)
      throw Error("attention head_dim " + std::to_string(head_dim) + " is not supported by the GPU backend (even, at most " +
                  std::to_string(kMaxHeadDim) + ")");
    return AttnShape{L, heads, head_dim, 1.0f / std::sqrt(static_cast<float>(head_dim))};
  }
  // A grow-only device scratch buffer per slot: it is allocated at the first step of a shape and
  // reused after, so steps allocate nothing once warm.
  template <class T>
  T* scratch(Slot s, std::int64_t n) {
    Scratch& b = scratch_[s];
    const std::size_t need = static_cast<std::size_t>(n > 0 ? n : 1) * sizeof(T);
    if (b.bytes < need) {
      x_.free_bytes(b.p);
      b.p = nullptr;
      b.bytes = 0;
      b.p = x_.malloc_bytes(need);
      b.bytes = need;
    }
    return static_cast<T*>(b.p);
  }
  template <class T>
  const T* upload(Slot s, const T* host, std::int64_t n) {
    T* d = scratch<T>(s, n);
    if (n > 0) x_.h2d(d, host, static_cast<std::size_t>(n) * sizeof(T));
    return d;
  }
  void fwd(const float* x, int ldx, const float* W, float* y, int ldy, int rows, int in, int out, bool lp) {
    if (rows <= 0) return;
    x_.gemm(false, true, rows, out, in, 1.0f, x, ldx, W, in, 0.0f, y, ldy, lp);
  }
  void bwd(const float* x, int ldx, const float* W, const float* dy, int lddy, float* dx, int lddx, float* dW,
           int rows, int in, int out, bool acc, bool lp) {
    if (rows <= 0) return;
    if (dx) x_.gemm(false, false, rows, in, out, 1.0f, dy, lddy, W, in, acc ? 1.0f : 0.0f, dx, lddx, lp);
    if (dW) x_.gemm(true, false, out, in, rows, 1.0f, dy, lddy, x, ldx, 1.0f, dW, in, lp);
  }

  Exec x_;
  Precision precision_ = Precision::fp32;
  Scratch scratch_[kSlots];
  // Host staging, grown once and reused.
  std::vector<float> host_f_;
  std::vector<double> host_d_;
  std::vector<std::int32_t> host_i_, uniq_, group_, fill_, members_;
  std::vector<std::pair<std::int32_t, std::int32_t>> pairs_;
  mutable std::mutex mu_;
  std::unordered_map<void*, std::size_t> sizes_;
  std::int64_t in_use_ = 0;
};

}  // namespace trm::gpu
