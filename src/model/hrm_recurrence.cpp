// The HRM baseline's recursion (sapientinc/HRM, models/hrm/hrm_act_v1.py) and its Q-learning
// target (docs/REFERENCE.md §3.3). Two stacks with separate weights: L (blocks [0, L_layers),
// L_level.*) and H (blocks [L_layers, L_layers + H_layers), H_level.*).
//   H_cycles x L_cycles steps; step (h, l): z_L = L(z_L + z_H + x); after each h: z_H = H(z_H + z_L)
// All calls but the LAST L call and the LAST H call run without gradient (the one-step gradient).
#include <algorithm>
#include <cmath>

#include "model/recurrence.h"
#include "trm/model/model.h"

namespace trm {

void q_continue_targets(const float* next_q, const std::int32_t* steps_before, int n, int halt_max_steps,
                        double* target) {
  for (int b = 0; b < n; ++b) {
    const double qh = next_q[2 * b], qc = next_q[2 * b + 1];
    const double logit = steps_before[b] + 1 >= halt_max_steps ? qh : std::max(qh, qc);
    target[b] = 1.0 / (1.0 + std::exp(-logit));
  }
}

namespace detail {

namespace {

class HrmRecurrence final : public Recurrence {
 public:
  explicit HrmRecurrence(Network& net)
      : net_(net), l_{0, net.cfg.L_layers}, h_{net.cfg.L_layers, net.cfg.H_layers} {}

  // Training: slots [0, L_layers) record the last L call and [L_layers, +H_layers) the last H
  // call; every no-grad call (the earlier ones and TrmModel::next_q's bootstrap pass, which runs
  // after the recorded forward and before backward) runs in the slots after those.
  int slots(bool training) const override { return hrm_recurrence_slots(net_.cfg, training); }

  void forward(const float* x, float* zH, float* zL, bool with_grad) override {
    const std::int64_t n = net_.state_size();
    Slot* scratch = &net_.slots[static_cast<std::size_t>(scratch_slot(net_.training))];
    const int T = net_.cfg.H_cycles, n_l = net_.cfg.L_cycles;
    for (int h = 0; h < T; ++h) {
      const bool last_h = h == T - 1;
      for (int l = 0; l < n_l; ++l) {
        if (with_grad && last_h && l == n_l - 1) break;  // the differentiated L call comes below
        net_.be.copy(net_.stack_forward(l_, zL, zH, x, scratch), zL, n);
      }
      if (with_grad && last_h) break;
      net_.be.copy(net_.stack_forward(h_, zH, zL, nullptr, scratch), zH, n);
    }
    if (!with_grad) return;
    // The one-step gradient: z_L = L(z_L + z_H + x), then z_H = H(z_H + z_L), recorded.
    const float* zl = net_.stack_forward(l_, zL, zH, x, l_slots());
    const float* zh = net_.stack_forward(h_, zH, zl, nullptr, h_slots());
    net_.be.copy(zl, zL, n);
    net_.be.copy(zh, zH, n);
  }

  const float* final_zh() const override {
    return net_.slots[static_cast<std::size_t>(l_.count + h_.count - 1)].out;
  }

  void backward(float* dzh) override {
    // z_H = H(z_H0 + z_L'): z_H0 came from no-grad calls, so only z_L' = L(z_L0 + z_H0 + x)
    // receives d(input); of that input only x depends on parameters.
    float* dzl = net_.stack_backward(h_, h_slots(), dzh);
    float* dx = net_.stack_backward(l_, l_slots(), dzl);
    net_.be.accumulate(net_.d_x, dx, net_.state_size());
  }

 private:
  int scratch_slot(bool training) const { return training ? l_.count + h_.count : 0; }
  Slot* l_slots() { return net_.slots.data(); }
  Slot* h_slots() { return &net_.slots[static_cast<std::size_t>(l_.count)]; }

  Network& net_;
  const Stack l_, h_;
};

}  // namespace

int hrm_recurrence_slots(const ModelConfig& cfg, bool training) {
  // scratch_slot(training) + the larger level: the no-grad calls run after the recorded ones.
  return (training ? cfg.L_layers + cfg.H_layers : 0) + std::max(cfg.L_layers, cfg.H_layers);
}

std::unique_ptr<Recurrence> make_hrm_recurrence(Network& net) { return std::make_unique<HrmRecurrence>(net); }

}  // namespace detail
}  // namespace trm
