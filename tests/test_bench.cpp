// The benchmark's analytic FLOP count and its report (the timings themselves are not tested).
#include <gtest/gtest.h>

#include "backend_util.h"
#include "trm/bench/bench.h"
#include "trm/model/presets.h"

namespace trm {

TEST(Bench, FlopCountMatchesTheSpecEstimates) {
  // docs/REFERENCE.md §9: Sudoku TRM-MLP forward ≈ 25.6 GFLOP per sample-step, training adds ≈ 17 GFLOP.
  const ModelConfig mlp = find_preset("sudoku-mlp").model;
  EXPECT_NEAR(flops_per_sample_step(mlp, false) / 1e9, 25.6, 0.6);
  EXPECT_NEAR(flops_per_sample_step(mlp, true) / 1e9, 25.6 + 17.1, 1.0);
  // Maze TRM-Att, L = 916: ≈ 8.7 MFLOP per token per block × 916 tokens × 2 blocks × 15 calls
  // (T = 3 rounds of n = 4 + 1).
  const ModelConfig maze = find_preset("maze-att").model;
  EXPECT_NEAR(flops_per_sample_step(maze, false) / 1e9, 8.7e6 * 916 * 2 * 15 / 1e9, 3.0);
}

TEST(Bench, FlopCountScalesWithTheRecursion) {
  ModelConfig c = find_preset("sudoku-att").model;
  const double base = flops_per_sample_step(c, false);
  c.H_cycles *= 2;  // twice the rounds: the net part doubles, the heads do not
  const double twice = flops_per_sample_step(c, false);
  EXPECT_GT(twice, 1.99 * base);
  EXPECT_LT(twice, 2.0 * base);
}

TEST(Bench, HrmFlopCount) {
  // HRM with H_cycles = 3, L_cycles = 6 and 2 + 2 layers applies 3 x (6 x 2 + 2) = 42 blocks per
  // step, exactly as many as TRM with T = 3, n = 6 and 2 layers: equal inference FLOPs.
  ModelConfig trm = find_preset("sudoku-att").model;
  ModelConfig hrm = trm;
  hrm.arch = Arch::kHrm;
  hrm.H_layers = 2;
  EXPECT_DOUBLE_EQ(flops_per_sample_step(hrm, false), flops_per_sample_step(trm, false));
  // Training: HRM adds a whole extra forward (the Q-continue target) but back-propagates through
  // only 2 net calls; TRM back-propagates through n + 1 = 7.
  const double fwd = flops_per_sample_step(trm, false);
  const double net = (flops_per_sample_step(trm, true) - fwd) / 7.0;  // per differentiated call, heads aside
  EXPECT_GT(flops_per_sample_step(hrm, true), 2 * fwd);
  EXPECT_LT(flops_per_sample_step(hrm, true), 2 * fwd + 3 * net);
  // And a preset builds with the HRM counting.
  EXPECT_GT(flops_per_sample_step(find_preset("hrm-sudoku").model, true), 0);
}

TEST(Bench, ReportHasEveryFigure) {
  BenchOptions o;
  o.preset = "tiny";
  o.model = find_preset("tiny-sudoku-mlp").model;
  o.model.seq_len = 16;
  o.model.vocab_size = 6;
  o.model.halt_max_steps = 2;
  o.batch = 2;
  o.iterations = 1;
  o.warmup = 0;
  o.measure_sgemm = false;
  for (bool training : {true, false}) {
    o.training = training;
    const auto j = run_bench(o, test_util::cpu_backend());
    for (const char* k : {"ms_per_step", "supervision_steps_per_s", "samples_per_s", "gflops", "peak_rss_mib"})
      EXPECT_GT(j.at(k).get<double>(), 0) << k;
    EXPECT_EQ(j.at("mode"), training ? "train" : "infer");
    // Inference completes halt_max_steps steps per sample; training one per optimizer step.
    const double ratio = j.at("supervision_steps_per_s").get<double>() / j.at("samples_per_s").get<double>();
    EXPECT_NEAR(ratio, training ? 1.0 : 2.0, 1e-9);
  }
  o.batch = 0;
  EXPECT_THROW(run_bench(o, test_util::cpu_backend()), Error);
}

}  // namespace trm
