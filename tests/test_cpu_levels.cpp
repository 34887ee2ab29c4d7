// The CPU kernels compiled per x86 level (portable builds, include/trm/backend/cpu_info.h): every
// level this CPU runs computes what the base level computes, for an attention and an MLP-t model
// through forward, loss and backward; the choice and its errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "expect_error.h"
#include "model_util.h"
#include "trm/backend/cpu_info.h"
#include "trm/model/model.h"

namespace trm {
namespace {

using test_util::to_host;

struct StepOutputs {
  std::vector<float> logits, q, grads;
};

StepOutputs run_step(Backend& be, const ModelConfig& cfg) {
  TrmModel m(cfg, be);
  m.init(11);
  const int B = 3;
  m.reserve(B, true);
  std::vector<std::int32_t> tokens(static_cast<std::size_t>(B) * cfg.seq_len), labels(tokens.size()), ids(B, 0);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = static_cast<std::int32_t>(1 + (i * 7) % (cfg.vocab_size - 1));
    labels[i] = static_cast<std::int32_t>(1 + (i * 5) % (cfg.vocab_size - 1));
  }
  const Batch batch{B, tokens.data(), labels.data(), ids.data()};
  const std::int64_t state = static_cast<std::int64_t>(B) * cfg.total_len() * cfg.hidden_size;
  DeviceBuffer zH(be, state), zL(be, state);
  m.reset_carry(zH.data(), zL.data(), B);
  LossResult r;
  m.zero_grads();
  m.train_step(batch, zH.data(), zL.data(), nullptr, B, r);
  return {to_host(be, m.logits(), static_cast<std::int64_t>(B) * cfg.seq_len * cfg.vocab_size), to_host(be, m.q(), 2 * B),
          to_host(be, m.grads(), m.flat_size())};
}

// Largest |a - b| relative to the largest |b| (the levels differ by FMA contraction and vector
// width, i.e. rounding, not by what they compute).
double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 1e-30;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, static_cast<double>(std::fabs(a[i] - b[i])));
    den = std::max(den, static_cast<double>(std::fabs(b[i])));
  }
  return num / den;
}

TEST(CpuLevels, BaseIsAlwaysBuiltAndSupported) {
  const auto levels = cpu_kernel_levels();
  ASSERT_FALSE(levels.empty());
  EXPECT_EQ(levels.front().name, "base");
  EXPECT_TRUE(levels.front().supported);
  const std::string chosen = chosen_cpu_kernel_level();
  EXPECT_TRUE(std::any_of(levels.begin(), levels.end(), [&](const CpuKernelLevel& l) { return l.name == chosen && l.supported; }));
}

TEST(CpuLevels, EveryLevelThisCpuRunsMatchesBase) {
  for (const bool mlp_t : {false, true}) {
    ModelConfig cfg = test_util::tiny_model_config(7, 12, 32, 4, 2);
    cfg.mlp_t = mlp_t;
    if (mlp_t) cfg.pos_encodings = PosEncoding::kNone;
    cfg.H_cycles = 2;
    cfg.L_cycles = 2;
    auto base_be = make_cpu_backend_at_level("base");
    const StepOutputs base = run_step(*base_be, cfg);
    int compared = 0;
    for (const CpuKernelLevel& l : cpu_kernel_levels()) {
      if (!l.supported || l.name == "base") continue;
      auto be = make_cpu_backend_at_level(l.name);
      const StepOutputs got = run_step(*be, cfg);
      EXPECT_LT(rel_diff(got.logits, base.logits), 1e-4) << l.name << (mlp_t ? " mlp_t" : " attention");
      EXPECT_LT(rel_diff(got.q, base.q), 1e-4) << l.name;
      EXPECT_LT(rel_diff(got.grads, base.grads), 1e-3) << l.name;
      ++compared;
    }
    // On a native build, or a CPU without AVX2, there is nothing to compare; say so in the log.
    if (compared == 0) std::printf("only the base level runs here (native build or an older CPU)\n");
  }
}

TEST(CpuLevels, UnknownOrUnsupportedLevelIsAnError) {
  test_util::expect_error([] { make_cpu_backend_at_level("x86_64_v9"); }, {"x86_64_v9", "not part of this build", "base"});
}

}  // namespace
}  // namespace trm
