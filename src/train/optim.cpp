#include "trm/train/optim.h"

#include "trm/model/memory.h"

namespace trm {

TrmOptimizer::TrmOptimizer(TrmModel& model, const OptimConfig& cfg) : model_(model), cfg_(cfg) {
  cfg_.validate();
  Backend& be = model.backend();
  const std::int64_t n = model.flat_size();
  require_memory(be, 3 * n * static_cast<std::int64_t>(sizeof(float)), "the optimizer state (AdamATan2 moments and EMA)");
  m_ = DeviceBuffer(be, n);
  v_ = DeviceBuffer(be, n);
  ema_ = DeviceBuffer(be, n);
  be.copy(model.params(), ema_.data(), n);  // the shadow starts at the initial weights
}

void TrmOptimizer::step() {
  const auto& ids = model_.puzzle_row_ids();
  step(ids.data(), model_.puzzle_row_grads(), static_cast<int>(ids.size()));
}

void TrmOptimizer::step(const std::int32_t* puzzle_ids, const float* puzzle_row_grads, int n) {
  ++step_;  // counted from 1, incremented before use (so the first step uses base / warmup)
  Backend& be = model_.backend();
  const double lr = lr_schedule(step_, cfg_.lr, cfg_.lr_warmup_steps, cfg_.total_steps, cfg_.lr_min_ratio);
  const double lr_e = lr_schedule(step_, cfg_.puzzle_emb_lr, cfg_.lr_warmup_steps, cfg_.total_steps, cfg_.lr_min_ratio);
  const ModelConfig& mc = model_.config();
  if (mc.puzzle_emb_ndim > 0 && n > 0)
    be.sparse_signsgd(model_.puzzle_table(), puzzle_ids, puzzle_row_grads, n, mc.puzzle_emb_ndim, static_cast<float>(lr_e), static_cast<float>(cfg_.puzzle_emb_weight_decay));
  // Every tensor shares one step count, so the flat buffer takes one update (the alignment
  // padding between tensors stays zero: zero gradient, zero weight).
  be.adam_atan2(model_.params(), model_.grads(), m_.data(), v_.data(), m_.size(), static_cast<float>(lr),
                static_cast<float>(cfg_.weight_decay), static_cast<float>(cfg_.beta1), static_cast<float>(cfg_.beta2),
                static_cast<float>(step_));
  be.ema(ema_.data(), model_.params(), ema_.size(), static_cast<float>(cfg_.ema_rate));
  be.weights_changed();  // bf16 packs of the old weights are stale (docs/PRECISION.md)
}

}  // namespace trm
