// Analytic FLOP count of the TRM forward/backward (see include/trm/bench/bench.h).
#include "trm/bench/bench.h"

namespace trm {

namespace {
// One block applied to one sample.
double block_flops(const ModelConfig& c) {
  const double L = c.total_len(), D = c.hidden_size, I = c.mlp_inter();
  double per_layer = 2 * L * D * (2 * I) + 2 * L * I * D;  // channel SwiGLU
  if (c.mlp_t) {
    const double It = c.mlp_t_inter();
    per_layer += 2 * D * L * (2 * It) + 2 * D * It * L;    // sequence SwiGLU, shared over channels
  } else {
    per_layer += 2 * L * D * (3 * D) + 2 * L * D * D;      // qkv and o projections
    per_layer += 2 * (2 * L * L * D);                      // Q K^T and P V over all heads
  }
  return per_layer;
}
}  // namespace

double flops_per_sample_step(const ModelConfig& c, bool training) {
  const double heads = 2.0 * c.seq_len * c.hidden_size * c.vocab_size + 2.0 * c.hidden_size * 2;
  const double blk = block_flops(c);
  if (c.arch == Arch::kHrm) {
    // HRM: H_cycles x (L_cycles calls of the L net + 1 call of the H net); the one-step gradient
    // differentiates one L call and one H call; training adds one more no-grad step (the
    // Q-continue target's forward).
    const double l_call = blk * c.L_layers, h_call = blk * c.H_layers;
    const double forward = c.H_cycles * (c.L_cycles * l_call + h_call) + heads;
    if (!training) return forward;
    return 2 * forward + 2 * (l_call + h_call + heads);
  }
  const double net_call = blk * c.L_layers;
  const double calls_per_round = c.L_cycles + 1;
  const double forward = c.H_cycles * calls_per_round * net_call + heads;
  if (!training) return forward;
  return forward + 2 * (calls_per_round * net_call + heads);
}

}  // namespace trm
