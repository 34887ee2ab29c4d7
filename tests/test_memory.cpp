// The memory estimate (include/trm/model/memory.h) against what the CPU backend really hands out,
// the refusal of configs that do not fit, and the config size limits (docs/RELIABILITY.md).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>

#include "backend_util.h"
#include "expect_error.h"
#include "model_util.h"
#include "temp_dir.h"
#include "trm/data/sudoku.h"
#include "trm/model/memory.h"
#include "trm/model/model.h"
#include "trm/train/optim.h"
#include "trm/train/trainer.h"

namespace trm {
namespace {

using test_util::expect_error;

// Sets TRM_MEMORY_LIMIT for one scope.
class ScopedMemoryLimit {
 public:
  explicit ScopedMemoryLimit(const char* value) { setenv("TRM_MEMORY_LIMIT", value, 1); }
  ~ScopedMemoryLimit() { unsetenv("TRM_MEMORY_LIMIT"); }
};

struct Case {
  const char* name;
  ModelConfig cfg;
};

std::vector<Case> cases() {
  ModelConfig att = test_util::tiny_model_config(11, 16, 64, 4, 1);
  att.puzzle_emb_ndim = 64;
  att.num_puzzle_identifiers = 37;
  ModelConfig mlp_t = att;
  mlp_t.mlp_t = true;
  mlp_t.pos_encodings = PosEncoding::kNone;
  ModelConfig learned = att;
  learned.pos_encodings = PosEncoding::kLearned;
  learned.L_cycles = 3;
  ModelConfig hrm = att;
  hrm.arch = Arch::kHrm;
  hrm.H_layers = 3;
  return {{"attention", att}, {"mlp_t", mlp_t}, {"learned", learned}, {"hrm", hrm}};
}

// Every allocation of construction, reserve and the optimizer equals its estimate, to the byte.
TEST(Memory, EstimatesEqualTheAllocations) {
  Backend& be = test_util::cpu_backend();
  for (const Case& c : cases()) {
    for (bool training : {false, true}) {
      const std::int64_t before = be.memory_in_use();
      {
        TrmModel model(c.cfg, be);
        const std::int64_t built = be.memory_in_use() - before;
        EXPECT_EQ(built, 4 * TrmModel::construction_floats(c.cfg, false)) << c.name;
        const std::int64_t B = 5;
        model.reserve(B, training);
        EXPECT_EQ(be.memory_in_use() - before - built, 4 * TrmModel::reserve_floats(c.cfg, be, B, training))
            << c.name << " training=" << training;
        TrmModel shared(c.cfg, be, &model);
        EXPECT_EQ(be.memory_in_use() - before - built - 4 * TrmModel::reserve_floats(c.cfg, be, B, training),
                  4 * TrmModel::construction_floats(c.cfg, true))
            << c.name << ": a model sharing the puzzle table allocates none";
        if (training) {
          const std::int64_t pre_opt = be.memory_in_use();
          TrmOptimizer opt(model, OptimConfig{});
          const MemoryEstimate m = estimate_training_memory(c.cfg, be, 8, B, 4);
          EXPECT_EQ(be.memory_in_use() - pre_opt, m.optimizer) << c.name;
        }
      }
      EXPECT_EQ(be.memory_in_use(), before) << c.name << ": everything is released";
    }
  }
}

// The inference estimate is the model, its reserve and the carry; the training one adds the
// EMA evaluation model, the optimizer and the puzzle-row gradients, and both add up.
TEST(Memory, EstimatesAddUp) {
  Backend& be = test_util::cpu_backend();
  const ModelConfig cfg = cases()[0].cfg;
  const MemoryEstimate inf = estimate_inference_memory(cfg, be, 7);
  EXPECT_EQ(inf.puzzle_table, 4LL * 37 * 64);
  EXPECT_EQ(inf.weights + inf.puzzle_table, 4 * TrmModel::construction_floats(cfg, false));
  EXPECT_EQ(inf.activations, 4 * TrmModel::reserve_floats(cfg, be, 7, false) + 2LL * 4 * 7 * cfg.total_len() * cfg.hidden_size);
  EXPECT_EQ(inf.optimizer, 0);
  const MemoryEstimate tr = estimate_training_memory(cfg, be, 16, 8, 7);
  EXPECT_GT(tr.weights, inf.weights);  // two models' weights, one table
  EXPECT_EQ(tr.puzzle_table, inf.puzzle_table);
  EXPECT_GT(tr.optimizer, 0);
  EXPECT_EQ(tr.total(), tr.weights + tr.puzzle_table + tr.activations + tr.optimizer);
  EXPECT_NE(tr.describe().find("GiB"), std::string::npos);
}

TEST(Memory, RefusesWhatDoesNotFit) {
  Backend& be = test_util::cpu_backend();
  const ModelConfig big = cases()[0].cfg;
  {
    ScopedMemoryLimit limit("64K");
    EXPECT_EQ(memory_available(be), 64 * 1024);
    expect_error([&] { TrmModel m(big, be); }, {"needs", "GiB of memory", "available"});
  }
  {
    // Room for the model but not for a large batch's activations.
    const std::int64_t model_bytes = 4 * TrmModel::construction_floats(big, false);
    const std::string lim = std::to_string(model_bytes + 4 * TrmModel::reserve_floats(big, be, 4, true));
    ScopedMemoryLimit limit(lim.c_str());
    TrmModel m(big, be);
    m.reserve(4, true);  // fits
    expect_error([&] { m.reserve(4096, true); }, {"activations of batch 4096", "needs"});
  }
  {
    ScopedMemoryLimit limit("lots");
    expect_error([&] { memory_available(be); }, {"TRM_MEMORY_LIMIT", "lots"});
  }
  // Without the variable: the machine's own memory. A config at the size limits needs terabytes.
  ModelConfig huge = big;
  huge.hidden_size = ConfigLimits::kMaxHidden;
  huge.num_heads = 128;
  huge.L_layers = ConfigLimits::kMaxLayers;
  huge.expansion = ConfigLimits::kMaxExpansion;
  EXPECT_GT(memory_available(be), 0);
  expect_error([&] { TrmModel m(huge, be); }, {"needs", "available on cpu"});
}

TEST(Memory, RefusesBatchesBeyondKernelIndexing) {
  Backend& be = test_util::cpu_backend();
  ModelConfig cfg = cases()[0].cfg;
  cfg.hidden_size = 4096;
  cfg.num_heads = 32;
  expect_error([&] { TrmModel::check_batch(cfg, 1 << 20); }, {"batch size 1048576", "2^31-1"});
  expect_error([&] { TrmModel::check_batch(cfg, 0); }, {"batch size must be >= 1"});
  EXPECT_NO_THROW(TrmModel::check_batch(cfg, 64));
  expect_error([&] { estimate_inference_memory(cfg, be, 1 << 20); }, {"too large"});
}

// The trainer checks the whole run before it allocates anything and says what it needs.
TEST(Memory, TrainingRefusesUpFrontWithTheBreakdown) {
  test_util::TempDir data, out;
  data::SudokuGenerateOptions g;
  g.puzzle.n = 4;
  g.num_train = 20;
  g.num_test = 5;
  data::generate_sudoku_dataset(data.str(), g);
  TrainOptions o;
  o.data_dir = data.str();
  o.out_dir = out.str() + "/run";
  o.model = test_util::tiny_sudoku_mlp_4x4();
  o.global_batch = 8;
  o.max_steps = 1;
  o.progress = false;
  ScopedMemoryLimit limit("1M");
  expect_error([&] { train(o, test_util::cpu_backend()); },
               {"training this model with batch 8", "weights", "puzzle table", "activations", "optimizer", "available"});
  EXPECT_FALSE(std::filesystem::exists(o.out_dir)) << "a run that cannot fit writes nothing";
}

// The limits, each refused with its range (docs/RELIABILITY.md).
TEST(ConfigLimits, RefusesAbsurdSizes) {
  const ModelConfig ok = cases()[0].cfg;
  EXPECT_NO_THROW(ok.validate());
  auto refused = [&](auto mutate, const char* needle) {
    ModelConfig c = ok;
    mutate(c);
    expect_error([&] { c.validate(); }, {needle});
  };
  refused([](ModelConfig& c) { c.hidden_size = 1 << 20; }, "hidden_size must be in [2, 16384]");
  refused([](ModelConfig& c) { c.expansion = 1e9; }, "expansion must be in (0, 64]");
  refused([](ModelConfig& c) { c.num_puzzle_identifiers = 2000000000; }, "num_puzzle_identifiers must be in [1, 67108864]");
  refused([](ModelConfig& c) { c.L_cycles = 100000; }, "L_cycles must be in [1, 256]");
  refused([](ModelConfig& c) { c.H_cycles = 0; }, "H_cycles must be in [1, 256]");
  refused([](ModelConfig& c) { c.halt_max_steps = 1000000000; }, "halt_max_steps must be in [1, 1024]");
  refused([](ModelConfig& c) { c.vocab_size = 1 << 20; }, "vocab_size must be in [2, 65536]");
  refused([](ModelConfig& c) { c.seq_len = -3; }, "seq_len must be in [1, 65536]");
  refused([](ModelConfig& c) { c.L_layers = 1000; }, "L_layers must be in [1, 64]");
  refused([](ModelConfig& c) { c.rope_theta = std::numeric_limits<double>::infinity(); }, "rope_theta must be finite");
  refused([](ModelConfig& c) { c.rms_norm_eps = std::nan(""); }, "rms_norm_eps must be finite");
  refused([](ModelConfig& c) { c.arch = Arch::kHrm; c.H_layers = 0; }, "H_layers must be in [1, 64]");
  refused([](ModelConfig& c) { c.puzzle_emb_len = 0; c.puzzle_emb_ndim = 16384; c.hidden_size = 8; c.num_heads = 2; },
          "puzzle prefix");
  // The largest config inside the limits still computes its sizes without overflow.
  ModelConfig edge = ok;
  edge.hidden_size = ConfigLimits::kMaxHidden;
  edge.num_heads = 128;
  edge.L_layers = edge.H_layers = ConfigLimits::kMaxLayers;
  edge.arch = Arch::kHrm;
  edge.expansion = ConfigLimits::kMaxExpansion;
  edge.seq_len = ConfigLimits::kMaxSeqLen;
  EXPECT_NO_THROW(edge.validate());
  EXPECT_GT(edge.parameter_count(), 0);
  EXPECT_GT(TrmModel::construction_floats(edge, false), edge.parameter_count());
}

TEST(ConfigLimits, OptimizerRefusesNegativeOrNonFinite) {
  auto refused = [](auto mutate, const char* needle) {
    OptimConfig c;
    mutate(c);
    expect_error([&] { c.validate(); }, {needle});
  };
  refused([](OptimConfig& c) { c.weight_decay = -1000; }, "weight_decay must be finite and >= 0 (got -1000");
  refused([](OptimConfig& c) { c.puzzle_emb_weight_decay = -1; }, "puzzle_emb_weight_decay");
  refused([](OptimConfig& c) { c.lr = std::numeric_limits<double>::infinity(); }, "lr must be finite");
  refused([](OptimConfig& c) { c.puzzle_emb_lr = std::nan(""); }, "puzzle_emb_lr must be finite");
  refused([](OptimConfig& c) { c.total_steps = 0; }, "total_steps must be >= 1");
  EXPECT_NO_THROW(OptimConfig{}.validate());
}

}  // namespace
}  // namespace trm
