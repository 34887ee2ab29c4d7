// The seam between the model and the hardware. The model (src/model) owns no arithmetic: it
// asks a Backend for memory and for every operation, so a CUDA backend can replace the CPU one
// without the model changing. Memory handed out by a backend lives wherever that backend
// computes (host memory for the CPU backend); the model only passes those pointers back.
// Token ids, labels and scalars cross the seam as host values.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trm/backend/precision.h"

namespace trm {

namespace dist {
class Communicator;
}

class Backend {
 public:
  virtual ~Backend() = default;
  // The registry name ("cpu", "cuda"): shown in banners and in `trm bench` output.
  virtual std::string name() const = 0;

  // ---- memory (zero-initialized, aligned) ----
  virtual float* alloc(std::int64_t n) = 0;
  virtual void release(float* p) = 0;
  // Bytes alloc() has handed out and not yet released.
  virtual std::int64_t memory_in_use() const = 0;
  // Bytes this backend could still allocate (the CPU backend: the kernel's MemAvailable, within
  // the cgroup's limit); the memory check before allocation (include/trm/model/memory.h) reads it.
  virtual std::int64_t memory_available() const = 0;
  virtual void to_host(const float* src, float* host_dst, std::int64_t n) = 0;
  virtual void from_host(const float* host_src, float* dst, std::int64_t n) = 0;
  virtual void copy(const float* src, float* dst, std::int64_t n) = 0;
  virtual void fill(float* p, float value, std::int64_t n) = 0;
  // How many of x[0..n) are NaN or +-Inf, returned to the host. The trainer's guard against
  // numerical faults: one pass over the gradients before each optimizer step and over the state
  // before each checkpoint (docs/RELIABILITY.md, "Numerical faults").
  virtual std::int64_t count_nonfinite(const float* x, std::int64_t n) = 0;
  // For every group g < groups with group_mask == null or group_mask[g] != 0 (a host array),
  // each of the rows_per_group rows of dst that group g owns (starting at row g * rows_per_group)
  // becomes `row` [width]. One call restarts every position of the chosen ACT slots from
  // H_init / L_init (instead of one copy per row).
  virtual void broadcast_rows(const float* row, float* dst, const std::uint8_t* group_mask, int groups,
                              std::int64_t rows_per_group, int width) = 0;
  // True when the host may read and write this backend's memory directly (the CPU backend), so
  // big tensors can be saved and loaded without a staging copy.
  virtual bool host_accessible() const { return false; }
  // The hardware it computes on, in words ("AMD EPYC 9R14", "NVIDIA H200"): banners, `trm bench`.
  virtual std::string device_name() const { return ""; }
  // The device's peak dense GEMM rate at precision() in GFLOP/s, for model FLOP utilisation
  // (`trm bench` "mfu"); 0 when unknown (the CPU backend: `trm bench --sgemm` measures instead).
  virtual double peak_gflops() const { return 0.0; }
  // Returns when every operation issued so far has finished (a backend that computes
  // asynchronously, like CUDA, waits for its stream); timing code calls it before reading a clock.
  virtual void synchronize() {}
  // A communicator over the same ranks as `host` whose collectives take this backend's memory
  // directly (the CUDA backend: NCCL on its stream), owned by the caller; null when the backend
  // has none, and then data-parallel training stages its buffers through the host
  // (include/trm/train/device_collectives.h). Every rank calls it together: it is a collective.
  virtual dist::Communicator* make_device_communicator(dist::Communicator& host) {
    (void)host;
    return nullptr;
  }

