// Throughput benchmarks (`trm bench train|infer`): the same synthetic workload that
// reference/bench_reference.py runs in PyTorch, reported with the same JSON keys so that
// bench/compare.sh can put the two side by side.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "trm/backend/backend.h"
#include "trm/model/config.h"

namespace trm {

// Analytic FLOPs (a multiply-add counts 2) of one supervision step for one sample: every GEMM
// and both attention products; element-wise work is not counted. Training counts the forward of
// all T(n+1) net calls plus twice the forward of the differentiated round (its backward), and
// the heads' forward and backward; inference counts the forward only. HRM (arch hrm): H_cycles x
// (L_cycles L-net calls + 1 H-net call) forward, twice one L and one H call backward, plus the
// Q-continue target's extra forward step.
double flops_per_sample_step(const ModelConfig& cfg, bool training);

// Single-precision GEMM rate of this machine through the BLAS the model uses, measured now:
// median of `reps` square n x n products, in GFLOP/s.
double measure_sgemm_gflops(Backend& backend, int n = 1536, int reps = 5);

// Peak resident set size of this process so far, in MiB.
double peak_rss_mib();

struct BenchOptions {
  std::string preset;        // for the report only; the config is `model`/`optim`
  ModelConfig model;
  OptimConfig optim;
  bool training = true;      // train: one optimizer step per iteration; infer: halt_max_steps steps
  int batch = 8;
  int warmup = 1;            // iterations not timed
  int iterations = 3;        // timed iterations (the median is reported)
  std::uint64_t seed = 0;
  bool measure_sgemm = true;
};

// Runs the workload and returns the report: preset, mode, batch, threads, iterations,
// ms_per_step, supervision_steps_per_s, samples_per_s, gflops, sgemm_gflops, sgemm_fraction,
// peak_rss_mib, impl ("trm"), precision and precision_path (the backend's precision() and the
// path that runs it; the SGEMM reference is measured through the backend's linear layer, so in bf16
// or int8 it is that precision's rate). See docs/PERFORMANCE.md for the definitions.
nlohmann::json run_bench(const BenchOptions& opt, Backend& backend);

}  // namespace trm
