// The ACT carry of the reference (docs/REFERENCE.md §3): per batch slot, the recurrent state (z_H, z_L), the
// supervision steps taken, whether the slot halted, and the example it is working on. A training
// step refills the halted slots with fresh examples, runs one supervision step on every slot,
// then decides which slots halt.
#pragma once
#include <cstdint>
#include <vector>

#include "trm/backend/backend.h"
#include "trm/model/model.h"

namespace trm {

namespace data {
class Rng;
}

// The learned halting signal for one slot's q = (q_halt, q_continue) logits: TRM halts when
// q_halt > 0 (no_ACT_continue); HRM when q_halt > q_continue (Q-learning, docs/REFERENCE.md §3.3).
inline bool halt_signal(const ModelConfig& c, const float* q) {
  return c.act_continue() ? q[0] > q[1] : q[0] > 0.0f;
}

// The recurrent state (z_H, z_L) of an inference or fixed-schedule batch (evaluation, ARC voting
// and test-time training, `trm solve`, bench): unlike ActCarry, every row restarts together. The
// two backend buffers are sized once for `max_batch` rows, so a loop over batches allocates
// nothing.
class InferenceCarry {
 public:
  InferenceCarry(TrmModel& model, int max_batch);

  int max_batch() const { return max_batch_; }
  // Rows [0, n) restart from H_init / L_init (TrmModel::reset_carry); n <= max_batch.
  void reset(int n);
  // One supervision step of `batch` (batch.size <= max_batch) without gradients.
  void forward(const Batch& batch);
  float* z_H() { return zH_.data(); }
  float* z_L() { return zL_.data(); }

 private:
  TrmModel& model_;
  int max_batch_;
  DeviceBuffer zH_, zL_;  // each [max_batch, L, D]
};

class ActCarry {
 public:
  ActCarry(TrmModel& model, int batch);

  int batch() const { return batch_; }
  // Slots that halted take the matching example of `fresh` (same batch size) and restart from
  // H_init / L_init with 0 steps; the others keep theirs and ignore `fresh` (as the reference).
  // A new carry has every slot halted.
  void refill(const Batch& fresh);
  // Slots [begin, begin + count) as a batch for the model, and their state buffers.
  Batch slots(int begin, int count) const;
  float* z_H(int begin = 0);
  float* z_L(int begin = 0);
  const float* z_H(int begin = 0) const;
  const float* z_L(int begin = 0) const;
  // After one supervision step of every slot: steps += 1; halt at halt_max_steps; in training
  // also halt on halt_signal() (TRM: q_halt > 0; HRM: q_halt > q_continue), unless exploration (prob p, redrawn each call) sets a minimum
  // number of steps in [2, halt_max_steps]. q is [batch, 2] on the host.
  // Data-parallel training (docs/DISTRIBUTED.md): this carry holds rows [rows_before,
  // rows_before + batch) of a global batch of rows_before + batch + rows_after; the exploration
  // draws of the other ranks' rows are made and discarded, so every rank's generator stays in
  // step with a single process's.
  void update_halting(const float* q, bool training, data::Rng& rng, int rows_before = 0, int rows_after = 0);
  // Rows [begin, begin + batch()) of `src` (a carry of the same model with more rows) replace
  // this carry's: state, slot data, steps and halting flags (resuming a shard of a saved carry).
  void copy_rows_from(const ActCarry& src, int begin);

  const std::vector<std::int32_t>& steps() const { return steps_; }
  const std::vector<std::uint8_t>& halted() const { return halted_; }
  // Host copies of the slot data (for checkpoints).
  std::vector<std::int32_t>& inputs() { return inputs_; }
  std::vector<std::int32_t>& labels() { return labels_; }
  std::vector<std::int32_t>& puzzle_ids() { return ids_; }
  std::vector<std::int32_t>& steps_mut() { return steps_; }
  std::vector<std::uint8_t>& halted_mut() { return halted_; }
  std::int64_t state_size() const { return state_.size() / 2; }  // floats in each of z_H, z_L

 private:
  TrmModel& model_;
  int batch_;
  int S_;
  std::int64_t per_slot_;  // L * D
  DeviceBuffer state_;     // z_H then z_L, each [batch, L, D]
  std::vector<std::int32_t> inputs_, labels_, ids_, steps_;
  std::vector<std::uint8_t> halted_;
};

}  // namespace trm
