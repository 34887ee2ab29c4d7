// The CUDA backend: item_backend.h's logic with device memory, one CUDA stream, cuBLAS for the
// GEMMs and every item of items.h launched as a kernel (one thread per item, grid-stride loop).
//
// Precision: fp32 (parity mode) runs cublasSgemm with the default math mode, which on sm_80+ is
// plain fp32 (no TF32). bf16 runs cublasGemmEx with CUBLAS_COMPUTE_32F_FAST_16BF: fp32 storage,
// bf16 tensor-core products with fp32 accumulation; norms, softmax, loss and optimizer stay fp32 /
// fp64 as in the reference's recipe. Errors of the CUDA runtime and cuBLAS become trm::Error
// with the call and the runtime's own message (docs/GPU.md).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#ifdef TRM_HAVE_NCCL
#include <nccl.h>
#endif

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "backend/gpu/gpu_backends.h"
#include "backend/gpu/item_backend.h"
#include "trm/dist/communicator.h"
#include "trm/error.h"

namespace trm::gpu {
namespace {

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  if (e == cudaErrorMemoryAllocation)
    throw OutOfMemory(std::string("CUDA out of device memory in ") + what + ": " + cudaGetErrorString(e));
  throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
void check(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  throw Error(std::string("cuBLAS error in ") + what + ": " + cublasGetStatusString(s));
}

// TRM_CUDA_DEVICE when set; else, under an MPI launcher, the rank's index among the ranks of its
// node modulo the node's devices, so `mpirun -np 8` on an 8-GPU machine gives each rank its own
// GPU (docs/GPU.md); else device 0.
int chosen_device() {
  if (const char* env = std::getenv("TRM_CUDA_DEVICE"); env && *env) return std::atoi(env);
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", "LOCAL_RANK"}) {
    const char* v = std::getenv(name);
    if (!v || !*v) continue;
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n <= 0) return 0;
    return std::atoi(v) % n;
  }
  return 0;
}

bool device_usable(std::string* why);  // below, with the module's entry points

template <class F>
__global__ void item_kernel(F item, long long n) {
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) item(i);
}

cublasOperation_t op(bool t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }

