// "cuda-sim": the CUDA backend's logic and kernels (item_backend.h, items.h) run on the host, for
// machines without a GPU. Its memory is ordinary host memory, but it reports host_accessible() =
// false, so every caller must go through to_host / from_host exactly as with device memory: the
// tests run the model, trainer and solver on it to prove that nothing reads "device" memory
// directly. Items run in an OpenMP loop; the GEMMs go to CBLAS in fp32. It is slow (one item per
// loop iteration, no tiling): a correctness tool, not a product path (docs/GPU.md).
#include <cblas.h>

#include <cstring>
#include <memory>

#include "backend/gpu/gpu_backends.h"
#include "backend/gpu/item_backend.h"
#include "backend/host_memory.h"
#include "trm/backend/cpu_info.h"
#include "tensor/aligned.h"

namespace trm::gpu {
namespace {

struct SimExec {
  static std::string name() { return "cuda-sim"; }
  static std::string device_name() { return cpu_model_name() + " (simulating the CUDA backend)"; }
  static double peak_gflops(bool) { return 0.0; }
  static void synchronize() {}
  // No NCCL on the host: data-parallel runs on cuda-sim take the host-staged collectives.
  static dist::Communicator* device_communicator(dist::Communicator&) { return nullptr; }
  void* malloc_bytes(std::size_t n) {
    void* p = aligned_alloc_bytes(n);
    std::memset(p, 0, n);
    return p;
  }
  void free_bytes(void* p) { aligned_free_bytes(p); }
  std::int64_t memory_available() const { return host_memory_available(); }
  void h2d(void* d, const void* s, std::size_t n) { std::memcpy(d, s, n); }
  void d2h(void* d, const void* s, std::size_t n) { std::memcpy(d, s, n); }
  void d2d(void* d, const void* s, std::size_t n) { std::memmove(d, s, n); }
  template <class F>
  void launch(std::int64_t n, const F& item) {
#pragma omp parallel for schedule(static) if (n >= 4096)
    for (std::int64_t i = 0; i < n; ++i) item(i);
  }
  void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
            float beta, float* C, int ldc, bool /*lowp*/) {
    if (M <= 0 || N <= 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
                B, ldb, beta, C, ldc);
  }
  void gemm_batched(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, std::int64_t sa,
                    const float* B, int ldb, std::int64_t sb, float beta, float* C, int ldc, std::int64_t sc, int batch,
                    bool lowp) {
    for (int b = 0; b < batch; ++b) gemm(ta, tb, M, N, K, alpha, A + b * sa, lda, B + b * sb, ldb, beta, C + b * sc, ldc, lowp);
  }
  static bool has_lowp() { return false; }
  static std::string lowp_path() { return "fp32"; }
};

}  // namespace

std::unique_ptr<Backend> make_cuda_sim_backend() { return std::make_unique<ItemBackend<SimExec>>(); }

}  // namespace trm::gpu
