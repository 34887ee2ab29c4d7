// The benchmark's analytic FLOP count and its report (the timings themselves are not tested).
#include <gtest/gtest.h>

#include "trm/bench.h"
#include "trm/presets.h"

namespace trm {

TEST(Bench, FlopCountMatchesTheSpecEstimates) {
  // Spec §9: Sudoku TRM-MLP forward ≈ 25.6 GFLOP per sample-step, training adds ≈ 17 GFLOP.
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
    const auto j = run_bench(o);
    for (const char* k : {"ms_per_step", "supervision_steps_per_s", "samples_per_s", "gflops", "peak_rss_mib"})
      EXPECT_GT(j.at(k).get<double>(), 0) << k;
    EXPECT_EQ(j.at("mode"), training ? "train" : "infer");
    // Inference completes halt_max_steps steps per sample; training one per optimizer step.
    const double ratio = j.at("supervision_steps_per_s").get<double>() / j.at("samples_per_s").get<double>();
    EXPECT_NEAR(ratio, training ? 1.0 : 2.0, 1e-9);
  }
  o.batch = 0;
  EXPECT_THROW(run_bench(o), Error);
}

}  // namespace trm
