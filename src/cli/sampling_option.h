// --samples K --noise SIGMA --select RULE --seed N: test-time sampling (trm/infer/solver.h), the
// same options on solve, eval and predict. Checked when the command runs (trm::Error, exit 2).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "trm/infer/solver.h"

namespace trm::cli {

struct SamplingArgs {
  int samples = 1;
  float noise = 0.3f;
  std::string select = "auto";
  std::uint64_t seed = 0;
};

inline void add_sampling_options(CLI::App* cmd, SamplingArgs& a) {
  cmd->add_option("--samples", a.samples, "Trajectories per puzzle (test-time sampling); 1 = none")->capture_default_str();
  cmd->add_option("--noise", a.noise, "Std of the Gaussian noise on z_H and z_L of trajectories 2..K, every step")
      ->capture_default_str();
  cmd->add_option("--select", a.select,
                  "How the answer is picked among the samples: auto (checker where the puzzle has one, else "
                  "confidence), confidence, first-halt, checker")
      ->capture_default_str();
  cmd->add_option("--seed", a.seed, "Seed of the sampling noise")->capture_default_str();
}

// Into solver options; `has_checker`: the puzzle family has a checker (decides "auto").
inline void apply_sampling(const SamplingArgs& a, bool has_checker, infer::SolverOptions& o) {
  o.samples = a.samples;
  o.noise = a.noise;
  o.seed = a.seed;
  o.select = a.select == "auto" ? (has_checker ? infer::Select::kChecker : infer::Select::kConfidence)
                                : infer::select_from_string(a.select);
  // K, sigma and the batch here; whether the checker rule has a checker, where the data is known.
  infer::SolverOptions c = o;
  c.select = infer::Select::kConfidence;
  infer::validate(c);
}

}  // namespace trm::cli
