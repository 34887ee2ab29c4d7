// The bf16 and int8 GEMMs of the CPU backend (docs/PRECISION.md). Forward products run through
// oneDNN's matmul primitive with the weights packed once into the primitive's preferred layout;
// backward products (bf16 training only) run as fp32 SGEMMs on bf16-rounded inputs, which gives
// the same numbers as a bf16 GEMM with fp32 accumulation. Packs are cached by weight pointer and
// shape and rebuilt on first use after weights_changed(); primitives are cached by shape.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "trm/backend/precision.h"

#ifndef TRM_KERNEL_ISA
#define TRM_KERNEL_ISA base  // as kernels.h: one copy per compiled kernel level
#endif

namespace trm::kernels::inline TRM_KERNEL_ISA {

// Rounds fp32 to the nearest bf16 (ties to even) and back: what a bf16 GEMM input holds.
float round_to_bf16(float x);

struct LowpStats {
  std::int64_t primitives = 0;  // matmul and reorder primitives created
  std::int64_t packs = 0;       // weight packs built or rebuilt
};

class LowpGemm {
 public:
  LowpGemm();
  ~LowpGemm();
  LowpGemm(const LowpGemm&) = delete;
  LowpGemm& operator=(const LowpGemm&) = delete;

  void set_precision(Precision p);
  Precision precision() const { return prec_; }
  // Every cached pack is stale; each is rebuilt (in place, no allocation) at its next use.
  void weights_changed() { ++generation_; }
  // Which path runs for the current precision, e.g. "int8: oneDNN matmul u8 x s8 (ISA avx2, no VNNI)".
  std::string path() const;
  // Non-empty when the current precision runs a slow fallback on this CPU.
  std::string warning() const;
  LowpStats stats() const;

  // y[M,N] = x[M,K] W^T, W [N,K] row-major (the Backend::linear_fwd contract).
  void linear_fwd(const float* x, int ldx, const float* W, float* y, int ldy, int M, int K, int N);
  // dx (= or +=) dy W; dW += dy^T x, both on bf16-rounded inputs (precision bf16 only).
  void linear_bwd(const float* x, int ldx, const float* W, const float* dy, int lddy, float* dx, int lddx,
                  float* dW, int M, int K, int N, bool accumulate_dx);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Precision prec_ = Precision::fp32;
  std::uint64_t generation_ = 1;
};

}  // namespace trm::kernels::inline TRM_KERNEL_ISA
