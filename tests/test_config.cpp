// Configs: the paper's parameter counts, derived sizes, validation messages, the lr schedule,
// JSON round trips and key=value overrides.
#include <gtest/gtest.h>

#include "trm/bench/bench.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "trm/backend/backend.h"
#include "trm/model/model.h"
#include "trm/model/presets.h"

namespace trm {
namespace {

// docs/REFERENCE.md §2.10 / §8.1: counts computed from the reference's shapes, matching the paper's 5M / 7M.
TEST(Config, PaperParameterCounts) {
  EXPECT_EQ(find_preset("sudoku-mlp").model.parameter_count(), 5028866);
  EXPECT_EQ(find_preset("sudoku-att").model.parameter_count(), 6828034);
  EXPECT_EQ(find_preset("maze-att").model.parameter_count(), 6822914);
  EXPECT_EQ(find_preset("arc1-att").model.parameter_count(), 6829058);
  EXPECT_EQ(find_preset("arc2-att").model.parameter_count(), 6829058);
  // The 19M MLP-t variants of Maze / ARC.
  ModelConfig maze_mlp = find_preset("maze-att").model;
  maze_mlp.mlp_t = true;
  maze_mlp.pos_encodings = PosEncoding::kNone;
  EXPECT_EQ(maze_mlp.parameter_count(), 18795522);
}

// The model's actual parameter table agrees with the analytic count, for every preset.
TEST(Config, ModelTableMatchesCount) {
  auto be = make_cpu_backend();
  for (const auto& p : presets()) {
    TrmModel m(p.model, *be);
    EXPECT_EQ(m.num_params(), p.model.parameter_count()) << p.name;
  }
}

// The CPU-sized presets (docs/RESULTS.md §9): each family has one, far cheaper per sample than the
// paper's preset of the same family, with a warmup a short run leaves behind.
TEST(Config, CpuPresetsAreSizedForACpu) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"cpu-sudoku", "sudoku-mlp"}, {"cpu-maze", "maze-att"}, {"cpu-arc", "arc1-att"}, {"tiny-maze", "maze-att"},
      {"tiny-grid", "sudoku-mlp"}};
  for (const auto& [cpu, paper] : pairs) {
    const Preset& c = find_preset(cpu);
    const Preset& p = find_preset(paper);
    c.model.validate();
    EXPECT_LT(c.model.parameter_count(), 300000) << cpu;
    EXPECT_LT(flops_per_sample_step(c.model, true) * 20, flops_per_sample_step(p.model, true)) << cpu;
    EXPECT_LE(c.optim.lr_warmup_steps, 100) << cpu;
  }
}

TEST(Config, SwigluInterRoundsUpTo256) {
  EXPECT_EQ(swiglu_inter(4.0, 512), 1536);  // 1365.3 -> 1536
  EXPECT_EQ(swiglu_inter(4.0, 97), 512);    // 258.7 -> 512
  EXPECT_EQ(swiglu_inter(4.0, 916), 2560);  // 2442.7 -> 2560
  const ModelConfig c = find_preset("sudoku-mlp").model;
  EXPECT_EQ(c.total_len(), 97);
  EXPECT_EQ(c.mlp_t_inter(), 512);
}

TEST(Config, PrefixLenZeroMeansCeilNdimOverHidden) {
  ModelConfig c;
  c.puzzle_emb_len = 0;
  c.puzzle_emb_ndim = 512;
  EXPECT_EQ(c.prefix_len(), 1);
  c.puzzle_emb_ndim = 700;
  EXPECT_EQ(c.prefix_len(), 2);
  c.puzzle_emb_ndim = 0;
  EXPECT_EQ(c.prefix_len(), 0);
}

void expect_error_mentions(const ModelConfig& c, const std::string& needle) {
  try {
    c.validate();
    ADD_FAILURE() << "config was accepted, expected an error mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Config, BadConfigsGiveClearErrors) {
  ModelConfig c;
  c.num_heads = 7;
  expect_error_mentions(c, "not divisible by num_heads");
  c = ModelConfig{};
  c.puzzle_emb_ndim = 512 * 17;
  expect_error_mentions(c, "puzzle_emb_ndim");
  c = ModelConfig{};
  c.seq_len = 0;
  expect_error_mentions(c, "seq_len");
  c = ModelConfig{};
  c.mlp_t = true;  // with the default rope
  expect_error_mentions(c, "rope");
  c = ModelConfig{};
  c.H_cycles = 0;
  expect_error_mentions(c, "H_cycles");
  // The model constructor validates too, so a bad config never reaches the kernels.
  c = ModelConfig{};
  c.hidden_size = 30;
  c.num_heads = 4;
  auto be = make_cpu_backend();
  EXPECT_THROW(TrmModel(c, *be), Error);
}

TEST(Config, ScheduleWarmupThenConstantOrCosine) {
  // Reference: s counted from 1; lr = base*s/W during warmup; constant after when min_ratio = 1.
  EXPECT_DOUBLE_EQ(lr_schedule(1, 1e-4, 2000, 65104, 1.0), 1e-4 / 2000);
  EXPECT_DOUBLE_EQ(lr_schedule(1000, 1e-4, 2000, 65104, 1.0), 0.5e-4);
  EXPECT_DOUBLE_EQ(lr_schedule(2000, 1e-4, 2000, 65104, 1.0), 1e-4);
  EXPECT_DOUBLE_EQ(lr_schedule(60000, 1e-4, 2000, 65104, 1.0), 1e-4);
  // Cosine down to min_ratio when it is < 1: halfway through the decay is the midpoint.
  EXPECT_NEAR(lr_schedule(100 + 450, 1.0, 100, 1000, 0.1), 0.1 + 0.9 * 0.5, 1e-12);
  EXPECT_NEAR(lr_schedule(1000, 1.0, 100, 1000, 0.1), 0.1, 1e-12);
  // Like the reference, progress is not clamped past total_steps (training stops there).
}

TEST(Config, JsonRoundTripAndUnknownKeys) {
  ModelConfig c = find_preset("maze-att").model;
  c.halt_exploration_prob = 0.25;
  const nlohmann::json j = c;
  const ModelConfig back = j.get<ModelConfig>();
  EXPECT_EQ(nlohmann::json(back), j);
  nlohmann::json bad = j;
  bad["hiden_size"] = 3;
  EXPECT_THROW(bad.get<ModelConfig>(), Error);
  bad = j;
  bad["hidden_size"] = "big";
  EXPECT_THROW(bad.get<ModelConfig>(), Error);
  bad = j;
  bad["pos_encodings"] = "alibi";
  EXPECT_THROW(bad.get<ModelConfig>(), Error);
}

TEST(Config, Overrides) {
  ModelConfig m = find_preset("sudoku-att").model;
  OptimConfig o = find_preset("sudoku-att").optim;
  apply_override(m, o, "L_cycles=4");
  apply_override(m, o, "lr=0.001");
  apply_override(m, o, "pos_encodings=none");
  apply_override(m, o, "mlp_t=true");
  EXPECT_EQ(m.L_cycles, 4);
  EXPECT_DOUBLE_EQ(o.lr, 0.001);
  EXPECT_TRUE(m.mlp_t);
  EXPECT_EQ(m.pos_encodings, PosEncoding::kNone);
  EXPECT_THROW(apply_override(m, o, "nonsense=1"), Error);
  EXPECT_THROW(apply_override(m, o, "L_cycles"), Error);
  EXPECT_THROW(apply_override(m, o, "L_cycles=abc"), Error);
  EXPECT_THROW(find_preset("sudoku"), Error);
}

}  // namespace
}  // namespace trm