  // ---- dense algebra ----
  // y[R,out] = x[R,in] W^T with W [out,in]; ldx/ldy are the row strides of x and y.
  virtual void linear_fwd(const float* x, int ldx, const float* W, float* y, int ldy, int rows, int in,
                          int out) = 0;
  // dx (= or +=) dy W; dW += dy^T x. Either output may be null.
  virtual void linear_bwd(const float* x, int ldx, const float* W, const float* dy, int lddy, float* dx,
                          int lddx, float* dW, int rows, int in, int out, bool accumulate_dx) = 0;
  // The same layer on `batch` row blocks that start x_stride / y_stride floats apart: one call for
  // the logits head, which reads the answer rows of every sample and skips the puzzle prefix.
  virtual void linear_fwd_batched(const float* x, int ldx, std::int64_t x_stride, const float* W, float* y,
                                  int ldy, std::int64_t y_stride, int batch, int rows, int in, int out) = 0;
  virtual void linear_bwd_batched(const float* x, int ldx, std::int64_t x_stride, const float* W,
                                  const float* dy, int lddy, std::int64_t dy_stride, float* dx, int lddx,
                                  std::int64_t dx_stride, float* dW, int batch, int rows, int in, int out,
                                  bool accumulate_dx) = 0;
  // Per-sample weight on the left, shared across the batch: y_b[M,N] = W[M,K] x_b[K,N], for
  // b < batch with x_b = x + b*K*N, y_b = y + b*M*N (the MLP-t sequence mixing).
  virtual void left_linear_fwd(const float* W, const float* x, float* y, int batch, int M, int K, int N) = 0;
  // dx_b (=) W^T dy_b; dW += sum_b dy_b x_b^T.
  virtual void left_linear_bwd(const float* W, const float* x, const float* dy, float* dx, float* dW,
                               int batch, int M, int K, int N) = 0;

  // The same products always in fp32, whatever precision(): the halting head (q_head) uses them,
  // since its halting decisions flip on small differences of q (docs/PRECISION.md).
  virtual void linear_fwd_fp32(const float* x, int ldx, const float* W, float* y, int ldy, int rows, int in,
                               int out) {
    linear_fwd(x, ldx, W, y, ldy, rows, in, out);
  }
  virtual void linear_bwd_fp32(const float* x, int ldx, const float* W, const float* dy, int lddy, float* dx,
                               int lddx, float* dW, int rows, int in, int out, bool accumulate_dx) {
    linear_bwd(x, ldx, W, dy, lddy, dx, lddx, dW, rows, in, out, accumulate_dx);
  }

  // ---- precision of the linear_* products (include/trm/backend/precision.h, docs/PRECISION.md) ----
  // Throws trm::Error when this backend has no path for p (the default: fp32 only). int8 is for
  // inference: linear_bwd* under int8 throws trm::Error.
  virtual void set_precision(Precision p) {
    if (p != Precision::fp32)
      throw Error("backend \"" + name() + "\" has no " + to_string(p) + " arithmetic (it runs fp32 only)");
  }
  virtual Precision precision() const { return Precision::fp32; }
  // The weights passed to linear_* may have changed (optimizer step, checkpoint load, init, an EMA
  // copy): packed forms built from them are rebuilt at their next use. Whoever writes weights
  // calls it; a backend without packed weights ignores it.
  virtual void weights_changed() {}
  // Which arithmetic runs for precision() on this machine, in words (banners, `trm bench`).
  virtual std::string precision_path() const { return to_string(precision()); }
  // Non-empty when precision() runs a slow fallback on this machine (say it once, as a warning).
  virtual std::string precision_warning() const { return ""; }

  // y[r, :] += bias for every row;  dbias += sum over rows of dy.
  virtual void bias_add(float* y, const float* bias, int rows, int cols) = 0;
  virtual void bias_grad(const float* dy, float* dbias, int rows, int cols) = 0;

  // ---- element-wise and fused ----
  virtual void add(const float* a, const float* b, float* y, std::int64_t n) = 0;
  virtual void add3(const float* a, const float* b, const float* c, float* y, std::int64_t n) = 0;
  virtual void accumulate(float* y, const float* x, std::int64_t n) = 0;
  virtual void add_rmsnorm(const float* a, const float* b, float* y, float* rinv, int rows, int cols,
                           float eps) = 0;
  virtual void rmsnorm_bwd(const float* y, const float* rinv, const float* dy, float* dx, int rows,
                           int cols) = 0;
  virtual void add_rmsnorm_seq(const float* a, const float* b, float* y, float* rinv, int batch, int L,
                               int D, float eps) = 0;
  virtual void rmsnorm_seq_bwd(const float* y, const float* rinv, const float* dy, float* dx, int batch,
                               int L, int D) = 0;
  virtual void swiglu_fwd(const float* gu, float* act, std::int64_t rows, int inter) = 0;
  virtual void swiglu_bwd(const float* gu, const float* dact, float* dgu, std::int64_t rows, int inter) = 0;
  virtual void rope(float* qkv, int batch, int L, int heads, int head_dim, const float* cos_t,
                    const float* sin_t, bool inverse) = 0;

