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

#include "model_util.h"
#include "trm/backend/backend.h"
#include "backend_util.h"
#include "trm/model/model.h"
#include "trm/train/optim.h"
#include "trm/io/safetensors.h"

namespace trm::test_util {

// The TRM and HRM parity suites' tolerances. The reference computes in float64 and we compute in
// float32, so these bound our fp32 error, as max|ours - ref| / max|ref| per tensor.
// Forward outputs, carry and gradients: the target.
inline constexpr double kTol = 1e-4;
// Losses: relative to the reference's value.
inline constexpr double kLossTol = 1e-6;
// Parameters and EMA after three optimizer steps: AdamATan2 normalizes every gradient entry, so
// the fp32 noise of near-zero gradient entries becomes a visible share of their update (measured
// up to 4.4e-5 on the MLP-t fixture).
inline constexpr double kStepTol = 1e-4;

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

// One fixture loaded and ready for a differentiated step: its configs, a model with its weights,
// its batch and its incoming carry. The TRM and HRM parity suites derive their test fixtures
// from it.
struct FixtureCase {
  // Loads fixture `name` (tests/fixtures/<name>.safetensors); throws trm::Error on a bad file.
  void open(const std::string& name) {
    name_ = name;
    file_ = std::make_unique<SafeTensorsFile>(SafeTensorsFile::read(fixture_path(name)));
    fixture_configs(*file_, mcfg_, ocfg_);
    be_ = make_backend(test_backend_name());
    model_ = std::make_unique<TrmModel>(mcfg_, *be_);
    load_weights(*file_, *model_);
    B_ = static_cast<int>(file_->entry("batch.inputs").shape[0]);
    inputs_ = file_->ints("batch.inputs", {B_, mcfg_.seq_len});
    labels_ = file_->ints("batch.labels", {B_, mcfg_.seq_len});
    ids_ = file_->ints("batch.puzzle_identifiers", {B_});
    model_->reserve(B_, true);
    zH_ = load_state("carry.z_H");
    zL_ = load_state("carry.z_L");
  }

  // A [B, L, D] state tensor of the fixture, in backend memory.
  DeviceBuffer load_state(const std::string& tensor) {
    const auto v = file_->floats(tensor, {B_, mcfg_.total_len(), mcfg_.hidden_size});
    DeviceBuffer d(*be_, static_cast<std::int64_t>(v.size()));
    be_->from_host(v.data(), d.data(), d.size());
    return d;
  }

  Batch batch() const { return Batch{B_, inputs_.data(), labels_.data(), ids_.data()}; }

  void expect_close(const std::string& what, const std::vector<float>& ours, const std::string& ref_name,
                    double tol) const {
    expect_close_to_fixture(*file_, name_, what, ours, ref_name, tol);
  }

  // After forward(with_grad) from the fixture's carry: logits, both q logits and the new carry.
  void expect_forward_outputs(double tol) {
    model_->forward(batch(), zH_.data(), zL_.data(), true);
    const int S = mcfg_.seq_len, V = mcfg_.vocab_size;
    expect_close("logits", to_host(*be_, model_->logits(), static_cast<std::int64_t>(B_) * S * V), "out.logits", tol);
    const auto q = to_host(*be_, model_->q(), B_ * 2);
    std::vector<float> q_halt(static_cast<std::size_t>(B_)), q_cont(static_cast<std::size_t>(B_));
    for (int b = 0; b < B_; ++b) q_halt[b] = q[2 * b], q_cont[b] = q[2 * b + 1];
    expect_close("q_halt", q_halt, "out.q_halt", tol);
    expect_close("q_continue", q_cont, "out.q_continue", tol);
    expect_close("new carry z_H", to_host(*be_, zH_.data(), zH_.size()), "out.z_H", tol);
    expect_close("new carry z_L", to_host(*be_, zL_.data(), zL_.size()), "out.z_L", tol);
  }

  std::string name_;
  std::unique_ptr<SafeTensorsFile> file_;
  ModelConfig mcfg_;
  OptimConfig ocfg_;
  std::unique_ptr<Backend> be_;
  std::unique_ptr<TrmModel> model_;
  int B_ = 0;
  std::vector<std::int32_t> inputs_, labels_, ids_;
  DeviceBuffer zH_, zL_;
};

}  // namespace trm::test_util
