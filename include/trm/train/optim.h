// Optimizers of the reference (docs/REFERENCE.md §5): AdamATan2 over the flat parameters, sparse SignSGD over
// the puzzle-embedding rows of the batch, the warmup/cosine schedule, and the EMA shadow copy.
#pragma once
#include <cstdint>

#include "trm/backend/backend.h"
#include "trm/model/config.h"
#include "trm/model/model.h"

namespace trm {

class TrmOptimizer {
 public:
  TrmOptimizer(TrmModel& model, const OptimConfig& cfg);

  // One optimizer step from the model's current gradients (grads() and the puzzle row
  // gradients of the last backward): schedule, SignSGD on the batch's puzzle rows, AdamATan2,
  // then the EMA update. Does not zero the gradients.
  void step();
  // The same with explicit puzzle-row gradients [n, ndim] and their ids (host), e.g. gathered
  // from several micro-batches or processes; rows with equal ids are summed before the sign.
  void step(const std::int32_t* puzzle_ids, const float* puzzle_row_grads, int n);

  std::int64_t step_count() const { return step_; }
  void set_step_count(std::int64_t s) { step_ = s; }
  const OptimConfig& config() const { return cfg_; }
  float* adam_m() { return m_.data(); }
  float* adam_v() { return v_.data(); }
  float* ema() { return ema_.data(); }  // same layout as the model's flat parameters
  std::int64_t state_size() const { return m_.size(); }

 private:
  TrmModel& model_;
  OptimConfig cfg_;
  std::int64_t step_ = 0;
  DeviceBuffer m_, v_, ema_;
};

}  // namespace trm