class CudaExec {
 public:
  CudaExec() {
    std::string why;
    if (!device_usable(&why)) throw Error("backend \"cuda\" is not available: " + why);
    device_ = chosen_device();
    check(cudaSetDevice(device_), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cublasCreate(&blas_), "cublasCreate");
    check(cublasSetStream(blas_, stream_), "cublasSetStream");
    check(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    cudaDeviceProp p{};
    check(cudaGetDeviceProperties(&p, device_), "cudaGetDeviceProperties");
    device_name_ = p.name;
    major_ = p.major;
    sms_ = p.multiProcessorCount;
    check(cudaDeviceGetAttribute(&clock_khz_, cudaDevAttrClockRate, device_), "cudaDeviceGetAttribute(clock rate)");
  }
  ~CudaExec() {
    if (blas_) cublasDestroy(blas_);
    if (stream_) cudaStreamDestroy(stream_);
  }
  CudaExec(const CudaExec&) = delete;
  CudaExec& operator=(const CudaExec&) = delete;

  static std::string name() { return "cuda"; }
  std::string device_name() const { return device_name_; }
  // Peak dense GEMM rate from the SM count and clock: FLOP per clock per SM for fp32 (CUDA
  // cores) and for bf16 tensor cores, by architecture (sm_80: A100, sm_90: H100/H200).
  double peak_gflops(bool lowp) const {
    const double per_sm_clk = lowp ? (major_ >= 9 ? 4096.0 : 2048.0) : (major_ >= 9 ? 256.0 : 128.0);
    return per_sm_clk * sms_ * clock_khz_ * 1e3 * 1e-9;
  }
  void synchronize() { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }
  dist::Communicator* device_communicator(dist::Communicator& host);  // below: NCCL, or null
  void* malloc_bytes(std::size_t n) {
    void* p = nullptr;
    check(cudaMalloc(&p, n), "cudaMalloc");
    check(cudaMemsetAsync(p, 0, n, stream_), "cudaMemsetAsync");
    return p;
  }
  void free_bytes(void* p) {
    if (!p) return;
    cudaStreamSynchronize(stream_);  // nothing in flight may still use it
    cudaFree(p);
  }
  std::int64_t memory_available() const {
    std::size_t free_b = 0, total_b = 0;
    check(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
    return static_cast<std::int64_t>(free_b);
  }
  void h2d(void* d, const void* s, std::size_t n) {
    // From pageable memory the call returns once the source has been staged, so the caller may
    // reuse its host array at once.
    check(cudaMemcpyAsync(d, s, n, cudaMemcpyHostToDevice, stream_), "cudaMemcpy host->device");
  }
  void d2h(void* d, const void* s, std::size_t n) {
    check(cudaMemcpyAsync(d, s, n, cudaMemcpyDeviceToHost, stream_), "cudaMemcpy device->host");
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (a kernel before this copy failed)");
  }
  void d2d(void* d, const void* s, std::size_t n) {
    check(cudaMemcpyAsync(d, s, n, cudaMemcpyDeviceToDevice, stream_), "cudaMemcpy device->device");
  }
  template <class F>
  void launch(std::int64_t n, const F& item) {
    if (n <= 0) return;
    constexpr int kThreads = 256;
    const long long blocks = std::min<long long>((n + kThreads - 1) / kThreads, 1LL << 20);
    item_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream_>>>(item, static_cast<long long>(n));
    check(cudaGetLastError(), "kernel launch");
  }
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
  void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
            float beta, float* C, int ldc, bool lowp) {
    if (M <= 0 || N <= 0) return;
    if (!lowp) {
      check(cublasSgemm(blas_, op(tb), op(ta), N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc), "cublasSgemm");
      return;
    }
    check(cublasGemmEx(blas_, op(tb), op(ta), N, M, K, &alpha, B, CUDA_R_32F, ldb, A, CUDA_R_32F, lda, &beta, C,
                       CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT),
          "cublasGemmEx (bf16)");
  }
  void gemm_batched(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, std::int64_t sa,
                    const float* B, int ldb, std::int64_t sb, float beta, float* C, int ldc, std::int64_t sc, int batch,
                    bool lowp) {
    if (M <= 0 || N <= 0 || batch <= 0) return;
    if (!lowp) {
      check(cublasSgemmStridedBatched(blas_, op(tb), op(ta), N, M, K, &alpha, B, ldb, sb, A, lda, sa, &beta, C, ldc, sc,
                                      batch),
            "cublasSgemmStridedBatched");
      return;
    }
    check(cublasGemmStridedBatchedEx(blas_, op(tb), op(ta), N, M, K, &alpha, B, CUDA_R_32F, ldb, sb, A, CUDA_R_32F, lda,
                                     sa, &beta, C, CUDA_R_32F, ldc, sc, batch, CUBLAS_COMPUTE_32F_FAST_16BF,
                                     CUBLAS_GEMM_DEFAULT),
          "cublasGemmStridedBatchedEx (bf16)");
  }
  static bool has_lowp() { return true; }
  static std::string lowp_path() { return "bf16 tensor cores (cuBLAS, fp32 accumulation)"; }

 private:
  int device_ = 0, major_ = 0, sms_ = 0, clock_khz_ = 0;
  std::string device_name_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
};

#ifdef TRM_HAVE_NCCL
void check(ncclResult_t r, const char* what) {
  if (r == ncclSuccess) return;
  throw Error(std::string("NCCL error in ") + what + ": " + ncclGetErrorString(r));
}

// The collectives of data-parallel training on device memory: NCCL over the ranks of the host
// communicator (MPI), which carries NCCL's unique id from rank 0 at start-up and keeps the
// barrier and abort. Each collective runs on the backend's stream, after the kernels that made
// its input, and returns when it has finished; a wait beyond TRM_COLLECTIVE_TIMEOUT (a rank died
// or hangs) aborts the NCCL communicator and fails with a message instead of hanging; the limit
// is the host communicator's (TRM_COLLECTIVE_TIMEOUT).
class NcclCommunicator final : public dist::Communicator {
 public:
  NcclCommunicator(dist::Communicator& host, cudaStream_t stream, int device)
      : host_(host), stream_(stream), timeout_s_(host.collective_timeout_s()) {
    ncclUniqueId id{};
    if (host.rank() == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    host.broadcast(&id, sizeof id, 0);
    check(cudaSetDevice(device), "cudaSetDevice");
    check(ncclCommInitRank(&comm_, host.size(), id, host.rank()), "ncclCommInitRank");
  }
  ~NcclCommunicator() override {
    if (comm_) ncclCommDestroy(comm_);
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  std::string name() const override { return "nccl"; }
  double collective_timeout_s() const override { return timeout_s_; }
  void allreduce_sum(float* data, std::int64_t n) override {
    check(ncclAllReduce(data, data, static_cast<std::size_t>(n), ncclFloat32, ncclSum, comm_, stream_), "ncclAllReduce");
    wait("ncclAllReduce");
  }
  void allreduce_sum(double* data, std::int64_t n) override {
    check(ncclAllReduce(data, data, static_cast<std::size_t>(n), ncclFloat64, ncclSum, comm_, stream_), "ncclAllReduce");
    wait("ncclAllReduce");
  }
  void allgather(const void* send, void* recv, std::int64_t bytes) override {
    check(ncclAllGather(send, recv, static_cast<std::size_t>(bytes), ncclUint8, comm_, stream_), "ncclAllGather");
    wait("ncclAllGather");
  }
  void broadcast(void* data, std::int64_t bytes, int root) override {
    check(ncclBroadcast(data, data, static_cast<std::size_t>(bytes), ncclUint8, root, comm_, stream_), "ncclBroadcast");
    wait("ncclBroadcast");
  }
  void barrier() override { host_.barrier(); }
  [[noreturn]] void abort(int code) override {
    host_.abort(code);
    std::abort();  // not reached: the host communicator's abort does not return
  }

 private:
  void wait(const char* what) {
    const auto t0 = std::chrono::steady_clock::now();
    for (;;) {
      const cudaError_t e = cudaStreamQuery(stream_);
      if (e == cudaSuccess) return;
      if (e != cudaErrorNotReady) check(e, what);
      ncclResult_t async = ncclSuccess;
      check(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError");
      check(async, what);
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (timeout_s_ > 0 && waited > timeout_s_) {
        ncclCommAbort(comm_);
        comm_ = nullptr;
        throw Error("rank " + std::to_string(rank()) + " of " + std::to_string(size()) + ": waited " +
                    std::to_string(static_cast<int>(waited)) + " s in " + what +
                    " for the other ranks (TRM_COLLECTIVE_TIMEOUT); another rank has died or hangs");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  dist::Communicator& host_;
  cudaStream_t stream_;
  double timeout_s_;
  ncclComm_t comm_ = nullptr;
};
#endif

// NCCL where the module was built with it and TRM_NCCL is not 0; else null (host staging).
dist::Communicator* CudaExec::device_communicator(dist::Communicator& host) {
#ifdef TRM_HAVE_NCCL
  if (const char* v = std::getenv("TRM_NCCL"); v && std::string(v) == "0") return nullptr;
  synchronize();
  return new NcclCommunicator(host, stream_, device_);
#else
  (void)host;
  return nullptr;
#endif
}

}  // namespace

namespace {
bool device_usable(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    if (why) *why = std::string("no CUDA device (") + (e != cudaSuccess ? cudaGetErrorString(e) : "none found") + ")";
    return false;
  }
  const int dev = chosen_device();
  if (dev < 0 || dev >= n) {
    if (why) *why = "TRM_CUDA_DEVICE=" + std::to_string(dev) + " but this machine has " + std::to_string(n) + " CUDA device(s)";
    return false;
  }
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
    if (why) *why = "cannot read the properties of CUDA device " + std::to_string(dev);
    return false;
  }
  if (p.major < 8) {
    if (why)
      *why = "CUDA device " + std::to_string(dev) + " (" + p.name + ") has compute capability " + std::to_string(p.major) +
             "." + std::to_string(p.minor) + "; trm's CUDA backend is built for 8.0 and newer (sm_80, sm_90)";
    return false;
  }
  return true;
}

void copy_message(const std::string& m, char* buf, int cap) {
  if (!buf || cap <= 0) return;
  const std::size_t n = std::min<std::size_t>(m.size(), static_cast<std::size_t>(cap) - 1);
  m.copy(buf, n);
  buf[n] = 0;
}
}  // namespace

}  // namespace trm::gpu

// The module's entry points, found by dlsym (src/backend/gpu/cuda_module.cpp).
extern "C" __attribute__((visibility("default"))) int trm_cuda_module_abi() { return trm::gpu::kCudaModuleAbi; }

extern "C" __attribute__((visibility("default"))) int trm_cuda_module_available(char* why, int cap) {
  std::string w;
  const bool ok = trm::gpu::device_usable(&w);
  trm::gpu::copy_message(w, why, cap);
  return ok ? 1 : 0;
}

extern "C" __attribute__((visibility("default"))) trm::Backend* trm_cuda_module_create(char* err, int cap) {
  try {
    return new trm::gpu::ItemBackend<trm::gpu::CudaExec>();
  } catch (const std::exception& e) {
    trm::gpu::copy_message(e.what(), err, cap);
    return nullptr;
  }
}
