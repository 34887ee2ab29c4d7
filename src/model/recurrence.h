// The internal interface between TrmModel and the recursive architectures it runs. Private to
// src/model/. TrmModel does everything around the recursion (parameters, reserve, the input
// embedding, the heads, the loss, train_step); a Recurrence does the recursion itself: which stack
// of blocks (src/model/network.h) runs on which sum of states, how often, which calls are
// differentiated, and their backward.
//
// One file per architecture: trm_recurrence.cpp (docs/REFERENCE.md §2.5–2.6), hrm_recurrence.cpp
// (the HRM baseline). A new architecture is a new file implementing Recurrence with a make_*
// factory declared below, plus its case in make_recurrence() (trm_model.cpp).
#pragma once
#include <memory>

#include "model/network.h"

namespace trm::detail {

class Recurrence {
 public:
  virtual ~Recurrence() = default;

  // Activation slots TrmModel::reserve() carves into net.slots: with `training`, room for the
  // recorded calls plus whatever the no-grad calls use; without, only the latter. The layout is
  // the recurrence's own; with net.training the no-grad calls of TrmModel::next_q() must not
  // overwrite the recorded ones when the architecture bootstraps q_continue.
  virtual int slots(bool training) const = 0;

  // One supervision step's recursion from the carry (zH, zL), updated in place ([B, L, D] each,
  // B = net.batch), with the input embedding x. with_grad records the differentiated calls in
  // their slots for backward(); without, nothing backward() needs may be touched except by a
  // forward that records anew.
  virtual void forward(const float* x, float* zH, float* zL, bool with_grad) = 0;

  // The final z_H of the recorded forward (inside net.slots): what the heads read.
  virtual const float* final_zh() const = 0;

  // From d(final z_H) in dzh (clobbered) back through the recorded calls: ADDS the blocks'
  // parameter gradients and the input-embedding gradient into net.d_x.
  virtual void backward(float* dzh) = 0;
};

std::unique_ptr<Recurrence> make_trm_recurrence(Network& net);
std::unique_ptr<Recurrence> make_hrm_recurrence(Network& net);
// What each one's slots(training) returns, without building it (the memory estimate).
int trm_recurrence_slots(const ModelConfig& cfg, bool training);
int hrm_recurrence_slots(const ModelConfig& cfg, bool training);

}  // namespace trm::detail
