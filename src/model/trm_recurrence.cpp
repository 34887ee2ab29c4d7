// TRM's recursion (docs/REFERENCE.md §2.5–2.6): one network of L_layers blocks for both states.
//   T-1 rounds without gradient:   n times z_L = net(z_L + z_H + x); then z_H = net(z_H + z_L)
//   1 differentiated round:        the same, every net call recorded in its own slots
#include "model/recurrence.h"

namespace trm::detail {

namespace {

class TrmRecurrence final : public Recurrence {
 public:
  explicit TrmRecurrence(Network& net) : net_(net), stack_{0, net.cfg.L_layers} {}

  // Training: call i < n (z_L updates) records into slots [i * L_layers, (i+1) * L_layers), call n
  // (z_H) after them. The no-grad rounds all run before the recorded one, so they reuse call 0's
  // slots; TRM has no bootstrap pass that would run after it.
  int slots(bool training) const override { return trm_recurrence_slots(net_.cfg, training); }

  void forward(const float* x, float* zH, float* zL, bool with_grad) override {
    const std::int64_t n = net_.state_size();
    const int n_l = net_.cfg.L_cycles;
    Slot* scratch = call_slots(0);
    const int nograd_rounds = with_grad ? net_.cfg.H_cycles - 1 : net_.cfg.H_cycles;
    for (int r = 0; r < nograd_rounds; ++r) {
      for (int i = 0; i < n_l; ++i) net_.be.copy(net_.stack_forward(stack_, zL, zH, x, scratch), zL, n);
      net_.be.copy(net_.stack_forward(stack_, zH, zL, nullptr, scratch), zH, n);
    }
    if (!with_grad) return;
    // The differentiated round reads its inputs straight from the previous call's slots.
    const float* zl = zL;
    for (int i = 0; i < n_l; ++i) zl = net_.stack_forward(stack_, zl, zH, x, call_slots(i));
    const float* zh = net_.stack_forward(stack_, zH, zl, nullptr, call_slots(n_l));
    net_.be.copy(zl, zL, n);
    net_.be.copy(zh, zH, n);
  }

  const float* final_zh() const override { return net_.slots[last_slot()].out; }

  void backward(float* dzh) override {
    const int n_l = net_.cfg.L_cycles;
    // z_H = net(z_H0 + z_L^n): z_H0 is a constant, so d z_L^n = d(input).
    float* d = net_.stack_backward(stack_, call_slots(n_l), dzh);
    // z_L^i = net(z_L^{i-1} + z_H0 + x): the input gradient goes to both x and z_L^{i-1}.
    for (int i = n_l - 1; i >= 0; --i) {
      d = net_.stack_backward(stack_, call_slots(i), d);
      net_.be.accumulate(net_.d_x, d, net_.state_size());
    }
  }

 private:
  Slot* call_slots(int call) { return &net_.slots[static_cast<std::size_t>(call) * stack_.count]; }
  std::size_t last_slot() const { return static_cast<std::size_t>(net_.cfg.L_cycles + 1) * stack_.count - 1; }

  Network& net_;
  const Stack stack_;
};

}  // namespace

int trm_recurrence_slots(const ModelConfig& cfg, bool training) {
  return (training ? cfg.L_cycles + 1 : 1) * cfg.L_layers;
}

std::unique_ptr<Recurrence> make_trm_recurrence(Network& net) { return std::make_unique<TrmRecurrence>(net); }

}  // namespace trm::detail