  // ---- attention (no L x L state kept between forward and backward) ----
  virtual std::int64_t attention_workspace(int L) const = 0;  // floats needed by the two calls below
  virtual void attention_fwd(const float* qkv, float* out, float* lse, int batch, int L, int heads,
                             int head_dim, float* workspace) = 0;
  virtual void attention_bwd(const float* qkv, const float* out, const float* lse, const float* dout,
                             float* dqkv, int batch, int L, int heads, int head_dim, float* workspace) = 0;

  // ---- embeddings (ids are host arrays) ----
  virtual void gather_rows(const float* table, const std::int32_t* ids, float* out, int n, int width) = 0;
  virtual void embed_fwd(const std::int32_t* tokens, const float* tok_table, const float* puz,
                         const float* pos, float* x, int batch, int S, int P, int D, int ndim, float scale,
                         float pos_scale) = 0;
  virtual void embed_bwd(const std::int32_t* tokens, const float* dx, float* dtok_table, float* dpuz,
                         float* dpos, int batch, int S, int P, int D, int ndim, float scale,
                         float pos_scale) = 0;

  // ---- losses: per-sequence results come back to the host ----
  virtual void stablemax_ce(const float* logits, const std::int32_t* labels, int batch, int S, int V,
                            double* ce, const double* weight, float* dlogits, std::int32_t* correct,
                            std::int32_t* valid) = 0;

  // ---- optimizers ----
  virtual void adam_atan2(float* theta, const float* g, float* m, float* v, std::int64_t n, float lr,
                          float weight_decay, float beta1, float beta2, float step) = 0;
  virtual void ema(float* ema, const float* theta, std::int64_t n, float rate) = 0;
  // Sparse SignSGD on the rows of `table` named by the host ids: the gradient rows of equal ids
  // are summed first, then row <- row * (1 - lr * wd) - lr * sign(sum). Other rows are untouched.
  virtual void sparse_signsgd(float* table, const std::int32_t* ids, const float* grad_rows, int n, int width,
                              float lr, float weight_decay) = 0;
};

// ---- the registry (src/backend/registry.cpp) ----
// Every backend trm knows, whether or not this build or machine can run it.
struct BackendInfo {
  std::string name;         // what --backend takes
  std::string description;  // one line
  bool available = false;   // this build has it and the machine can run it
  std::string reason;       // why not, when !available
};
std::vector<BackendInfo> known_backends();
// Their names only, without probing the machine (cheap: for help texts).
std::vector<std::string> backend_names();
// The names of the available ones, in preference order ("cpu" first today).
std::vector<std::string> available_backends();
// A new backend by name; throws trm::Error naming the available ones (and why `name` is not
// among them when it is a known backend).
std::unique_ptr<Backend> make_backend(const std::string& name);

// The CPU backend (src/backend/cpu_backend.cpp): OpenMP loops and an OpenMP-built OpenBLAS.
// Same as make_backend("cpu").
std::unique_ptr<Backend> make_cpu_backend();

// Owning device buffer tied to a backend.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Backend& be, std::int64_t n) : be_(&be), p_(n ? be.alloc(n) : nullptr), n_(n) {}
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : be_(o.be_), p_(o.p_), n_(o.n_) { o.p_ = nullptr; o.n_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) { reset(); be_ = o.be_; p_ = o.p_; n_ = o.n_; o.p_ = nullptr; o.n_ = 0; }
    return *this;
  }
  void reset() { if (p_) be_->release(p_); p_ = nullptr; n_ = 0; }
  float* data() { return p_; }
  const float* data() const { return p_; }
  std::int64_t size() const { return n_; }

 private:
  Backend* be_ = nullptr;
  float* p_ = nullptr;
  std::int64_t n_ = 0;
};

}  // namespace trm
