// Loading the PyTorch reference's fixtures (reference/make_fixtures.py) into a TrmModel, and
// the error measure the parity tests use.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "trm/backend.h"
#include "trm/model.h"
#include "trm/optim.h"
#include "trm/safetensors.h"

namespace trm::testing {

inline std::string fixture_path(const std::string& name) {
  return std::string(TRM_FIXTURE_DIR) + "/" + name + ".safetensors";
}

// The fixture stores one flat config; split it into the model's and the optimizer's keys.
inline void fixture_configs(const SafeTensorsFile& f, ModelConfig& m, OptimConfig& o) {
  const auto all = nlohmann::json::parse(f.metadata().at("config"));
  nlohmann::json mj = nlohmann::json::object(), oj = nlohmann::json::object();
  const nlohmann::json optim_keys = OptimConfig{};
  for (auto it = all.begin(); it != all.end(); ++it) (optim_keys.contains(it.key()) ? oj : mj)[it.key()] = *it;
  m = mj.get<ModelConfig>();
  o = oj.get<OptimConfig>();
}

// Copies the fixture's weights, puzzle table and initial states into the model.
inline void load_weights(const SafeTensorsFile& f, TrmModel& model, const std::string& prefix = "") {
  Backend& be = model.backend();
  for (const auto& p : model.param_table()) {
    const auto v = f.floats(prefix + p.name, p.shape);
    be.from_host(v.data(), model.params() + p.offset, p.numel);
  }
  const auto& c = model.config();
  const auto puz = f.floats(prefix + "puzzle_emb.weights", {c.num_puzzle_identifiers, c.puzzle_emb_ndim});
  be.from_host(puz.data(), model.puzzle_table(), static_cast<std::int64_t>(puz.size()));
  const auto h = f.floats("H_init", {c.hidden_size}), l = f.floats("L_init", {c.hidden_size});
  be.from_host(h.data(), model.H_init(), c.hidden_size);
  be.from_host(l.data(), model.L_init(), c.hidden_size);
}

// max |a - b| / max |b|: the error relative to the tensor's scale (elementwise relative error is
// meaningless for entries that are exactly or nearly zero, e.g. unused q_continue weights).
inline double max_rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 1e-30;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::abs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::abs(static_cast<double>(b[i])));
  }
  return num / den;
}

inline std::vector<float> to_host(Backend& be, const float* p, std::int64_t n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  be.to_host(p, v.data(), n);
  return v;
}

// One tensor against the fixture's: prints the error (tagged with the fixture's name) and
// expects max_rel_err <= tol.
inline void expect_close_to_fixture(const SafeTensorsFile& f, const std::string& tag, const std::string& what,
                                    const std::vector<float>& ours, const std::string& ref_name, double tol) {
  const auto ref = f.floats(ref_name);
  ASSERT_EQ(ours.size(), ref.size()) << what;
  const double err = max_rel_err(ours, ref);
  std::printf("  [%s] %-55s max rel err %.2e\n", tag.c_str(), what.c_str(), err);
  EXPECT_LE(err, tol) << what << " differs from the reference (" << ref_name << ")";
}

// After the fixture's optimizer steps: every parameter, its EMA and the puzzle table against the
// fixture's "step3.*" tensors.
inline void expect_state_after_three_steps(const SafeTensorsFile& f, const std::string& tag, TrmModel& model,
                                           TrmOptimizer& opt, double tol) {
  Backend& be = model.backend();
  for (const auto& p : model.param_table()) {
    expect_close_to_fixture(f, tag, "step3 " + p.name, to_host(be, model.params() + p.offset, p.numel), "step3." + p.name, tol);
    expect_close_to_fixture(f, tag, "step3 ema " + p.name, to_host(be, opt.ema() + p.offset, p.numel),
                            "step3.ema." + p.name, tol);
  }
  expect_close_to_fixture(f, tag, "step3 puzzle table", to_host(be, model.puzzle_table(), model.puzzle_table_size()),
                          "step3.puzzle_emb.weights", tol);
}

}  // namespace trm::testing
