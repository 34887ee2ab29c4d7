// GEMM rate of the CPU backend's linear_fwd at sudoku-mlp shapes, fp32 / bf16 / int8 interleaved
// (docs/PERFORMANCE.md, "Precision"). Build after a release build:
//   g++ -O2 -std=c++20 -fopenmp -I include -I src bench/precision_gemm.cpp build/release/libtrm_backend_cpu.a \
//       -ldnnl -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -o build/precision_gemm
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>
#include "trm/backend/backend.h"
int main() {
  struct S { int M, K, N; const char* what; };
  const S shapes[] = {{776, 512, 3072, "gate_up, batch 8"}, {776, 1536, 512, "down, batch 8"},
                      {6208, 512, 3072, "gate_up, batch 64"}};
  const trm::Precision ps[] = {trm::Precision::fp32, trm::Precision::bf16, trm::Precision::int8};
  for (const S& s : shapes) {
    std::vector<float> x((size_t)s.M * s.K), W((size_t)s.N * s.K), y((size_t)s.M * s.N);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 7919) % 1000) / 1000 - 0.5f;
    for (size_t i = 0; i < W.size(); ++i) W[i] = float((i * 104729) % 1000) / 10000 - 0.05f;
    std::vector<std::unique_ptr<trm::Backend>> be;
    for (auto p : ps) { be.push_back(trm::make_cpu_backend()); be.back()->set_precision(p); }
    std::vector<std::vector<double>> t(3);
    for (int i = 0; i < 3; ++i) be[i]->linear_fwd(x.data(), s.K, W.data(), y.data(), s.N, s.M, s.K, s.N);  // packs
    for (int rep = 0; rep < 7; ++rep)
      for (int i = 0; i < 3; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        be[i]->linear_fwd(x.data(), s.K, W.data(), y.data(), s.N, s.M, s.K, s.N);
        t[i].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    double med[3];
    for (int i = 0; i < 3; ++i) { std::sort(t[i].begin(), t[i].end()); med[i] = t[i][3]; }
    const double f = 2.0 * s.M * s.K * s.N;
    std::printf("M=%d K=%d N=%d (%s): fp32 %.1f, bf16 %.1f, int8 %.1f GFLOP/s; bf16/fp32 %.2fx, int8/fp32 %.2fx\n", s.M, s.K, s.N,
                s.what, f / med[0] / 1e9, f / med[1] / 1e9, f / med[2] / 1e9, med[0] / med[1], med[0] / med[2]);
  }
}
