#include "trm/train/act.h"

#include <algorithm>
#include <cmath>

#include "trm/data/dataset.h"
#include "trm/data/rng.h"

namespace trm {

namespace {
std::int64_t carry_floats(const ModelConfig& c, int batch) {
  return static_cast<std::int64_t>(batch) * c.total_len() * c.hidden_size;
}
}  // namespace

InferenceCarry::InferenceCarry(TrmModel& model, int max_batch)
    : model_(model),
      max_batch_(max_batch),
      zH_(model.backend(), carry_floats(model.config(), max_batch)),
      zL_(model.backend(), carry_floats(model.config(), max_batch)) {
  if (max_batch < 1) throw Error("InferenceCarry: max_batch must be >= 1, got " + std::to_string(max_batch));
}

void InferenceCarry::reset(int n) {
  // A row past max_batch would be written outside the buffers: refuse it here, where the size is
  // known, rather than corrupt the backend's memory.
  if (n < 0 || n > max_batch_)
    throw Error("InferenceCarry::reset: " + std::to_string(n) + " rows, the carry holds " + std::to_string(max_batch_));
  model_.reset_carry(zH_.data(), zL_.data(), n);
}

void InferenceCarry::forward(const Batch& batch) {
  if (batch.size > max_batch_)
    throw Error("InferenceCarry::forward: batch of " + std::to_string(batch.size) + ", the carry holds " +
                std::to_string(max_batch_));
  model_.forward(batch, zH_.data(), zL_.data(), false);
}

ActCarry::ActCarry(TrmModel& model, int batch)
    : model_(model),
      batch_(batch),
      S_(model.config().seq_len),
      per_slot_(carry_floats(model.config(), 1)),
      state_(model.backend(), 2 * batch * per_slot_),
      inputs_(static_cast<std::size_t>(batch) * S_, 0),
      labels_(inputs_.size(), data::kIgnoreLabel),
      ids_(static_cast<std::size_t>(batch), 0),
      steps_(static_cast<std::size_t>(batch), 0),
      halted_(static_cast<std::size_t>(batch), 1) {}

float* ActCarry::z_H(int begin) { return state_.data() + begin * per_slot_; }
float* ActCarry::z_L(int begin) { return state_.data() + (batch_ + begin) * per_slot_; }
const float* ActCarry::z_H(int begin) const { return state_.data() + begin * per_slot_; }
const float* ActCarry::z_L(int begin) const { return state_.data() + (batch_ + begin) * per_slot_; }

void ActCarry::refill(const Batch& fresh) {
  if (fresh.size != batch_) throw Error("ActCarry::refill: batch of " + std::to_string(fresh.size) + ", carry has " + std::to_string(batch_));
  const int D = model_.config().hidden_size, L = model_.config().total_len();
  // The halted slots restart from H_init / L_init: one masked broadcast per state, taken before
  // the flags are cleared.
  Backend& be = model_.backend();
  be.broadcast_rows(model_.H_init(), z_H(), halted_.data(), batch_, L, D);
  be.broadcast_rows(model_.L_init(), z_L(), halted_.data(), batch_, L, D);
  for (int b = 0; b < batch_; ++b) {
    if (!halted_[b]) continue;
    std::copy_n(fresh.inputs + static_cast<std::ptrdiff_t>(b) * S_, S_, inputs_.begin() + static_cast<std::ptrdiff_t>(b) * S_);
    std::copy_n(fresh.labels + static_cast<std::ptrdiff_t>(b) * S_, S_, labels_.begin() + static_cast<std::ptrdiff_t>(b) * S_);
    ids_[b] = fresh.puzzle_ids ? fresh.puzzle_ids[b] : 0;
    steps_[b] = 0;
    halted_[b] = 0;
  }
}

Batch ActCarry::slots(int begin, int count) const {
  return Batch{count, inputs_.data() + static_cast<std::ptrdiff_t>(begin) * S_,
               labels_.data() + static_cast<std::ptrdiff_t>(begin) * S_, ids_.data() + begin};
}

void ActCarry::update_halting(const float* q, bool training, data::Rng& rng, int rows_before, int rows_after) {
  const ModelConfig& c = model_.config();
  const int max_steps = c.halt_max_steps;
  // The draws of rows held by other ranks, in the order a single process makes them.
  auto skip_rows = [&](int n) {
    if (!training || max_steps <= 1) return;
    for (int i = 0; i < n; ++i) {
      (void)rng.uniform();
      (void)rng.below(static_cast<std::uint64_t>(max_steps - 1));
    }
  };
  skip_rows(rows_before);
  for (int b = 0; b < batch_; ++b) {
    steps_[b] += 1;
    bool halt = steps_[b] >= max_steps;
    if (training && max_steps > 1) {
      halt = halt || halt_signal(c, q + 2 * b);
      // Exploration: with probability p this slot must run at least U{2..max} steps. Both draws
      // happen for every slot at every call (as the reference's rand/randint over the batch).
      const bool explore = rng.uniform() < c.halt_exploration_prob;
      const int min_halt = static_cast<int>(2 + rng.below(static_cast<std::uint64_t>(max_steps - 1)));
      if (explore && steps_[b] < min_halt) halt = false;
    }
    halted_[b] = halt;
  }
  skip_rows(rows_after);
}

void ActCarry::copy_rows_from(const ActCarry& src, int begin) {
  if (begin < 0 || begin + batch_ > src.batch_ || src.per_slot_ != per_slot_ || src.S_ != S_)
    throw Error("ActCarry::copy_rows_from: rows [" + std::to_string(begin) + ", " + std::to_string(begin + batch_) +
                ") of a carry of " + std::to_string(src.batch_));
  Backend& be = model_.backend();
  be.copy(src.z_H(begin), z_H(), batch_ * per_slot_);
  be.copy(src.z_L(begin), z_L(), batch_ * per_slot_);
  const std::ptrdiff_t b0 = begin, n = batch_;
  std::copy_n(src.inputs_.begin() + b0 * S_, n * S_, inputs_.begin());
  std::copy_n(src.labels_.begin() + b0 * S_, n * S_, labels_.begin());
  std::copy_n(src.ids_.begin() + b0, n, ids_.begin());
  std::copy_n(src.steps_.begin() + b0, n, steps_.begin());
  std::copy_n(src.halted_.begin() + b0, n, halted_.begin());
}

}  // namespace trm
