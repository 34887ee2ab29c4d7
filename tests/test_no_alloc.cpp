// "Hot loops allocate nothing": after reserve() and one warm-up step, a training step (forward,
// loss, backward, optimizer) and an inference step make no C++ heap allocation. This binary
// replaces the global operator new to count them (activations come from the backend's arenas,
// which are allocated once by reserve()).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <vector>

#include "model_util.h"
#include "trm/train/act.h"
#include "trm/model/model.h"
#include "trm/train/optim.h"
#include "trm/model/presets.h"

#include "alloc_counter.h"

namespace trm {

static void expect_steps_allocation_free(ModelConfig cfg) {
  cfg.num_puzzle_identifiers = 5;
  auto be = make_cpu_backend();
  TrmModel model(cfg, *be);
  model.init(1);
  const int B = 3;
  model.reserve(B, true);
  OptimConfig oc;
  oc.loss_divisor = B;
  TrmOptimizer optim(model, oc);
  std::vector<std::int32_t> inputs(static_cast<std::size_t>(B) * cfg.seq_len), labels(inputs.size()), ids{0, 4, 0};
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    inputs[i] = 1 + static_cast<std::int32_t>(i % static_cast<std::size_t>(cfg.vocab_size - 1));
    labels[i] = static_cast<std::int32_t>((i * 7) % static_cast<std::size_t>(cfg.vocab_size));
  }
  const Batch batch{B, inputs.data(), labels.data(), ids.data()};
  InferenceCarry carry(model, B);  // the state buffers of every inference site
  carry.reset(B);
  LossResult loss;
  auto train_step = [&] {
    model.zero_grads();
    model.forward(batch, carry.z_H(), carry.z_L(), true);
    model.loss(batch, B, true, loss);
    model.backward();
    optim.step();
  };
  train_step();  // warm-up: vectors in LossResult and thread-local scratch grow here
  carry.forward(batch);
  g_allocations = 0;
  g_counting = true;
  train_step();
  train_step();
  carry.reset(B);
  carry.forward(batch);
  model.loss(batch, B, false, loss);
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0) << "heap allocations inside training/inference steps";
  EXPECT_TRUE(std::isfinite(loss.loss));
}

TEST(NoAlloc, MlpStepsDoNotAllocate) { expect_steps_allocation_free(test_util::tiny_sudoku_mlp_4x4()); }

TEST(NoAlloc, AttentionStepsDoNotAllocate) {
  ModelConfig c = find_preset("sudoku-att").model;
  c.hidden_size = 32;
  c.num_heads = 2;
  c.puzzle_emb_ndim = 32;
  c.puzzle_emb_len = 2;
  c.seq_len = 70;  // L = 72 > one attention query tile
  c.vocab_size = 7;
  c.H_cycles = 2;
  c.L_cycles = 2;
  expect_steps_allocation_free(c);
}

TEST(NoAlloc, TheCounterWorks) {
  g_allocations = 0;
  g_counting = true;
  auto* v = new std::vector<int>(100);
  g_counting = false;
  delete v;
  EXPECT_GE(g_allocations.load(), 1);
}

}  // namespace trm
